"""DNA k-mer tokenization with DNABERT-compatible vocabularies."""

from .kmer_vocab import SPECIAL_TOKENS, kmer_vocab
from .tokenization_kmer import KmerTokenizer

__all__ = ["SPECIAL_TOKENS", "KmerTokenizer", "kmer_vocab"]
