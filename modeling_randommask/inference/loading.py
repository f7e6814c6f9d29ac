"""A checkpoint ready for inference: loaded (RandomMask or DNABERT folder), on its device, in its dtype.

The window size a checkpoint is read with is ``pipeline_randommask.resolve_window`` (it travels with checkpoints, so
the pipeline and this package agree)."""

from __future__ import annotations

import os
from typing import Literal

import torch

from ..data.options import OptionError
from ..hub.checkpoint import load_masked_lm
from ..modeling_randommask import RandomMaskForMaskedLM
from ..pipeline_randommask import resolve_window
from ..tokenization import KmerTokenizer

DType = Literal["float32", "bfloat16", "float16"]


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"``: CUDA when present, else CPU; anything else as torch reads it (``"cpu"``, ``"cuda:1"``, ...). A
    name torch does not know, or CUDA on a machine without it, is a ``ValueError`` naming ``--device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise OptionError(f"--device {device!r} is not a device: give auto, cpu, cuda, cuda:1, ...") from None
    if resolved.type == "cuda" and not (torch.cuda.is_available() and (resolved.index or 0) < torch.cuda.device_count()):
        raise OptionError(f"--device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return resolved


def load_model(path: str | os.PathLike, device: str = "auto", dtype: DType = "float32", head: bool = True
               ) -> tuple[RandomMaskForMaskedLM, KmerTokenizer]:
    """The masked-LM checkpoint in ``path`` (DNABERT folders are converted) in eval mode on ``device`` in ``dtype``,
    and its k-mer tokenizer. ``head=False``: only the encoder will be used (embeddings), so a fine-tuned classifier's
    folder is accepted; otherwise a folder without a trained masked-LM head is refused."""
    model, tokenizer = load_masked_lm(path, head)
    return model.to(device=resolve_device(device), dtype=getattr(torch, dtype)), tokenizer


def checked_window(model, tokenizer: KmerTokenizer, window_tokens: int | None) -> tuple[int, int]:
    """``resolve_window`` (tokens and bases per window), a window the model cannot read being an ``OptionError``
    of ``--window_tokens``."""
    try:
        return resolve_window(model, tokenizer, window_tokens)
    except ValueError as error:
        raise OptionError(f"--{error}") from None
