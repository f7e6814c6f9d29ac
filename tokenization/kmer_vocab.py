"""DNABERT-compatible k-mer vocabulary, generated rather than shipped.

DNABERT's ``vocab.txt`` for k = 3..6 is the five special tokens followed by every k-mer in
``itertools.product("ATCG", repeat=k)`` order, so a k-mer's id is arithmetic: reading A=0, T=1, C=2,
G=3 as base-4 digits, ``id = len(SPECIAL_TOKENS) + sum(code(b_i) * 4 ** (k - 1 - i))``. Generating the
list (instead of copying DNABERT's files) gives every k the same layout and lets the tokenizer compute
ids with tensor arithmetic. It also holds the rest of the layout that every user of k-mer tokens shares: how many
tokens a stretch of bases gives and how many bases they span, and the check of a ``vocab.txt``. This module travels
with saved checkpoints: stdlib only.
"""

from __future__ import annotations

import itertools
import math
import os
from typing import TypeVar

Count = TypeVar("Count")
"""An int, or an integer numpy array or torch tensor (the k-mer counts below work elementwise on any of them)."""

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


def num_kmer_tokens(num_bases: Count, k: int, stride: int) -> Count:
    """K-mer tokens (no specials) in ``num_bases`` bases: the k-mers starting at bases 0, ``stride``, ``2 * stride``,
    ... that fit entirely, ``(L - k) // stride + 1``, and 0 when ``L < k``; bases after the last one are dropped (the
    tail rule). Works on an int or elementwise on an integer array or tensor."""
    return ((num_bases - k) // stride + 1) * (num_bases >= k)


def kmer_span(num_tokens: Count, k: int, stride: int) -> Count:
    """Bases spanned by ``num_tokens`` consecutive k-mer tokens, ``(n - 1) * stride + k`` (0 for none): the inverse
    of ``num_kmer_tokens`` on the lengths it keeps whole. Works on an int or elementwise on an array or tensor."""
    return ((num_tokens - 1) * stride + k) * (num_tokens > 0)


def check_vocab_file(vocab_file: str | os.PathLike, k: int | None = None) -> int:
    """Check that ``vocab_file`` is ``kmer_vocab(k)``, one token a line, each line exactly its token (whitespace
    around it is refused: BERT's tokenizer, which reads DNABERT's file too, would take it as part of the token), and
    return ``k`` (when None: the k of the file's number of lines). A file with other ids would make the weights be
    read under wrong ids, so it raises ``ValueError`` naming the file and the first line that differs."""
    with open(vocab_file, encoding="utf-8") as handle:
        found = handle.read().splitlines()
    if k is None:
        try:
            k = kmer_size_of_vocab(len(found))
        except ValueError:
            raise ValueError(f"{vocab_file}: holds {len(found)} lines, which no k-mer vocabulary has "
                             f"({NUM_SPECIAL_TOKENS} special tokens + 4**k k-mers)") from None
    expected = kmer_vocab(k)
    for line, (got, want) in enumerate(zip(found, expected), start=1):
        if got != want:
            raise ValueError(
                f"{vocab_file}: line {line} holds {got!r} but id {line - 1} is {want!r} in the {k}-mer vocabulary "
                f"(DNABERT's: {' '.join(SPECIAL_TOKENS)}, then the k-mers in itertools.product({VOCAB_BASE_ORDER!r}, "
                f"repeat={k}) order)")
    if len(found) != len(expected):
        raise ValueError(f"{vocab_file}: holds {len(found)} lines, the {k}-mer vocabulary has {len(expected)} "
                         f"(4**{k} + {NUM_SPECIAL_TOKENS})")
    return k
