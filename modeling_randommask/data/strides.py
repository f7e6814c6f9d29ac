"""The two tokenizations of the paper by name, and the k-mer stride each one means.

Options and reports name a tokenization ("overlapping": DNABERT's stride 1; "non_overlapping": Nucleotide
Transformer's stride k); configs and tokenizers store ``kmer_stride``. These two functions are the only mapping.
"""

from __future__ import annotations

from typing import Literal

Tokenization = Literal["overlapping", "non_overlapping"]


def kmer_stride_of(tokenization: Tokenization, k: int) -> int:
    """The k-mer stride a named tokenization means for k-mers of length ``k``."""
    if tokenization == "overlapping":
        return 1
    if tokenization == "non_overlapping":
        return k
    raise ValueError(f"tokenization must be 'overlapping' or 'non_overlapping', got {tokenization!r}")


def tokenization_name(k: int, kmer_stride: int) -> str:
    """"overlapping", "non_overlapping", or "stride N" for any other stride."""
    if kmer_stride == 1:
        return "overlapping"
    return "non_overlapping" if kmer_stride == k else f"stride {kmer_stride}"
