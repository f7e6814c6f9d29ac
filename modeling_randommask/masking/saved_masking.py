"""The masking state saved with every training checkpoint, under one file name, and the one check made on resume.

Both training paths write it (``training.checkpoints`` for ``pretrain.py``'s checkpoints, ``RandomMaskCallback`` for
Trainer's): what the masks depend on besides (step, rank, micro-step, batch). A resumed run with other values would
mask differently from an uninterrupted one, so it is refused.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from .. import OLD_NAMES_REMOVED_IN
from ..data.options import OptionError
from ..data.output_files import write_whole

logger = logging.getLogger(__name__)

MASKING_FILE = "randommask_masking.json"
"""The masking state's file name in a checkpoint folder."""
OLD_MASKING_FILE = "masking_schedule.json"
"""Its name in ``pretrain.py`` checkpoints written before 0.1.0; those resume until ``OLD_NAMES_REMOVED_IN``."""


def write_masking_state(checkpoint: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` into the checkpoint folder as ``MASKING_FILE``."""
    write_whole(Path(checkpoint) / MASKING_FILE, json.dumps(state, indent=2))


def masking_state_file(checkpoint: str | os.PathLike) -> Path:
    """The file holding ``checkpoint``'s masking state: ``MASKING_FILE``, or ``OLD_MASKING_FILE`` when only that one
    is there (the path returned need not exist: a caller that requires the file names it when refusing)."""
    folder = Path(checkpoint)
    old = folder / OLD_MASKING_FILE
    if old.is_file() and not (folder / MASKING_FILE).exists():
        logger.warning("%s: the masking state under its name before 0.1.0, read until %s; the checkpoints this run "
                       "saves use %s", old, OLD_NAMES_REMOVED_IN, MASKING_FILE)
        return old
    return folder / MASKING_FILE


def check_resumed_masking(path: Path, saved: Any, expected: dict[str, Any]) -> None:
    """Refuse to resume with masking other than ``saved`` (read from ``path``): the masks would differ."""
    if saved != expected:
        raise OptionError(f"{path}: the checkpoint was trained with masking {saved}, this run masks with {expected}; "
                         "a resumed run must mask like the original: resume with the same masking options")
