"""Top-k WMD / WRD search: pruned result = brute force, pruning happens, bad input."""

from __future__ import annotations

import pytest
import torch

from kexue.geometry.transport import word_mover_distance, word_rotator_distance
from kexue.geometry.transport_search import TransportSearch

pytest.importorskip("ot")
F64 = torch.float64


def _corpus(seed: int, n_docs: int, d: int = 6, clusters: int = 8) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centres = 2 * torch.randn(clusters, d, dtype=F64, generator=g)
    docs = []
    for i in range(n_docs):
        n = int(torch.randint(1, 9, (1,), generator=g))
        scale = torch.rand(n, 1, dtype=F64, generator=g) + 0.2
        docs.append(scale * (centres[i % clusters] + torch.randn(n, d, dtype=F64, generator=g)))
    return docs


@pytest.mark.parametrize("distance", ["wrd", "wmd"])
@pytest.mark.parametrize("seed", [0, 1])
def test_pruned_search_equals_brute_force(distance: str, seed: int) -> None:
    docs = _corpus(seed, 600)
    index = TransportSearch(docs, distance=distance, chunk=32)  # type: ignore[arg-type]
    g = torch.Generator().manual_seed(100 + seed)
    for q_id in (5, 77, 301):
        query = docs[q_id] + 0.5 * torch.randn(docs[q_id].shape, dtype=F64, generator=g)
        brute = index.search(query, len(docs), prune=False)  # its first k = the top k
        assert brute.n_exact == len(docs) and brute.pruned_fraction == 0
        for k in (1, 7, 40):
            pruned = index.search(query, k)
            assert pruned.indices.tolist() == brute.indices[:k].tolist()
            torch.testing.assert_close(pruned.distances, brute.distances[:k], rtol=0, atol=1e-12)
            assert 0 < pruned.pruned_fraction < 1 and pruned.n_exact >= k


def test_brute_force_distances_are_the_transport_distances() -> None:
    docs = _corpus(3, 50)
    query = docs[0][:3] * 1.5
    for distance, fn in (("wrd", word_rotator_distance), ("wmd", word_mover_distance)):
        hit = TransportSearch(docs, distance=distance).search(query, 50, prune=False)  # type: ignore[arg-type]
        expected = torch.stack([fn(query, docs[i]) for i in hit.indices.tolist()])
        torch.testing.assert_close(hit.distances, expected, rtol=0, atol=1e-12)
        assert bool((hit.distances[1:] >= hit.distances[:-1]).all())


def test_ties_break_by_corpus_index() -> None:
    base = torch.randn(4, 5, dtype=F64, generator=torch.Generator().manual_seed(4))
    docs = [base * s for s in (1.0, 2.0, 3.0)] + [torch.randn(3, 5, dtype=F64) for _ in range(20)]
    hit = TransportSearch(docs, distance="wrd").search(base, 3)  # WRD is scale invariant
    assert hit.indices.tolist() == [0, 1, 2]
    assert float(hit.distances.max()) < 1e-12


def test_padded_corpus_with_mask_and_idf_weights() -> None:
    docs = _corpus(5, 120)
    padded = torch.nn.utils.rnn.pad_sequence(docs, batch_first=True)
    mask = torch.arange(padded.shape[1])[None] < torch.tensor([len(d) for d in docs])[:, None]
    weights = torch.rand(mask.shape, dtype=F64, generator=torch.Generator().manual_seed(6)) + 0.1
    index = TransportSearch(padded, mask, distance="wmd", corpus_weights=weights)
    query = docs[9]
    qw = torch.ones(len(query), dtype=F64)
    a = index.search(query, 5, query_weights=qw)
    b = index.search(query, 5, query_weights=qw, prune=False)
    assert a.indices.tolist() == b.indices.tolist()


def test_bad_input() -> None:
    docs = _corpus(7, 10)
    index = TransportSearch(docs)
    with pytest.raises(ValueError, match="k must be in 1..10"):
        index.search(docs[0], 11)
    with pytest.raises(ValueError, match="k"):
        index.search(docs[0], 0)
    with pytest.raises(TypeError, match="k"):
        index.search(docs[0], 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="query"):
        index.search(torch.zeros(0, 6, dtype=F64), 1)
    with pytest.raises(ValueError, match="query"):
        index.search(torch.ones(2, 5, dtype=F64), 1)
    with pytest.raises(ValueError, match="query"):
        index.search(torch.full((2, 6), float("nan"), dtype=F64), 1)
    with pytest.raises(ValueError, match="corpus"):
        TransportSearch([])
    with pytest.raises(ValueError, match=r"corpus\[1\]"):
        TransportSearch([docs[0], torch.zeros(0, 6, dtype=F64)])
    with pytest.raises(ValueError, match="corpus"):
        TransportSearch([docs[0], torch.full((2, 6), float("nan"), dtype=F64)])
    with pytest.raises(ValueError, match="corpus_mask"):
        TransportSearch(torch.ones(3, 4, 6, dtype=F64), torch.ones(3, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="distance"):
        TransportSearch(docs, distance="cosine")  # type: ignore[arg-type]
