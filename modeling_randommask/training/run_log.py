"""``training_log.jsonl``: the one record of a pretraining run, written here and read here.

One JSON object per line, each with the ``step`` (optimizer updates done) it was written at:

* ``{"event": "start", "schedule": {...}, "data": {...}, ...}`` when a run starts or resumes;
* training points ``{"loss", "lr", "phase", "mask/...", "tokens_per_s", "data_wait_fraction", ...}`` (no ``event``)
  every ``log_every`` steps; the last two cover the steps since the previous point, ``data_wait_fraction`` being
  the share of that wall time the loop spent blocked on the DataLoader;
* validation points ``{"val_loss", "phase", "phase_end"}``;
* other events, e.g. ``{"event": "skipped_non_finite", "loss": NaN}``, ``{"event": "skipped_no_labels"}`` (no mask
  selected a token: no update; that step's training point has ``"loss": null``).

A write cut short (a full disk, a kill) leaves a last line without its newline: readers skip it with a warning and a
resumed run drops it, while a broken line elsewhere is an error naming the file and line.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.options import InputError
from ..data.output_files import write_whole
from ..masking.schedule import RandomMaskSchedule


class RunLogError(InputError, ValueError):
    """A training log that cannot be read back (resume, the card's figures); the message names the file and line."""


logger = logging.getLogger(__name__)

TRAINING_LOG = "training_log.jsonl"


def log_file(path: str | os.PathLike) -> Path:
    """The log itself, given the file or the run folder holding it."""
    path = Path(path)
    return path / TRAINING_LOG if path.is_dir() else path


def read_records(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) of every record; blank lines and a torn last line (no newline) are skipped."""
    path = log_file(path)
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                if not line.endswith("\n"):
                    logger.warning("%s, line %d: last line is cut short (a write was interrupted); ignored",
                                   path, line_number)
                    return
                raise RunLogError(f"{path}, line {line_number}: not a JSON record ({error})") from None
            if isinstance(record, dict):
                yield line_number, record
                continue
            raise RunLogError(f"{path}, line {line_number}: expected a JSON object, got {type(record).__name__}")


class RunLog:
    """Appends records on the main process. On resume, keeps the records up to the restored step (and drops a torn
    last line); a fresh run starts an empty log."""

    def __init__(self, path: Path, enabled: bool, resume_step: int | None = None):
        self.path, self.enabled = Path(path), enabled
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = []
        if resume_step is not None and self.path.exists():
            kept = [record for _, record in read_records(self.path) if record.get("step", 0) <= resume_step]
        write_whole(self.path, "".join(json.dumps(record) + "\n" for record in kept))  # a kill keeps the old log

    def write(self, record: dict[str, Any]) -> None:
        if self.enabled:
            with self.path.open("a") as handle:
                handle.write(json.dumps(record) + "\n")


@dataclass
class TrainingCurve:
    """What a ``training_log.jsonl`` says about the loss. ``steps`` count optimizer updates done when a record was
    written (a record at step ``s`` holds update ``s - 1``, whose phase is its ``phase``)."""

    path: Path
    steps: np.ndarray
    loss: np.ndarray
    phase: np.ndarray
    val_steps: np.ndarray
    val_loss: np.ndarray
    val_phase: np.ndarray
    phase_starts: list[int] | None
    """First update of each phase, from the run's schedule (None when the log has no start record)."""
    start: dict[str, Any] | None
    """The last ``start`` record (schedule, data statistics such as ``window_bases``), if any."""
    tokens_per_s: np.ndarray
    data_wait_fraction: np.ndarray
    """Per training point, over the steps since the previous one (NaN where a log lacks them)."""

    @property
    def num_phases(self) -> int:
        if self.phase_starts is not None:
            return len(self.phase_starts)
        return int(max(self.phase.max(initial=0), self.val_phase.max(initial=0))) + 1


def read_training_log(path: str | os.PathLike) -> TrainingCurve:
    """Parse a run's training log (the file, or the run folder holding ``training_log.jsonl``).

    A training point is a record with ``loss`` and no ``event``, a validation point one with ``val_loss``; records
    without an integer ``step`` are skipped; the phase boundaries come from the last ``start`` record's schedule.
    A resumed run whose schedule changed raises ``ValueError`` naming the file and line.
    """
    path = log_file(path)
    train: list[tuple[int, float, int | None]] = []
    timing: list[list[float]] = []
    val: list[tuple[int, float, int | None]] = []
    schedule: RandomMaskSchedule | None = None
    start: dict[str, Any] | None = None
    for line_number, record in read_records(path):
        if not isinstance(record.get("step"), int):
            continue
        step, phase = record["step"], record.get("phase")
        phase = phase if isinstance(phase, int) else None
        if record.get("event") == "start" and isinstance(record.get("schedule"), dict):
            found = _schedule_of(record["schedule"], path, line_number)
            if schedule is not None and found != schedule:
                raise RunLogError(
                    f"{path}, line {line_number}: the run was resumed with another schedule ({found} after "
                    f"{schedule}); its phases are not one curve"
                )
            schedule, start = found, record
        elif "event" not in record and isinstance(record.get("loss"), (int, float)):
            train.append((step, float(record["loss"]), phase))
            timing.append([_number(record.get(key)) for key in ("tokens_per_s", "data_wait_fraction")])
        if isinstance(record.get("val_loss"), (int, float)):
            val.append((step, float(record["val_loss"]), phase))

    def columns(points):
        steps = np.array([p[0] for p in points], dtype=np.int64)
        values = np.array([p[1] for p in points], dtype=np.float64)
        phases = np.array([_phase_of(s, p, schedule) for s, _, p in points], dtype=np.int64)
        return steps, values, phases

    steps, loss, phase = columns(train)
    val_steps, val_loss, val_phase = columns(val)
    starts = None if schedule is None else [schedule.phase_start(p) for p in range(schedule.num_phases)]
    tokens_per_s, data_wait_fraction = np.array(timing, dtype=np.float64).reshape(-1, 2).T
    return TrainingCurve(path, steps, loss, phase, val_steps, val_loss, val_phase, starts, start, tokens_per_s,
                         data_wait_fraction)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else float("nan")


def _schedule_of(values: dict, path: Path, line_number: int) -> RandomMaskSchedule:
    """The phase boundaries need only ``total_steps`` and ``num_phases``."""
    try:
        return RandomMaskSchedule(total_steps=int(values["total_steps"]), num_phases=int(values["num_phases"]))
    except (KeyError, TypeError, ValueError) as error:
        raise RunLogError(f"{path}, line {line_number}: start record's schedule is unusable ({error!r})") from None


def _phase_of(step: int, logged: int | None, schedule: RandomMaskSchedule | None) -> int:
    """The logged phase; else the phase of update ``step - 1`` under the schedule; else 0 (a single phase)."""
    if logged is not None:
        return logged
    return schedule.phase(max(step - 1, 0)) if schedule is not None else 0
