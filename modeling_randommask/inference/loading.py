"""A checkpoint ready for inference: loaded (RandomMask or DNABERT folder), on its device, in its dtype.

The window size a checkpoint is read with is ``pipeline_randommask.resolve_window`` (it travels with checkpoints, so
the pipeline and this package agree)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch

from ..data.options import OptionError, check_ranges
from ..hub.checkpoint import load_masked_lm
from ..modeling_randommask import RandomMaskForMaskedLM
from ..pipeline_randommask import DEFAULT_BATCH_TOKENS, resolve_window
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


@dataclass(kw_only=True)
class InferenceOptions:
    """The options of every command that runs a checkpoint over DNA (embed, score_variants): which model, on what,
    in what windows and batches, and whether an output may be replaced. Keyword-only, so that a command's own
    required options keep their positions."""

    RENAMED_OPTIONS: ClassVar[dict[str, str]] = {"--reverse_complement": "--average_strands"}  # docs/commands.md

    model: str = field(metadata={"help": "checkpoint folder (RandomMask, or DNABERT to convert)"})
    average_strands: bool = field(default=False, metadata={
        "help": "also run the reverse-complement strand and average the two (twice the forward passes)"})
    window_tokens: int | None = field(default=None, metadata={
        "help": "tokens per window, [CLS] and [SEP] included (default: the checkpoint's pretraining window, else "
                "max_position_embeddings)"})
    batch_tokens: int = field(default=DEFAULT_BATCH_TOKENS, metadata={
        "help": "tokens per forward pass, padding included: what bounds the memory a batch takes"})
    device: str = field(default="auto", metadata={"help": "auto (CUDA when present), cpu, cuda, cuda:1, ..."})
    dtype: DType = field(default="float32", metadata={"help": "model dtype (what is written is float32)"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing --output"})

    def __post_init__(self) -> None:
        """What can be checked without the model or the data: a usage error before anything runs."""
        check_ranges(self, positive=("window_tokens", "batch_tokens"))
        resolve_device(self.device)
