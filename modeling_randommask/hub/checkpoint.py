"""Save a model and its k-mer tokenizer as one self-contained Hugging Face Hub folder, and load one back.

The model classes register themselves for the Auto classes, so `model.save_pretrained` already copies
`configuration_randommask.py` and `modeling_randommask.py` and writes the full `auto_map`. What this adds:
the tokenizer's AutoTokenizer registration (its code then travels too), a check that model and tokenizer
agree on the tokenization, the base-level pipeline (``pipeline_randommask.py``, named in ``custom_pipelines``) in
masked-LM folders, and a check that the written folder holds every file its auto_maps and custom pipelines name,
so a folder that would need this package installed is never published.
"""

import json
import os
import shutil
from pathlib import Path

from safetensors import SafetensorError
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as transformers_logging

from .. import pipeline_randommask
from ..modeling_randommask import RandomMaskForMaskedLM
from ..tokenization import KmerTokenizer
from .dnabert import from_dnabert
from .model_source import (
    CheckpointError,
    check_loaded_weights,
    check_local_folder,
    read_config,
    read_config_dict,
)
from .travelling_files import travelling_files


def save_checkpoint(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, out_dir: str | os.PathLike) -> Path:
    """Write weights (safetensors), config, tokenizer files and their code into `out_dir`; return it.

    The folder then loads anywhere with `Auto*.from_pretrained(out_dir, trust_remote_code=True)`. A masked-LM
    folder also gets the base-level pipeline: `pipeline("dna-base-probabilities", model=out_dir,
    trust_remote_code=True)`; other heads do not (without the MLM head it would predict from random weights).
    """
    config = model.config
    if config.model_type != "randommask":
        raise ValueError(f"save_checkpoint expects a RandomMask model, got model_type {config.model_type!r}")
    tokenization = (getattr(tokenizer, "k", None), getattr(tokenizer, "kmer_stride", None))
    if tokenization != (config.kmer_size, config.kmer_stride):
        raise ValueError(
            f"tokenizer (k, stride) = {tokenization} but the model was built for "
            f"({config.kmer_size}, {config.kmer_stride})"
        )
    if len(tokenizer) > config.vocab_size:  # more model rows are fine: padding the tokenizer never produces
        raise ValueError(f"tokenizer has {len(tokenizer)} tokens, the model's vocab_size is only {config.vocab_size}: "
                         "call model.resize_token_embeddings(len(tokenizer)) after adding tokens")

    has_pipeline = isinstance(model, RandomMaskForMaskedLM)
    if has_pipeline:
        config.custom_pipelines = pipeline_randommask.CUSTOM_PIPELINES
    elif hasattr(config, "custom_pipelines"):  # e.g. a classifier loaded from a pretrained folder
        del config.custom_pipelines
    if type(tokenizer)._auto_class is None:
        type(tokenizer).register_for_auto_class("AutoTokenizer")
    out = Path(out_dir)
    bar = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # a one-shard model needs no "Writing model shards" bar
    try:
        model.save_pretrained(out)
    finally:
        if bar:
            transformers_logging.enable_progress_bar()
    tokenizer.save_pretrained(out)
    for name, source in travelling_files(with_pipeline=has_pipeline).items():  # transformers copies all but the pipeline
        shutil.copyfile(source, out / name)
    check_self_contained(out)
    return out


def check_self_contained(folder: str | os.PathLike) -> None:
    """Raise if `folder` lacks safetensors weights or a code file named by its config/tokenizer auto_map or by
    its config's custom pipelines."""
    folder = Path(folder)
    if not any(folder.glob("*.safetensors")):
        raise FileNotFoundError(f"{folder}: no .safetensors weights")
    for name in ("config.json", "tokenizer_config.json"):
        settings = json.loads((folder / name).read_text(encoding="utf-8"))
        auto_map = settings.get("auto_map", {})
        if name == "tokenizer_config.json" and "AutoTokenizer" not in auto_map:
            raise ValueError(f"{folder / name}: auto_map has no AutoTokenizer entry")
        pipelines = {f"pipeline {task!r}": info.get("impl") for task, info in settings.get("custom_pipelines", {}).items()}
        for auto_class, references in {**auto_map, **pipelines}.items():
            references = references if isinstance(references, list) else [references]
            for reference in filter(None, references):
                module = reference.split("--")[-1].rsplit(".", 1)[0]
                if not (folder / f"{module}.py").is_file():
                    raise FileNotFoundError(f"{folder / name}: {auto_class} needs {module}.py, missing from the folder")


def load_masked_lm(path: str | os.PathLike, head: bool = True) -> tuple[RandomMaskForMaskedLM, KmerTokenizer]:
    """A saved RandomMask folder or Hub id (or a DNABERT ``BertForMaskedLM``, converted) in eval mode, and the k-mer
    tokenizer saved with it, or the one its config names (``kmer_size``, ``kmer_stride``) when the folder has none
    or its tokenizer reads other k-mers than the model (warned). A folder with an impossible config, without weights
    or, unless ``head=False`` (only the encoder is used), without a trained masked-LM head (a classifier) is refused
    (``CheckpointError``)."""
    folder = check_local_folder(path)
    if folder is not None and not any(folder.glob("*.safetensors")) and not (folder / "pytorch_model.bin").is_file():
        raise CheckpointError(f"{path}: the folder holds config.json but no model weights (model.safetensors)")
    try:
        if read_config_dict(path).get("model_type") == "bert":  # a mistyped Hub id is one error naming it
            model = from_dnabert(path, head=head)
        else:
            read_config(path)  # an impossible config.json is named as such
            model, info = RandomMaskForMaskedLM.from_pretrained(path, output_loading_info=True)
            check_loaded_weights(path, info, head=head)
    except SafetensorError as error:  # safetensors does not say which file
        raise CheckpointError(f"{path}: a .safetensors weights file is unreadable (truncated or corrupted?): "
                              f"{error}") from None
    except RuntimeError as error:
        if "ignore_mismatched_sizes" not in str(error):
            raise
        raise CheckpointError(f"{path}: the weights' shapes do not match config.json (edited by hand, or saved from "
                              "another model?); transformers' report above lists them") from None
    tokenizer = KmerTokenizer(k=model.config.kmer_size, kmer_stride=model.config.kmer_stride)
    if folder is None or (folder / "tokenizer_config.json").is_file():
        try:
            saved = KmerTokenizer.from_pretrained(path)  # warns when its k-mers are not the model's
        except OSError:  # a Hub repo without tokenizer files: the config's k-mers
            saved = tokenizer
        if (saved.k, saved.kmer_stride) == (tokenizer.k, tokenizer.kmer_stride):
            tokenizer = saved  # the checkpoint's own, added tokens included
    return model.eval(), tokenizer
