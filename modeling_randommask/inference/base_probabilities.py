"""P(A), P(C), P(G), P(T) at chosen bases of sequences or genomes, many bases per forward pass.

The arithmetic (which tokens to mask, how their k-mer predictions become a base distribution: the ``rule``) is
``pipeline_randommask.masked_base_log_probs``, the code that also travels with checkpoints as their pipeline; this
module lays out the windows (centred on each queried base, shifted at record ends) over sequences held in memory,
sorts them by length into batches and adds the other strand when asked.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.fasta import COMPLEMENT
from ..modeling_randommask import RandomMaskForMaskedLM
from ..pipeline_randommask import (
    DEFAULT_BATCH_TOKENS,
    DEFAULT_RULE,
    centred_windows,
    masked_base_log_probs,
    resolve_window,
    token_batches,
)
from ..tokenization import KmerTokenizer
from .sequences import SequenceError, Sequences, from_strings


def log_probs_at(model: RandomMaskForMaskedLM, tokenizer: KmerTokenizer, sequences: Sequences, records: np.ndarray,
                 positions: np.ndarray, *, rule: str = DEFAULT_RULE, window_tokens: int | None = None,
                 batch_tokens: int = DEFAULT_BATCH_TOKENS, reverse_complement: bool = False, progress: bool = False
                 ) -> torch.Tensor:
    """Natural-log probabilities ``[n, 4]`` (columns A, C, G, T; float64) of base ``positions[i]`` (0-based) of
    record ``records[i]``: one masked copy of a window centred on each base, copies batched up to ``batch_tokens``
    tokens per forward pass.
    ``reverse_complement``: also predict each base on the other strand and average the two log-probabilities
    (renormalised), so a score difference between two bases is the mean of the strands' differences."""
    records, positions = np.asarray(records, dtype=np.int64), np.asarray(positions, dtype=np.int64)
    lengths = sequences.lengths[records]
    if positions.size and (positions.min() < 0 or (positions >= lengths).any()):
        bad = int(np.flatnonzero((positions < 0) | (positions >= lengths))[0])
        raise IndexError(f"position {positions[bad]} is outside record {sequences.names[records[bad]]!r} "
                         f"({lengths[bad]} bases)")
    _, bases = resolve_window(model, tokenizer, window_tokens)
    starts, widths = (t.numpy() for t in centred_windows(torch.from_numpy(positions), torch.from_numpy(lengths),
                                                         bases, tokenizer))
    if positions.size and widths.min() == 0:
        bad = int(np.flatnonzero(widths == 0)[0])
        raise SequenceError(f"record {sequences.names[records[bad]]!r} ({lengths[bad]} bases) holds no {tokenizer.k}-mer")
    strands = (False, True) if reverse_complement else (False,)
    out = torch.zeros((positions.size, 4), dtype=torch.float64)
    if batch_tokens < 1:
        raise ValueError(f"batch_tokens must be >= 1, got {batch_tokens}")
    order = np.argsort(-widths, kind="stable")  # similar lengths per batch, little padding
    tokens = tokenizer.tokens_for_bases(widths) + 2
    with tqdm(total=positions.size, unit="base", desc="base probabilities", disable=not progress) as bar:
        for batch in token_batches(order, tokens, max(1, batch_tokens // len(strands))):
            columns = np.arange(widths[batch].max())
            origin = sequences.starts[records[batch]] + starts[batch]
            parts = []
            for reverse in strands:
                offset = positions[batch] - starts[batch]
                if reverse:  # the window's reverse complement; the base sits at width - 1 - offset
                    index, offset = origin[:, None] + widths[batch, None] - 1 - columns, widths[batch] - 1 - offset
                else:
                    index = origin[:, None] + columns
                window = sequences.sequence[np.clip(index, 0, sequences.sequence.size - 1)]
                window = COMPLEMENT[window] if reverse else window
                log_probs = masked_base_log_probs(model, tokenizer, torch.from_numpy(window),
                                                  torch.from_numpy(widths[batch]), torch.from_numpy(offset), rule)
                parts.append(log_probs.flip(-1) if reverse else log_probs)  # A C G T <- complement T G C A
            out[torch.from_numpy(batch)] = torch.stack(parts).mean(dim=0).log_softmax(dim=-1)
            bar.update(batch.size)
    return out


def base_probabilities(model: RandomMaskForMaskedLM, tokenizer: KmerTokenizer, sequence: str,
                       positions: Sequence[int] | None = None, **options) -> np.ndarray:
    """``[n, 4]`` probabilities (columns A, C, G, T) of the bases at ``positions`` (0-based; default: every base)
    of one DNA string; ``options`` as for ``log_probs_at`` (``rule``, ``window_tokens``, ``batch_tokens``,
    ``reverse_complement``, ``progress``)."""
    positions = np.arange(len(sequence)) if positions is None else np.asarray(positions, dtype=np.int64)
    one = from_strings([sequence])
    return log_probs_at(model, tokenizer, one, np.zeros_like(positions), positions, **options).exp().numpy()

