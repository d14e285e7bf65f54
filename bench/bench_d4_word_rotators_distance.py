"""D4 benchmark: WMD / WRD over all STS-B test pairs (ours vs gensim vs a POT loop) and top-k search.

Static token vectors: the input word-embedding table of the bundled all-MiniLM-L6-v2 (the A7
encoder), WordPiece tokens of each sentence with [CLS]/[SEP] dropped, in float64.

* Pairs (all 1,379 STS-B test pairs): ours = ``word_mover_distance(normalize=True)`` (gensim's
  ``norm=True``: unit vectors, bag-of-words masses) and ``word_rotator_distance`` on length-sorted
  padded batches of 256 pairs; anchors = gensim's ``KeyedVectors.wmdistance`` loop (same vectors,
  ``norm=True``) and a POT loop (``scipy.spatial.distance.cdist`` + ``ot.emd2`` per pair) for WMD and
  WRD. Values must agree (max |diff| printed).
* Search (5,000 STS-B train sentences, 20 held-out test queries, k = 10): WRD top-k by
  ``TransportSearch`` with prefetch-and-prune against its brute force; same top-k checked, queries
  per second and the % of the corpus pruned.

Parallelism: one thread everywhere (torch, BLAS, POT's network simplex is single-threaded; gensim's
wmdistance is a Python loop). Contenders run in alternating rounds (``bench._common``); ratios
are medians with min-max spread.

Run: ``.venv/bin/python -m bench.bench_d4_word_rotators_distance``; ``KEXUE_BENCH_TINY=1`` (or
``--tiny``) runs a tiny size in seconds and writes nothing.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/torch load their BLAS
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import statistics
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import ot
import torch
from scipy.spatial.distance import cdist

from bench._common import alternating_times, ratio, write_result
from kexue.data import load_stsb
from kexue.geometry.transport import word_mover_distance, word_rotator_distance
from kexue.geometry.transport_search import TransportSearch
from kexue.transformer.pretrained import BertTokenizer, load_pretrained

TINY = os.environ.get("KEXUE_BENCH_TINY") == "1" or "--tiny" in sys.argv[1:]
N_PAIRS = 40 if TINY else None
N_CORPUS, N_QUERIES, K = (300, 3, 5) if TINY else (5000, 20, 10)
ROUNDS, REPEAT = (2, 1) if TINY else (3, 1)


def tokens_and_vectors(texts: list[str]) -> tuple[list[list[str]], list[torch.Tensor], Any]:
    """WordPiece tokens (no [CLS]/[SEP]) and their static MiniLM vectors, float64."""
    tok, model = BertTokenizer(), load_pretrained()
    table = model.embeddings.word_embeddings.weight.detach().double()
    enc = tok.tokenizer.encode_batch(texts)
    words = [e.tokens[1:-1] for e in enc]
    vecs = [table[torch.tensor(e.ids[1:-1], dtype=torch.long)] for e in enc]
    return words, vecs, (tok, table)


def keyed_vectors(words: list[list[str]], vecs: list[torch.Tensor]) -> Any:
    from gensim.models import KeyedVectors

    vocab: dict[str, np.ndarray] = {}
    for ws, vs in zip(words, vecs, strict=True):
        for w, v in zip(ws, vs, strict=True):
            vocab.setdefault(w, v.numpy())
    kv = KeyedVectors(vector_size=next(iter(vocab.values())).shape[0])
    kv.add_vectors(list(vocab), np.stack(list(vocab.values())))
    return kv


def buckets(a: list[torch.Tensor], b: list[torch.Tensor], size: int = 256) -> list[tuple[Any, ...]]:
    order = sorted(range(len(a)), key=lambda i: max(len(a[i]), len(b[i])))
    out = []
    for s in range(0, len(order), size):
        idx = order[s : s + size]
        x = torch.nn.utils.rnn.pad_sequence([a[i] for i in idx], batch_first=True)
        y = torch.nn.utils.rnn.pad_sequence([b[i] for i in idx], batch_first=True)
        xm = torch.arange(x.shape[1])[None] < torch.tensor([len(a[i]) for i in idx])[:, None]
        ym = torch.arange(y.shape[1])[None] < torch.tensor([len(b[i]) for i in idx])[:, None]
        out.append((torch.tensor(idx), x, y, xm, ym))
    return out


def ours(
    batches: list[tuple[Any, ...]], n: int, fn: Callable[..., torch.Tensor], **kw: Any
) -> np.ndarray:
    out = torch.empty(n, dtype=torch.float64)
    for idx, x, y, xm, ym in batches:
        out[idx] = fn(x, y, xm, ym, **kw)
    return out.numpy()


def pot_loop(a: list[np.ndarray], b: list[np.ndarray], wrd: bool) -> np.ndarray:
    out = np.empty(len(a))
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        nx, ny = np.linalg.norm(x, axis=1), np.linalg.norm(y, axis=1)
        if wrd:
            p, q, c = nx / nx.sum(), ny / ny.sum(), cdist(x, y, "cosine")
        else:
            ux, uy = x / nx[:, None], y / ny[:, None]
            p, q, c = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y)), cdist(ux, uy)
        out[i] = ot.emd2(p, q, c)
    return out


def gensim_loop(kv: Any, a: list[list[str]], b: list[list[str]]) -> np.ndarray:
    return np.array([kv.wmdistance(x, y) for x, y in zip(a, b, strict=True)])


def pairs_rows() -> tuple[list[list[Any]], list[str]]:
    test = load_stsb("test")
    s1, s2 = list(test.sentence1), list(test.sentence2)
    if N_PAIRS is not None:
        s1, s2 = s1[:N_PAIRS], s2[:N_PAIRS]
    n = len(s1)
    words, vecs, _ = tokens_and_vectors(s1 + s2)
    batches = buckets(vecs[:n], vecs[n:])
    na, nb = [v.numpy() for v in vecs[:n]], [v.numpy() for v in vecs[n:]]
    fns: dict[str, Callable[[], Any]] = {
        "ours WMD": lambda: ours(batches, n, word_mover_distance, normalize=True),
        "ours WRD": lambda: ours(batches, n, word_rotator_distance),
        "POT loop WMD": lambda: pot_loop(na, nb, wrd=False),
        "POT loop WRD": lambda: pot_loop(na, nb, wrd=True),
    }
    try:
        kv = keyed_vectors(words, vecs)
        fns["gensim WMD"] = lambda: gensim_loop(kv, words[:n], words[n:])
    except ImportError:
        kv = None
    with torch.inference_mode():
        t = alternating_times(fns, rounds=ROUNDS, repeat=REPEAT)
        values = {name: fn() for name, fn in fns.items()}
    rows, notes = [], []
    for name in fns:
        if name.startswith("ours"):
            continue
        mine = "ours " + name.split()[-1]
        r = ratio(t[name], t[mine])
        err = float(np.max(np.abs(values[name] - values[mine])))
        rows.append(
            [
                f"{name} vs {mine}",
                n,
                statistics.median(t[mine]),
                statistics.median(t[name]),
                str(r),
                f"{err:.1e}",
            ]
        )
        notes.append(f"{mine} {r} faster than {name} (min-max over rounds), max |diff| {err:.1e}")
    if kv is None:
        notes.append("gensim not installed: its row is skipped")
    return rows, notes


def search_rows() -> tuple[list[list[Any]], str]:
    train, test = load_stsb("train"), load_stsb("test")
    corpus_texts = list(dict.fromkeys(train.sentence1 + train.sentence2))[:N_CORPUS]
    queries = list(test.sentence1[:: max(1, len(test.sentence1) // N_QUERIES)])[:N_QUERIES]
    _, vecs, _ = tokens_and_vectors(corpus_texts + queries)
    index = TransportSearch(vecs[: len(corpus_texts)], distance="wrd")
    qs = vecs[len(corpus_texts) :]
    hits = [index.search(q, K) for q in qs]
    same = all(
        h.indices.tolist() == index.search(q, K, prune=False).indices.tolist()
        for h, q in zip(hits, qs, strict=True)
    )
    pruned = statistics.mean(h.pruned_fraction for h in hits)
    t = alternating_times(
        {
            "pruned": lambda: [index.search(q, K) for q in qs],
            "brute": lambda: [index.search(q, K, prune=False) for q in qs],
        },
        rounds=ROUNDS,
        repeat=1,
        warmup=0,
    )
    r = ratio(t["brute"], t["pruned"])
    qps, qps_brute = (
        len(qs) / statistics.median(t["pruned"]),
        len(qs) / statistics.median(t["brute"]),
    )
    row = [
        f"WRD top-{K} search, {len(corpus_texts)} sentences",
        len(qs),
        1 / qps,
        1 / qps_brute,
        str(r),
        f"same top-k: {same}",
    ]
    note = (
        f"search: {qps:.1f} queries/s pruned vs {qps_brute:.1f} brute force ({r}, min-max), "
        f"{100 * pruned:.1f}% of the corpus pruned, same top-k as brute force: {same}"
    )
    return [row], note


def main() -> None:
    torch.set_num_threads(1)
    rows, notes = pairs_rows()
    srows, snote = search_rows()
    columns = [
        "comparison",
        "pairs / queries",
        "ours s",
        "anchor s",
        "speed-up (min-max)",
        "max |diff| / check",
    ]
    headline = "; ".join([*notes, snote]) + "; one thread everywhere"
    if TINY:
        print(" | ".join(columns))
        for row in rows + srows:
            print(" | ".join(str(v) for v in row))
        print(headline)
        return
    write_result(
        "D4",
        "WMD / WRD over STS-B test pairs and top-k WRD search (MiniLM static vectors)",
        columns,
        rows + srows,
        headline,
        "python -m bench.bench_d4_word_rotators_distance",
    )


if __name__ == "__main__":
    main()
