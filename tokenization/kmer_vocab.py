"""DNABERT-compatible k-mer vocabulary, generated rather than shipped.

DNABERT's ``vocab.txt`` for k = 3..6 is the five special tokens followed by every k-mer in
``itertools.product("ATCG", repeat=k)`` order, so a k-mer's id is arithmetic: reading A=0, T=1, C=2,
G=3 as base-4 digits, ``id = len(SPECIAL_TOKENS) + sum(code(b_i) * 4 ** (k - 1 - i))``. Generating the
list (instead of copying DNABERT's files) gives every k the same layout and lets the tokenizer compute
ids with tensor arithmetic. This module travels with saved checkpoints: stdlib only.
"""

from __future__ import annotations

import itertools

SPECIAL_TOKENS: list[str] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
"""Special tokens, ids 0..4 (DNABERT's order)."""

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
