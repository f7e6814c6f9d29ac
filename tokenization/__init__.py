"""DNA k-mer tokenization with DNABERT-compatible vocabularies.

``tokenization_kmer.py`` and ``kmer_vocab.py`` travel inside every checkpoint (``trust_remote_code``);
``strides.py`` names the tokenizations for options and reports.
"""

from .kmer_vocab import SPECIAL_TOKENS, kmer_vocab
from .strides import Tokenization, kmer_stride_of, tokenization_name
from .tokenization_kmer import KmerTokenizer

__all__ = ["SPECIAL_TOKENS", "KmerTokenizer", "Tokenization", "kmer_stride_of", "kmer_vocab", "tokenization_name"]
