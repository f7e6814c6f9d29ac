"""Sequences of any length as model-sized windows, and token states mapped back to bases.

Tiling. A sequence longer than a window is cut into windows of ``window_bases`` bases that overlap by at least
``overlap`` bases; windows start on multiples of the k-mer stride (so non-overlapping k-mers keep one reading frame)
and the last window ends at the sequence's end. Every base is *owned* by exactly one window: consecutive windows
split their overlap at its midpoint, so an owned base sits at least half the overlap from its window's inner
edges, where the model saw context on both sides. With ``overlap >= 2 * (k - 1)`` every k-mer holding an owned
base lies in the owning window, so per-base states are stitched without a seam. A sequence that fits one window is
one window; with stride > 1 and bases after its last complete k-mer, a second window ending at the sequence's end
covers them.

Token -> base. Base ``b`` of a window is held by the k-mers ``t`` with ``t * stride <= b < t * stride + k``: k of
them for overlapping k-mers (fewer within k - 1 bases of the window's ends), one for non-overlapping ones. Its
state is the mean of their states.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.options import OptionError
from ..tokenization.kmer_vocab import kmer_span, num_kmer_tokens
from .sequences import SequenceError


@dataclass
class Tiling:
    """Windows over records of ``lengths`` bases, in record order: window ``i`` covers bases ``[start, start +
    length)`` of record ``record`` and owns ``[own_start, own_end)`` of them (int64 arrays, record coordinates)."""

    record: np.ndarray
    start: np.ndarray
    length: np.ndarray
    own_start: np.ndarray
    own_end: np.ndarray

    def __len__(self) -> int:
        return self.record.size


def default_overlap(window_bases: int, k: int) -> int:
    """A quarter of the window, and never under ``2 * (k - 1)`` (the seamless-stitching bound)."""
    return max(2 * (k - 1), window_bases // 4)


def tile(lengths: np.ndarray, window_bases: int, overlap: int, k: int, stride: int) -> Tiling:
    """The windows of records of ``lengths`` bases (every record must hold a k-mer), vectorised over records."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size and int(lengths.min()) < k:
        raise SequenceError(f"a record of {int(lengths.min())} bases holds no {k}-mer")
    step = (window_bases - overlap) // stride * stride
    if overlap < 0 or step < stride:
        raise OptionError(f"--overlap must be in 0..{window_bases - stride} bases for windows of {window_bases} bases "
                         f"and k-mer stride {stride}, got {overlap}")
    width = kmer_span(num_kmer_tokens(np.minimum(lengths, window_bases), k, stride), k, stride)  # longest tokenizable
    extra = lengths - width
    count = np.where(extra > 0, -(-extra // step) + 1, 1)
    record = np.repeat(np.arange(lengths.size), count)
    first = np.cumsum(count) - count
    index = np.arange(record.size) - first[record]
    start = np.minimum(index * step, extra[record])
    length = width[record]
    end = start + length
    is_first = index == 0
    own_start = np.where(is_first, 0, (start + np.roll(end, 1)) // 2)
    own_end = np.where(index == count[record] - 1, lengths[record], np.roll(own_start, -1))
    return Tiling(record, start, length, own_start, own_end)


def per_base_states(token_states: torch.Tensor, num_tokens: torch.Tensor, num_bases: int, k: int, stride: int
                    ) -> torch.Tensor:
    """``[B, num_bases, D]``: each base's state, the mean of the states of the k-mers holding it (zero where none
    does), from ``token_states`` ``[B, T, D]`` (k-mer tokens only, row ``i`` valid up to ``num_tokens[i]``)."""
    batch, _, dim = token_states.shape
    bases = torch.arange(num_bases, device=token_states.device)
    total = torch.zeros(batch, num_bases, dim, dtype=token_states.dtype, device=token_states.device)
    holders = torch.zeros(batch, num_bases, 1, dtype=token_states.dtype, device=token_states.device)
    for j in range(-(-k // stride)):  # the j-th k-mer to the left holding each base
        token = torch.div(bases, stride, rounding_mode="floor") - j
        holds = (token >= 0) & (token * stride + k > bases) & (token[None] < num_tokens[:, None].to(bases.device))
        index = token.clamp(0, max(token_states.shape[1] - 1, 0))[None, :, None].expand(batch, -1, dim)
        total += token_states.gather(1, index) * holds[..., None]
        holders += holds[..., None]
    return total / holders.clamp(min=1)
