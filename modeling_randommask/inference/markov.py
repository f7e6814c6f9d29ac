"""An order-k Markov model of DNA: the simple reference a language model's bits per base should beat.

Fitted on the counts of (k+1)-mers in training DNA (only stretches of k+1 A/C/G/T bases count), with add-one
(Laplace) smoothing: ``P(x | context) = (N(context with x) + 1) / (N(context) + 4)``. Two contexts from the same
table:

- ``"left"``: the k bases before the base, the classical order-k chain (one side, like a left-to-right model);
- ``"centred"``: k bases around it, ``k // 2`` before and ``k - k // 2`` after (both sides, as a masked language
  model reads them), the fairer reference for one.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from ..pipeline_randommask import output_columns
from ..tokenization import KmerTokenizer
from ..tokenization.kmer_vocab import NUM_SPECIAL_TOKENS, VOCAB_BASE_ORDER

Context = Literal["left", "centred"]
CONTEXTS = ("left", "centred")
MAX_ORDER = 9  # 4**10 counts of 10-mers: 8 MB; a higher order has too few counts per context on any genome
_CHUNK = 1 << 20  # bases counted per step (their int64 k-mer ids: 8 MB)
_TO_OUTPUT = output_columns(VOCAB_BASE_ORDER)


class MarkovBaseline:
    """Counts of (order + 1)-mers; ``fit`` them, then ``log_probs`` at any base with an all-ACGT neighbourhood."""

    def __init__(self, order: int = 5):
        if not 0 <= order <= MAX_ORDER:
            raise ValueError(f"order must be in 0..{MAX_ORDER}, got {order}")
        self.order = order
        self.tokenizer = KmerTokenizer(k=order + 1)  # ids: the specials, then the (order + 1)-mers in order
        self.counts = np.zeros(4 ** (order + 1), dtype=np.int64)

    @property
    def fitted_kmers(self) -> int:
        return int(self.counts.sum())

    def fit(self, bases: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> MarkovBaseline:
        """Add the (order + 1)-mers of ``bases[starts[i] : ends[i]]`` (uint8 ASCII) for every stretch ``i``."""
        span = self.order + 1
        for start, end in zip(np.asarray(starts).tolist(), np.asarray(ends).tolist()):
            for first in range(start, end - span + 1, _CHUNK):
                piece = bases[first : min(first + _CHUNK + span - 1, end)]
                ids = self.tokenizer.ids_from_ascii(torch.from_numpy(np.array(piece))[None])[0].numpy()
                ids = ids[ids >= NUM_SPECIAL_TOKENS] - NUM_SPECIAL_TOKENS
                self.counts += np.bincount(ids, minlength=self.counts.size)
        return self

    def log_probs(self, bases: np.ndarray, positions: np.ndarray, context: Context = "left") -> torch.Tensor:
        """Natural-log probabilities ``[n, 4]`` (columns A, C, G, T) of the bases at ``positions`` of ``bases``
        given their ``context``; every base of each (order + 1)-base neighbourhood must be A/C/G/T."""
        if context not in CONTEXTS:
            raise ValueError(f"context must be one of {CONTEXTS}, got {context!r}")
        before = self.order if context == "left" else self.order // 2
        index = np.asarray(positions, dtype=np.int64)[:, None] - before + np.arange(self.order + 1)
        if index.size and (index.min() < 0 or index.max() >= bases.size):
            raise IndexError(f"a {context} neighbourhood of order {self.order} runs past the sequence's ends")
        kmers = self.tokenizer.ids_from_ascii(torch.from_numpy(bases[index]))[:, 0] - NUM_SPECIAL_TOKENS
        if bool((kmers < 0).any()):
            raise ValueError("a neighbourhood holds a base that is not A/C/G/T: sample positions with ACGT context")
        weight = 4 ** (self.order - before)  # of the predicted base's digit in a k-mer id
        others = kmers - kmers // weight % 4 * weight
        candidates = others[:, None] + torch.arange(4) * weight
        counts = torch.from_numpy(self.counts)[candidates].double() + 1.0
        return (counts / counts.sum(dim=1, keepdim=True)).log()[:, _TO_OUTPUT]
