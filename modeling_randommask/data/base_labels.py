"""Per-base labels <-> k-mer tokens, for token-level tasks (a label per base, e.g. ``0001100...``).

The model predicts one label per k-mer token, but the task labels bases. The rule, in both directions, is the
token's **centre base**: token ``i`` starts at base ``i * stride`` and its centre is base ``i * stride + c`` with
``c = (k - 1) // 2`` (for 6-mers the third of its six bases).

- Training: token ``i`` is trained on the label of its centre base. Why the centre: it is the base whose context
  the k-mer shows on both sides, so the label of the centre is what one token can best decide (a motif edge in a
  first or last base is half outside the token); and one base per token keeps every label exact, where a vote
  over the k bases would blur motif edges. Special tokens get -100 (ignored by the loss).
- Prediction: base ``j`` takes the prediction of the token whose centre is nearest to ``j`` (ties to the left),
  which for stride 1 is the token centred on ``j``, for stride k the token holding ``j``. The first ``c`` and last
  ``k - 1 - c`` bases of a stride-1 sequence, and the tail bases after the last complete k-mer, take the nearest
  token's prediction. Bases whose token was cut by truncation get no prediction and are left out of metrics.

Everything here is vectorised over all bases of a split (no Python loop per base or per token).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..configuration_randommask import IGNORE_INDEX
from ..tokenization.kmer_vocab import num_kmer_tokens


def _ragged_positions(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ragged rows of ``counts`` items: each item's row and its index within the row (flat, in order)."""
    rows = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return rows, np.arange(int(counts.sum())) - starts[rows]


def token_labels(base_labels: np.ndarray, lengths: Sequence[int], k: int, stride: int,
                 max_tokens: int | None = None) -> list[np.ndarray]:
    """Per-sequence token label rows ``[CLS] tokens... [SEP]`` from concatenated per-base labels: each k-mer gets
    its centre base's label, the specials -100. ``max_tokens`` (specials included) truncates like the tokenizer."""
    lengths = np.asarray(lengths, dtype=np.int64)
    counts = num_kmer_tokens(lengths, k, stride)
    if max_tokens is not None:
        counts = np.minimum(counts, max_tokens - 2)
    rows, index = _ragged_positions(counts)
    base_starts = np.cumsum(lengths) - lengths
    centre_labels = np.asarray(base_labels, dtype=np.int64)[base_starts[rows] + index * stride + (k - 1) // 2]
    row_ends = np.cumsum(counts)[:-1]
    return [np.concatenate(([IGNORE_INDEX], labels, [IGNORE_INDEX]))
            for labels in np.split(centre_labels, row_ends)]


@dataclass(frozen=True)
class BaseAlignment:
    """Where each base's prediction comes from, flat over a split's bases that kept a token: ``sequence[b]`` and
    ``token[b]`` index a ``[sequences, tokens, classes]`` logits array (``token`` counts ``[CLS]``, so it is the
    model's position), and ``labels[b]`` is the base's label when known. ``dropped`` bases lost their token to
    truncation."""

    sequence: np.ndarray
    token: np.ndarray
    labels: np.ndarray | None
    dropped: int
    num_sequences: int

    @classmethod
    def from_lengths(cls, lengths: Sequence[int], k: int, stride: int, max_tokens: int | None = None,
                     base_labels: np.ndarray | None = None) -> BaseAlignment:
        """The alignment of sequences of ``lengths`` bases tokenized as ``k``-mers every ``stride`` bases, truncated
        to ``max_tokens`` (specials included); ``base_labels`` are their per-base labels, concatenated."""
        lengths = np.asarray(lengths, dtype=np.int64)
        counts = num_kmer_tokens(lengths, k, stride)
        kept = counts if max_tokens is None else np.minimum(counts, max_tokens - 2)
        rows, base = _ragged_positions(lengths)
        offset = base - (k - 1) // 2
        nearest = -((stride - 2 * offset) // (2 * stride))  # ceil(offset / stride - 1/2): nearest centre, ties left
        token = np.clip(nearest, 0, np.maximum(counts[rows] - 1, 0))
        keep = token < kept[rows]
        labels = None if base_labels is None else np.asarray(base_labels, dtype=np.int64)[keep]
        return cls(rows[keep], token[keep] + 1, labels, int((~keep).sum()), len(lengths))

    def gather(self, logits: np.ndarray) -> np.ndarray:
        """Per-base rows ``[bases, ...]`` of token-level ``logits [sequences, tokens, ...]``."""
        logits = np.asarray(logits)
        if len(logits) != self.num_sequences:
            raise ValueError(f"token logits for {len(logits)} sequences; the alignment is of {self.num_sequences}")
        return logits[self.sequence, self.token]

    def per_sequence(self, logits: np.ndarray) -> list[np.ndarray]:
        """``gather`` split by sequence: one ``[bases kept, ...]`` array per sequence."""
        counts = np.bincount(self.sequence, minlength=self.num_sequences)
        return np.split(self.gather(logits), np.cumsum(counts)[:-1])
