"""A checkpoint ready for inference: loaded (RandomMask or DNABERT folder), on its device, in its dtype.

The window size a checkpoint is read with is ``pipeline_randommask.resolve_window`` (it travels with checkpoints, so
the pipeline and this package agree)."""

from __future__ import annotations

import os
from typing import Literal

import torch

from tokenization import KmerTokenizer

from ..hub.checkpoint import load_masked_lm
from ..modeling_randommask import RandomMaskForMaskedLM

DType = Literal["float32", "bfloat16", "float16"]


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"``: CUDA when present, else CPU; anything else as torch reads it (``"cpu"``, ``"cuda:1"``, ...)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else torch.device(device)


def load_model(path: str | os.PathLike, device: str = "auto", dtype: DType = "float32"
               ) -> tuple[RandomMaskForMaskedLM, KmerTokenizer]:
    """The masked-LM checkpoint in ``path`` (DNABERT folders are converted) in eval mode on ``device`` in ``dtype``,
    and its k-mer tokenizer."""
    model, tokenizer = load_masked_lm(path)
    return model.to(device=resolve_device(device), dtype=getattr(torch, dtype)), tokenizer
