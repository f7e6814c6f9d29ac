"""DNA k-mer tokenization with DNABERT-compatible vocabularies: ``modeling_randommask.tokenization``.

``tokenization_kmer.py`` and ``kmer_vocab.py`` travel inside every checkpoint (``trust_remote_code``); nothing else
sits here (the tokenizations' names for options and reports are ``modeling_randommask.data.strides``). The folder
stands beside the package in the repository and is installed inside it (``pyproject.toml``), so that an install
claims no generic top-level name.
"""

if __name__ == "tokenization":  # the old import path, from a source checkout: the same modules under both names
    import importlib
    import sys
    import warnings

    from modeling_randommask.data.options import deprecation_note

    _new = importlib.import_module("modeling_randommask.tokenization")
    warnings.warn(deprecation_note("`import tokenization`", "`import modeling_randommask.tokenization`"),
                  DeprecationWarning, stacklevel=2)
    sys.modules.update({"tokenization" + name.removeprefix(_new.__name__): module
                        for name, module in list(sys.modules.items())
                        if name == _new.__name__ or name.startswith(_new.__name__ + ".")})
else:
    from .kmer_vocab import NUM_SPECIAL_TOKENS, SPECIAL_TOKENS, kmer_size_of_vocab, kmer_vocab
    from .tokenization_kmer import KmerTokenizer

    __all__ = ["NUM_SPECIAL_TOKENS", "SPECIAL_TOKENS", "KmerTokenizer", "kmer_size_of_vocab", "kmer_vocab"]
