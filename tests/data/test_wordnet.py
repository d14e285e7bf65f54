"""WordNet lemma -> lexicographer-file multi-label loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from kexue.data import DataNotFoundError
from kexue.data.wordnet import LEXNAMES, load_wordnet_lexnames

HEADER = "  1 This software and database is being provided to you, the LICENSEE, by\n"


def _write(root: Path) -> None:
    (root / "data.noun").write_text(
        HEADER
        + '00000001 05 n 02 bank 0 Bass 0 000 | a sloping land; "he sat on the bank"\n'
        + "00000002 06 n 01 bank 1 000 | a financial institution\n"
        + "00000003 18 n 01 teller 0 000 | someone who counts\n"
    )
    (root / "data.verb").write_text(HEADER + "00000004 40 v 01 bank 0 000 | do business with\n")
    (root / "data.adj").write_text(HEADER + "00000005 00 s 01 bass(a) 0 000 | low in pitch\n")
    (root / "data.adv").write_text(HEADER)


def test_parses_labels_glosses_and_markers(tmp_path: Path) -> None:
    _write(tmp_path)
    ds = load_wordnet_lexnames(tmp_path, min_senses=1)
    assert ds.lemmas == ("bank", "bass", "teller")
    assert ds.labels.shape == (3, 45)
    assert [LEXNAMES[i] for i in ds.labels[0].nonzero()[0]] == [
        "noun.animal",
        "noun.artifact",
        "verb.possession",
    ]
    assert [LEXNAMES[i] for i in ds.labels[1].nonzero()[0]] == ["adj.all", "noun.animal"]
    assert "financial institution" in ds.glosses[0] and ds.glosses[0].count(" ; ") == 2
    polysemous = load_wordnet_lexnames(tmp_path, min_senses=2)
    assert polysemous.lemmas == ("bank", "bass")


def test_missing_files_and_bad_argument(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="wordnet-base"):
        load_wordnet_lexnames(tmp_path)
    with pytest.raises(ValueError, match="min_senses"):
        load_wordnet_lexnames(tmp_path, min_senses=0)


@pytest.mark.skipif(not Path("/usr/share/wordnet/data.noun").exists(), reason="no wordnet-base")
def test_real_wordnet() -> None:
    ds = load_wordnet_lexnames()
    assert len(ds.lemmas) > 20_000 and ds.labels.shape[1] == 45
    assert ds.labels.any(1).all() and ds.labels.sum(1).mean() > 1.5
    assert ds.labels.any(0).sum() == 45  # every lexicographer file is used
