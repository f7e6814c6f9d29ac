"""Where a ``--model`` comes from: a local model folder or a Hub repository, with errors that say which was meant.

transformers reads any string that is not an existing folder as a Hub repo id, so a mistyped local path fails
with "Repo id must be in the form 'repo_name' or 'namespace/repo_name'" or an offline-mode message. A string
that cannot be a repo id (absolute or relative paths with several parts, ``./x``, ``~/x``) is therefore reported
as a missing folder; one that could be either is tried on the Hub and, if that fails, both readings are named.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..configuration_randommask import RandomMaskConfig
from ..data.options import InputError


class CheckpointError(InputError, ValueError):
    """A model folder that cannot be used as asked: a ``config.json`` with impossible values, weights missing or
    not matching it, or no trained head for the task (e.g. a classifier where the masked-LM head is needed)."""


def read_config(source: str | Path) -> RandomMaskConfig:
    """``RandomMaskConfig.from_pretrained(source)``, a value it refuses reported against the folder's config.json."""
    try:
        return RandomMaskConfig.from_pretrained(source)
    except ValueError as error:
        where = Path(source) / "config.json" if Path(source).is_dir() else source
        raise CheckpointError(f"{where}: {error}") from None


def check_masked_lm_weights(source: str | os.PathLike, missing_keys: Iterable[str], head: bool = True) -> None:
    """Refuse a model whose weights ``missing_keys`` were drawn at random instead of loaded from ``source``:
    transformers only warns, and a folder without the trained masked-LM head (a fine-tuned classifier) would give
    predictions that change from run to run. ``head=False``: only the encoder is used (embeddings), so only its
    weights must be there."""
    missing_keys = sorted(key for key in missing_keys if head or not key.startswith("cls."))
    if not missing_keys:
        return
    what = ("has no trained masked-LM head (a fine-tuned classifier? use the pretrained folder it started from)"
            if any(key.startswith("cls.") for key in missing_keys) else "lacks weights the model needs")
    raise CheckpointError(f"{source}: the checkpoint {what}: missing {missing_keys[:4]}"
                          f"{f' and {len(missing_keys) - 4} more' if len(missing_keys) > 4 else ''}")


def _could_be_repo_id(model: str) -> bool:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if model.startswith((".", "/", "~")) or model.count("/") > 1:
        return False
    try:
        validate_repo_id(model)
    except HFValidationError:
        return False
    return True


def check_local_folder(model: str | os.PathLike) -> Path | None:
    """``model`` as a saved folder (it has a config.json and weights), ``None`` when it may be a Hub repo id, or an
    error naming it: a file, a folder that is not a saved model, a path that does not exist."""
    path = Path(model).expanduser()
    if not path.exists():
        if _could_be_repo_id(str(model)):
            return None
        raise FileNotFoundError(f"model {str(model)!r}: no such folder (and it is not a Hub repo id of the form "
                                "user/name)")
    if not path.is_dir():
        raise NotADirectoryError(f"model {str(model)!r} is a file; expected a saved model folder (config.json, "
                                 "weights, tokenizer) or a Hub repo id")
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"model {str(model)!r}: the folder has no config.json, so it is not a saved model "
                                "(pretraining writes one into its --output_dir when it finishes)")
    return path


def _read_config(model: str, read: Callable[[str], Any]) -> Any:
    """``read(model)`` (a config reader) after ``check_local_folder``; a repo id that cannot be loaded is an error
    naming ``model``."""
    path = check_local_folder(model)
    if path is not None:
        return read(str(path))
    try:
        return read(model)
    except OSError as error:
        raise FileNotFoundError(f"model {model!r}: no such local folder, and as a Hub repo id it could not be "
                                f"loaded: {' '.join(str(error).split())}") from error


def load_model_config(model: str) -> RandomMaskConfig:
    """The ``RandomMaskConfig`` of ``model`` (a saved folder or a Hub repo id), or an error naming ``model`` that
    says whether it was read as a folder or a repo id and what is wrong."""
    return _read_config(model, read_config)


def check_model_source(model: str) -> None:
    """Refuse, as ``load_model_config`` does, a ``model`` whose config.json cannot be read; any architecture
    passes (a DNABERT folder too), and no weights are read."""
    from transformers import PreTrainedConfig

    _read_config(model, PreTrainedConfig.get_config_dict)
