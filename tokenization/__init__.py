"""DNA k-mer tokenization with DNABERT-compatible vocabularies.

``tokenization_kmer.py`` and ``kmer_vocab.py`` travel inside every checkpoint (``trust_remote_code``); nothing else
sits here (the tokenizations' names for options and reports are ``modeling_randommask.data.strides``).
"""

from .kmer_vocab import SPECIAL_TOKENS, kmer_size_of_vocab, kmer_vocab
from .tokenization_kmer import KmerTokenizer

__all__ = ["SPECIAL_TOKENS", "KmerTokenizer", "kmer_size_of_vocab", "kmer_vocab"]
