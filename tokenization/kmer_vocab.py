"""DNABERT-compatible k-mer vocabulary, generated rather than shipped.

DNABERT's ``vocab.txt`` for k = 3..6 is the five special tokens followed by every k-mer in
``itertools.product("ATCG", repeat=k)`` order, so a k-mer's id is arithmetic: reading A=0, T=1, C=2,
G=3 as base-4 digits, ``id = len(SPECIAL_TOKENS) + sum(code(b_i) * 4 ** (k - 1 - i))``. Generating the
list (instead of copying DNABERT's files) gives every k the same layout and lets the tokenizer compute
ids with tensor arithmetic. This module travels with saved checkpoints: stdlib only.
"""

from __future__ import annotations

import itertools
import math

SPECIAL_TOKENS: list[str] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
"""Special tokens, ids 0..4 (DNABERT's order)."""

NUM_SPECIAL_TOKENS = len(SPECIAL_TOKENS)
"""The id of the first k-mer. The model's files cannot import this folder, so ``configuration_randommask``
repeats the number for them (a test checks that the two agree)."""

VOCAB_BASE_ORDER = "ATCG"
"""Base order of the k-mer enumeration (DNABERT's): a base's code in a k-mer id is its index here. Not the order
of base probabilities shown to users (alphabetical, ``pipeline_randommask.BASES``)."""

MAX_K = 10
"""Largest supported k: the vocabulary holds 4**k + 5 strings (about 1M for k = 10)."""


def kmer_vocab(k: int) -> list[str]:
    """Return the vocabulary for k-mers of length ``k``: the special tokens, then all ``4**k`` k-mers."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}, got {k}")
    return SPECIAL_TOKENS + ["".join(kmer) for kmer in itertools.product(VOCAB_BASE_ORDER, repeat=k)]


def kmer_size_of_vocab(vocab_size: int) -> int:
    """The k whose vocabulary has ``vocab_size`` entries, ``len(SPECIAL_TOKENS) + 4**k`` (DNABERT's 69, 261, 1029,
    4101 for k = 3..6): the inverse of ``len(kmer_vocab(k))``, for checkpoints that record only a vocabulary size."""
    num_kmers = vocab_size - NUM_SPECIAL_TOKENS
    k = round(math.log(num_kmers, 4)) if num_kmers > 0 else 0
    if k < 1 or 4**k != num_kmers:
        raise ValueError(f"vocab_size={vocab_size} is not a k-mer vocabulary ({NUM_SPECIAL_TOKENS} "
                         "specials + 4**k k-mers)")
    return k
