"""Where a ``--model`` comes from: a local model folder or a Hub repository, with errors that say which was meant.

transformers reads any string that is not an existing folder as a Hub repo id, so a mistyped local path fails
with "Repo id must be in the form 'repo_name' or 'namespace/repo_name'" or an offline-mode message. A string
that cannot be a repo id (absolute or relative paths with several parts, ``./x``, ``~/x``) is therefore reported
as a missing folder; one that could be either is tried on the Hub and, if that fails, both readings are named.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..configuration_randommask import RandomMaskConfig


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


def _read_config(model: str, read: Callable[[str], Any]) -> Any:
    """``read(model)`` (a config reader) after checking ``model`` names a saved folder or could be a Hub repo id;
    every failure is an error naming ``model`` that says whether it was read as a folder or a repo id."""
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise NotADirectoryError(f"model {model!r} is a file; expected a saved model folder (config.json, "
                                     "weights, tokenizer) or a Hub repo id")
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"model {model!r}: the folder has no config.json, so it is not a saved model "
                                    "(pretraining writes one into its --output_dir when it finishes)")
        return read(str(path))
    if not _could_be_repo_id(model):
        raise FileNotFoundError(f"model {model!r}: no such folder (and it is not a Hub repo id of the form "
                                "user/name)")
    try:
        return read(model)
    except OSError as error:
        raise FileNotFoundError(f"model {model!r}: no such local folder, and as a Hub repo id it could not be "
                                f"loaded: {' '.join(str(error).split())}") from error


def load_model_config(model: str) -> RandomMaskConfig:
    """The ``RandomMaskConfig`` of ``model`` (a saved folder or a Hub repo id), or an error naming ``model`` that
    says whether it was read as a folder or a repo id and what is wrong."""
    return _read_config(model, RandomMaskConfig.from_pretrained)


def check_model_source(model: str) -> None:
    """Refuse, as ``load_model_config`` does, a ``model`` whose config.json cannot be read; any architecture
    passes (a DNABERT folder too), and no weights are read."""
    from transformers import PreTrainedConfig

    _read_config(model, PreTrainedConfig.get_config_dict)
