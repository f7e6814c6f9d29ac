"""Where a ``--model`` comes from: a local model folder or a Hub repository, with errors that say which was meant.

transformers reads any string that is not an existing folder as a Hub repo id, so a mistyped local path fails
with "Repo id must be in the form 'repo_name' or 'namespace/repo_name'" or an offline-mode message. A string
that cannot be a repo id (absolute or relative paths with several parts, ``./x``, ``~/x``) is therefore reported
as a missing folder; one that could be either is tried on the Hub and, if that fails, both readings are named.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..configuration_randommask import RandomMaskConfig
from ..data.options import CheckpointError


def read_config(source: str | Path) -> RandomMaskConfig:
    """``RandomMaskConfig.from_pretrained(source)``, a value it refuses reported against the folder's config.json."""
    try:
        return RandomMaskConfig.from_pretrained(source)
    except ValueError as error:
        where = Path(source) / "config.json" if Path(source).is_dir() else source
        raise CheckpointError(f"{where}: {error}") from None


HEADS = ("cls.", "classifier.", "bert.pooler.")
"""Weight name prefixes of the task heads: a folder may hold another head's weights (a classifier's folder read
for its encoder, a masked-LM folder fine-tuned into a classifier); those are not used, and that is expected."""


def _summary(keys: list[str]) -> str:
    """``keys`` grouped by module (``bert.encoder.layer.1.*``), at most four groups named."""
    groups = sorted({re.sub(r"^(.*?\.\d+)\..*", r"\1.*", key) if re.search(r"\.\d+\.", key) else key
                     for key in keys})
    return ", ".join(groups[:4]) + (f" and {len(groups) - 4} more" if len(groups) > 4 else "")


def check_loaded_weights(source: str | os.PathLike, loading_info: dict[str, Any], new: tuple[str, ...] = (),
                         head: bool = True) -> None:
    """Refuse a model whose weights do not match its config, naming ``source``. transformers only warns when the
    config needs weights the folder lacks (they are drawn at random, so outputs change from run to run) and when
    the folder holds weights the config does not use (e.g. ``num_hidden_layers`` edited from 2 to 1: a truncated
    model runs). ``loading_info``: ``from_pretrained(..., output_loading_info=True)``'s. ``new``: prefixes of the
    weights that the caller adds and trains (a fine-tuning head). ``head=False``: only the encoder is used
    (embeddings), so the masked-LM head may be missing."""
    missing = sorted(key for key in loading_info["missing_keys"]
                     if not key.startswith(new) and (head or not key.startswith("cls.")))
    unused = sorted(key for key in loading_info["unexpected_keys"] if not key.startswith(HEADS))
    if missing and any(key.startswith("cls.") for key in missing):
        raise CheckpointError(f"{source}: the checkpoint has no trained masked-LM head (a fine-tuned classifier? use "
                              f"the pretrained folder it started from): missing {_summary(missing)}")
    problems = ([f"config.json needs weights the folder lacks: {_summary(missing)}"] if missing else []) + \
        ([f"the folder holds weights config.json does not use: {_summary(unused)}"] if unused else [])
    if problems:
        raise CheckpointError(f"{source}: the weights do not match config.json ({'; '.join(problems)}): config.json "
                              "edited by hand, or weights saved from another model? Use the folder as it was saved")


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


def read_config_dict(model: str | os.PathLike) -> dict[str, Any]:
    """``model``'s config.json as a dict, whatever the architecture (a DNABERT folder too), or an error naming
    ``model`` as ``load_model_config`` gives; no weights are read."""
    from transformers import PreTrainedConfig

    return _read_config(str(model), lambda source: PreTrainedConfig.get_config_dict(source)[0])


def check_model_source(model: str) -> None:
    """Refuse, as ``load_model_config`` does, a ``model`` whose config.json cannot be read; any architecture
    passes (a DNABERT folder too), and no weights are read."""
    read_config_dict(model)
