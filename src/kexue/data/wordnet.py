"""WordNet 3.0 as a real multi-label set: lemma -> the lexicographer files of its senses.

Every synset in WordNet sits in one of 45 lexicographer files (``noun.animal``, ``verb.motion``,
``adj.all``, ...). A lemma with several senses therefore carries a *set* of these 45 labels
(long-tailed: ``noun.artifact`` is common, ``verb.weather`` rare). The inputs are the lemma itself
and the glosses of all its senses. Read from the Debian package ``wordnet-base``
(``/usr/share/wordnet/data.{noun,verb,adj,adv}``); nothing is downloaded.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kexue.data.locate import debian_file

__all__ = ["LEXNAMES", "WORDNET_DIR", "WordNetLexnames", "load_wordnet_lexnames"]

WORDNET_DIR = "/usr/share/wordnet"

#: The 45 lexicographer files of WordNet 3.0, indexed by their ``lex_filenum``.
LEXNAMES: tuple[str, ...] = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather",
    "adj.ppl",
)  # fmt: skip


@dataclass(frozen=True)
class WordNetLexnames:
    """The lemma -> lexicographer-file multi-label set.

    Attributes:
        lemmas: lower-cased lemmas (``_`` joins multi-word lemmas), sorted.
        glosses: for each lemma, the glosses of all its senses joined by ``" ; "``.
        labels: bool multi-hot matrix of shape ``(len(lemmas), 45)``.
        names: the 45 label names (:data:`LEXNAMES`).
    """

    lemmas: tuple[str, ...]
    glosses: tuple[str, ...]
    labels: np.ndarray
    names: tuple[str, ...] = LEXNAMES


def _lemma(word: str) -> str:
    word = word.lower()
    if word.endswith(")") and "(" in word:  # adjective markers: "(a)", "(p)", "(ip)"
        word = word[: word.index("(")]
    return word


def load_wordnet_lexnames(
    root: str | Path | None = None, *, min_senses: int = 2
) -> WordNetLexnames:
    """Build the multi-label set from the WordNet ``data.*`` files.

    Args:
        root: folder holding ``data.noun``, ``data.verb``, ``data.adj``, ``data.adv``
            (default: the Debian ``wordnet-base`` location ``/usr/share/wordnet``).
        min_senses: keep lemmas with at least this many senses (2 keeps the polysemous ones,
            26,876 lemmas with 2.1 labels on average).

    Returns:
        The data set, lemmas sorted alphabetically.

    Raises:
        DataNotFoundError: when the files are missing (install ``wordnet-base``).
        ValueError: ``min_senses < 1``.
    """
    if min_senses < 1:
        raise ValueError(f"min_senses must be >= 1, got {min_senses}")
    base = Path(root) if root is not None else debian_file(WORDNET_DIR, "wordnet-base")
    labels: dict[str, set[int]] = defaultdict(set)
    glosses: dict[str, list[str]] = defaultdict(list)
    senses: dict[str, int] = defaultdict(int)
    for pos in ("noun", "verb", "adj", "adv"):
        path = debian_file(str(base / f"data.{pos}"), "wordnet-base")
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("  "):  # licence header
                    continue
                head, _, gloss = line.partition(" | ")
                fields = head.split()
                lex, n_words = int(fields[1]), int(fields[3], 16)
                for word in fields[4 : 4 + 2 * n_words : 2]:
                    lemma = _lemma(word)
                    labels[lemma].add(lex)
                    glosses[lemma].append(gloss.strip())
                    senses[lemma] += 1
    kept = sorted(w for w in labels if senses[w] >= min_senses)
    y = np.zeros((len(kept), len(LEXNAMES)), dtype=bool)
    for i, w in enumerate(kept):
        y[i, sorted(labels[w])] = True
    return WordNetLexnames(tuple(kept), tuple(" ; ".join(glosses[w]) for w in kept), y)
