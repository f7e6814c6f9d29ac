"""Resumable pretraining checkpoints: ``checkpoints/step-N`` folders and an atomically moved ``latest`` pointer.

Each checkpoint is ``accelerator.save_state`` (weights, optimizer, scheduler, RNG states) plus ``training_state.json``
(the data position and fault counters) and ``masking_schedule.json``. It is written into a staging folder, renamed
into place, and only then does ``latest`` move: a crash at any moment leaves ``latest`` naming a complete checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from accelerate import Accelerator

from ..masking.schedule import RandomMaskSchedule

TRAINING_STATE = "training_state.json"
SCHEDULE_FILE = "masking_schedule.json"


@dataclass
class TrainingState:
    """Everything besides ``accelerator.save_state`` that a resumed run needs to continue exactly."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    consecutive_faults: int = 0
    skipped_steps: int = 0


def resolve_checkpoint(output_dir: Path, resume: str) -> Path:
    """The checkpoint folder ``--resume_from_checkpoint`` names: ``latest`` or a path."""
    if resume != "latest":
        return Path(resume)
    pointer = output_dir / "checkpoints" / "latest"
    if not pointer.exists():
        raise FileNotFoundError(f"--resume_from_checkpoint latest: no {pointer} (no checkpoint was completed)")
    return output_dir / "checkpoints" / pointer.read_text().strip()


def check_output_dir(output_dir: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to overwrite a finished model or other files unless asked; resuming needs the folder."""
    if resume or not output_dir.exists():
        return
    if overwrite:
        shutil.rmtree(output_dir / "checkpoints", ignore_errors=True)
        return
    if any(output_dir.iterdir()):
        raise FileExistsError(
            f"{output_dir} is not empty: pass --resume_from_checkpoint latest to continue it, "
            "--overwrite_output_dir to replace it, or another --output_dir"
        )


def save_training_checkpoint(accelerator: Accelerator, output_dir: Path, state: TrainingState,
                             schedule: RandomMaskSchedule, keep: int) -> None:
    """Write into a temporary folder, then rename and move the ``latest`` pointer: a crash mid-save leaves the
    previous checkpoint complete and ``latest`` pointing at it. Checkpoints past this step (from a run that was
    resumed from an earlier one) are dropped, then all but the ``keep`` newest."""
    root = output_dir / "checkpoints"
    name = f"step-{state.step:08d}"
    staging = root / f".staging-{name}"
    if accelerator.is_main_process:
        for stale in root.glob(".staging-*"):
            shutil.rmtree(stale)
    accelerator.wait_for_everyone()
    # The tied decoder shares the word embeddings' storage, so accelerate keeps one copy and warns at every save that
    # it removed the other; that is expected (from_pretrained re-ties it), so only errors get through here.
    saving = logging.getLogger("accelerate.utils.other")
    level = saving.level
    saving.setLevel(logging.ERROR)
    try:
        accelerator.save_state(str(staging))
    finally:
        saving.setLevel(level)
    if accelerator.is_main_process:
        (staging / TRAINING_STATE).write_text(json.dumps(asdict(state), indent=2))
        (staging / SCHEDULE_FILE).write_text(json.dumps(schedule.to_dict(), indent=2))
        final = root / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
        pointer = root / ".latest.tmp"
        pointer.write_text(name)
        os.replace(pointer, root / "latest")
        kept = sorted(p for p in root.glob("step-*") if p.is_dir() and p.name <= name)
        for old in [p for p in root.glob("step-*") if p.is_dir() and p.name > name] + kept[:-keep]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()
