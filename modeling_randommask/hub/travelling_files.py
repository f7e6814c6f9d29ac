"""The code files that travel inside checkpoint folders (``trust_remote_code``), named once.

``save_checkpoint`` copies them from here, and the tests check the folders and the files' imports against this
list: a saved folder is flat, so each name is unique and the files import only torch, transformers, the standard
library and each other. Published folders hold these names, so they never change.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

# File name in a saved folder -> the module it is, here.
MODEL_CODE = {
    "configuration_randommask.py": "modeling_randommask.configuration_randommask",
    "modeling_randommask.py": "modeling_randommask.modeling_randommask",
}
TOKENIZER_CODE = {
    "tokenization_kmer.py": "modeling_randommask.tokenization.tokenization_kmer",
    "kmer_vocab.py": "modeling_randommask.tokenization.kmer_vocab",
}
# Only masked-LM folders: without the MLM head the base-level pipeline would predict from random weights.
PIPELINE_CODE = {"pipeline_randommask.py": "modeling_randommask.pipeline_randommask"}
TRAVELLING_FILES = {**MODEL_CODE, **TOKENIZER_CODE, **PIPELINE_CODE}


def travelling_files(with_pipeline: bool) -> dict[str, Path]:
    """File name in a saved folder -> its source file, for a masked-LM folder (``with_pipeline``) or another head."""
    names = TRAVELLING_FILES if with_pipeline else {**MODEL_CODE, **TOKENIZER_CODE}
    return {name: Path(importlib.util.find_spec(module).origin) for name, module in names.items()}
