"""The masking state saved with every training checkpoint, under one file name, and the one check made on resume.

Both training paths write it (``training.checkpoints`` for ``pretrain.py``'s checkpoints, ``RandomMaskCallback`` for
Trainer's): what the masks depend on besides (step, rank, micro-step, batch). A resumed run with other values would
mask differently from an uninterrupted one, so it is refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..data.options import OptionError
from ..data.output_files import write_whole

MASKING_FILE = "randommask_masking.json"
"""The masking state's file name in a checkpoint folder."""
OLD_MASKING_FILE = "masking_schedule.json"
"""Its name in ``pretrain.py`` checkpoints written before the names were one; those still resume."""


def write_masking_state(checkpoint: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` into the checkpoint folder as ``MASKING_FILE``."""
    write_whole(Path(checkpoint) / MASKING_FILE, json.dumps(state, indent=2))


def masking_state_file(checkpoint: str | os.PathLike) -> Path:
    """The file holding ``checkpoint``'s masking state: ``MASKING_FILE``, or ``OLD_MASKING_FILE`` when only that one
    is there (the path returned need not exist: a caller that requires the file names it when refusing)."""
    folder = Path(checkpoint)
    old = folder / OLD_MASKING_FILE
    return old if old.is_file() and not (folder / MASKING_FILE).exists() else folder / MASKING_FILE


def check_resumed_masking(path: Path, saved: Any, expected: dict[str, Any]) -> None:
    """Refuse to resume with masking other than ``saved`` (read from ``path``): the masks would differ."""
    if saved != expected:
        raise OptionError(f"{path}: the checkpoint was trained with masking {saved}, this run masks with {expected}; "
                         "a resumed run must mask like the original: resume with the same masking options")
