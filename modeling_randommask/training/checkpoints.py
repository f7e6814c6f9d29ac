"""Resumable pretraining checkpoints: ``checkpoints/step-N`` folders and an atomically moved ``latest`` pointer.

Each checkpoint is ``accelerator.save_state`` (weights, optimizer, RNG states) plus ``scheduler.json`` (the learning
rate schedule), ``training_state.json`` (the data position and fault counters), the masking state
(``masking.saved_masking``), ``run_settings.json`` (every option that changes what the run computes) and, written
last, ``manifest.json`` (size and SHA-256 of every other file). It is written into a staging folder, every file
flushed to disk, renamed into place, and only then does ``latest`` move: a crash at any moment leaves ``latest``
naming a complete checkpoint. A resume first checks every file against the manifest, so a truncated or corrupted
file is refused by name instead of loading half (accelerate only logs a bad RNG-state file, and the resumed run then
silently differs from an uninterrupted one).

The trust rule: a manifest proves that files were not damaged, not who wrote them (whoever can plant a pickle can
write its checksum too). So no pickle of a checkpoint folder is ever unpickled with ``weights_only=False`` (which
runs any code it holds) unless the user passes ``--trust_checkpoint_pickles``: the scheduler is saved as JSON, not
through accelerate's ``custom_checkpoint_0.pkl``, whose loader always unpickles fully; an older checkpoint's
``custom_checkpoint_0.pkl`` is read with ``weights_only=True`` (plain data only); RNG states and the optimizer are
read by accelerate with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from accelerate import Accelerator

from ..data.options import CheckpointError, OptionError
from ..data.output_files import replace_folder, write_whole
from ..masking.saved_masking import write_masking_state
from ..masking.schedule import RandomMaskSchedule
from .output_lock import LOCK_FILE

logger = logging.getLogger(__name__)

TRAINING_STATE = "training_state.json"
SETTINGS_FILE = "run_settings.json"
MANIFEST = "manifest.json"
SCHEDULER_FILE = "scheduler.json"
OLD_SCHEDULER_FILE = "custom_checkpoint_0.pkl"
"""Where checkpoints written before ``SCHEDULER_FILE`` keep the schedule (accelerate's pickle of it)."""
RNG_WAIVER = "rng_state"
"""The ``--allow_resume_changes`` name that accepts resuming from a checkpoint without this rank's RNG state."""


@dataclass
class TrainingState:
    """Everything besides ``accelerator.save_state`` that a resumed run needs to continue exactly."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    consecutive_faults: int = 0
    skipped_steps: int = 0
    tokens_seen: int = 0
    """Non-padding tokens trained on so far, over all processes (for the card; 0 in checkpoints of older versions)."""
    resumed_with_changes: list[dict[str, Any]] = field(default_factory=list)
    """One entry per resume that was allowed to change settings: ``{"step": N, "changes": {name: [old, new]}}``."""


def resolve_checkpoint(output_dir: Path, resume: str) -> Path:
    """The checkpoint folder ``--resume_from_checkpoint`` names (``latest`` or a path), checked to exist."""
    if resume != "latest":
        checkpoint = Path(resume)
        if not checkpoint.is_dir():
            raise FileNotFoundError(f"--resume_from_checkpoint {resume}: no such checkpoint folder")
        return checkpoint
    pointer = output_dir / "checkpoints" / "latest"
    if not pointer.exists():
        raise FileNotFoundError(f"--resume_from_checkpoint latest: no {pointer} (no checkpoint was completed)")
    checkpoint = output_dir / "checkpoints" / pointer.read_text().strip()
    if not checkpoint.is_dir():
        raise CheckpointError(f"{pointer} names {checkpoint.name}, which does not exist{_others(checkpoint)}")
    return checkpoint


def check_output_dir(output_dir: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to overwrite a finished model or other files unless asked; resuming needs the folder."""
    if resume or not output_dir.exists():
        return
    if overwrite:
        shutil.rmtree(output_dir / "checkpoints", ignore_errors=True)
        return
    if any(path.name != LOCK_FILE for path in output_dir.iterdir()):
        raise FileExistsError(
            f"{output_dir} is not empty: pass --resume_from_checkpoint latest to continue it, "
            "--overwrite_output_dir to replace it, or another --output_dir"
        )


def save_training_checkpoint(accelerator: Accelerator, output_dir: Path, state: TrainingState, scheduler: Any,
                             schedule: RandomMaskSchedule, settings: dict[str, Any], keep: int) -> None:
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
        write_whole(staging / SCHEDULER_FILE, json.dumps(scheduler.state_dict(), indent=2))
        write_whole(staging / TRAINING_STATE, json.dumps(asdict(state), indent=2))
        write_masking_state(staging, schedule.to_dict())
        write_whole(staging / SETTINGS_FILE, json.dumps(settings, indent=2))
    accelerator.wait_for_everyone()  # every rank's RNG state is written before the manifest lists the files
    if accelerator.is_main_process:
        _write_manifest(staging)
        replace_folder(staging, root / name)
        write_whole(root / "latest", name)
        kept = sorted(p for p in root.glob("step-*") if p.is_dir() and p.name <= name)
        for old in [p for p in root.glob("step-*") if p.is_dir() and p.name > name] + kept[:-keep]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()


# ---- verifying a checkpoint before resuming from it -------------------------------------------------------------

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def _write_manifest(folder: Path) -> None:
    """Size and SHA-256 of every file in ``folder``; written last, so its presence means the others are complete."""
    files = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        files[path.name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    write_whole(folder / MANIFEST, json.dumps({"files": files}, indent=2))


def _others(checkpoint: Path) -> str:
    """The hint of an error about one checkpoint: the other checkpoints beside it, to resume from instead."""
    others = sorted(p for p in checkpoint.parent.glob("step-*") if p.is_dir() and p != checkpoint)
    if not others:
        return ""
    return (f"; resume from an earlier checkpoint instead, e.g. --resume_from_checkpoint {others[-1]} "
            f"(checkpoints there: {', '.join(p.name for p in others)})")


def read_json(path: Path, what: str) -> Any:
    """A checkpoint's JSON file, or ``CheckpointError`` naming it when it is missing, empty or not JSON."""
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing ({what}){_others(path.parent)}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        problem = "empty" if not path.stat().st_size else f"not valid JSON ({error})"
        raise CheckpointError(f"{path}: {problem} ({what}); the checkpoint is damaged{_others(path.parent)}") from None


def verify_checkpoint(checkpoint: Path, trust_pickles: bool = False) -> None:
    """Refuse a checkpoint whose files do not match its manifest (missing, truncated, corrupted), naming the file.
    A checkpoint without a manifest (written by an older version, or not by this package) cannot be checked: it is
    refused when resuming would unpickle files of it (pickle runs any code it holds: accelerate's
    ``custom_checkpoint_*.pkl``, ``random_states_*.pkl``) unless ``trust_pickles`` (``--trust_checkpoint_pickles``),
    and resumed with a warning otherwise."""
    if not (checkpoint / MANIFEST).is_file():
        pickles = sorted(path.name for path in checkpoint.glob("*.pkl"))
        if pickles and not trust_pickles:
            raise CheckpointError(
                f"{checkpoint}: no {MANIFEST}, so nothing says this package wrote it, and resuming would unpickle "
                f"{', '.join(pickles)} (a pickle can run any code): pass --trust_checkpoint_pickles if you trust "
                f"these files (a checkpoint of your own older run){_others(checkpoint)}")
        logger.warning("%s: no %s (written by an older version): its files cannot be checked before resuming",
                       checkpoint, MANIFEST)
        return
    manifest = read_json(checkpoint / MANIFEST, "size and checksum of every checkpoint file")
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(isinstance(entry, dict) and isinstance(entry.get("bytes"), int)
                                              and isinstance(entry.get("sha256"), str) for entry in files.values()):
        raise CheckpointError(f"{checkpoint / MANIFEST}: not a manifest ({{\"files\": {{name: {{\"bytes\": ..., "
                              f"\"sha256\": ...}}}}}}); the checkpoint is damaged{_others(checkpoint)}")
    for name, expected in files.items():
        path = checkpoint / name
        if not path.is_file():
            raise CheckpointError(f"{path}: missing from the checkpoint{_others(checkpoint)}")
        size = path.stat().st_size
        if size != expected["bytes"]:
            raise CheckpointError(f"{path}: {size:,} bytes, {expected['bytes']:,} were written (truncated or "
                                  f"overwritten){_others(checkpoint)}")
        if _sha256(path) != expected["sha256"]:
            raise CheckpointError(f"{path}: contents differ from what was written (corrupted){_others(checkpoint)}")


def read_checkpoint_pickle(path: Path, trust: bool, what: str) -> Any:
    """The one way a pickle of a checkpoint folder is read (the module's trust rule): as plain data
    (``weights_only=True``) unless ``trust`` (``--trust_checkpoint_pickles``); a pickle that needs more is refused,
    naming it, and nothing in it runs."""
    import torch
    from accelerate.utils.other import TORCH_SAFE_GLOBALS

    try:
        if trust:
            return torch.load(path, map_location="cpu", weights_only=False)
        with torch.serialization.safe_globals(TORCH_SAFE_GLOBALS):  # numpy arrays of RNG states: plain data too
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing ({what}){_others(path.parent)}") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise CheckpointError(
            f"{path}: not plain data ({what}; {' '.join(str(error).split())[:200]}): it was not written by this "
            "package, or is damaged. Nothing in it was run. Pass --trust_checkpoint_pickles only if you trust this "
            f"file (a pickle can run any code){_others(path.parent)}") from None


def load_resume_state(accelerator: Accelerator, checkpoint: Path, scheduler: Any, trust_pickles: bool,
                      allowed: list[str]) -> dict[str, list]:
    """Load the checkpoint's weights, optimizer, RNG states and schedule into the run (after ``verify_checkpoint``).
    This rank's RNG state must be there and readable, or the resumed run would silently differ from an
    uninterrupted one: refused, unless ``RNG_WAIVER`` is ``allowed`` (then returned as a change, for the log and
    the card)."""
    changes = {}
    rng = checkpoint / f"random_states_{accelerator.process_index}.pkl"
    if rng.is_file():
        read_checkpoint_pickle(rng, trust_pickles, "this rank's RNG state")  # accelerate would only log a failure
    elif RNG_WAIVER in allowed:
        logger.warning("%s: missing; resuming with fresh random states (not exact), as --allow_resume_changes %s "
                       "accepts", rng, RNG_WAIVER)
        changes[RNG_WAIVER] = ["missing", "fresh"]
    else:
        raise CheckpointError(f"{rng}: missing (this rank's RNG state), so the resumed run would not continue the "
                              f"original exactly: pass --allow_resume_changes {RNG_WAIVER} to resume anyway (the log "
                              f"and the card say so){_others(checkpoint)}")
    if (checkpoint / SCHEDULER_FILE).is_file():
        scheduler_state = read_json(checkpoint / SCHEDULER_FILE, "the learning rate schedule")
    else:
        scheduler_state = read_checkpoint_pickle(checkpoint / OLD_SCHEDULER_FILE, trust_pickles,
                                                 "the learning rate schedule, as older versions saved it")
    # accelerate refuses a folder with more custom_checkpoint_*.pkl files than registered objects (none here: it
    # would unpickle them fully), so it reads a view of the folder without them.
    with tempfile.TemporaryDirectory(prefix="randommask-resume-") as view:
        for path in checkpoint.iterdir():
            if not re.fullmatch(r"custom_checkpoint_\d+\.pkl", path.name):
                (Path(view) / path.name).symlink_to(path.resolve())
        accelerator.load_state(view)
    scheduler.load_state_dict(scheduler_state)
    return changes


def _short(value: Any) -> str:
    """A value for a one-line message: a SHA-256 digest cut to its first 12 characters."""
    return repr(value[:12] + "...") if isinstance(value, str) and re.fullmatch("[0-9a-f]{64}", value) else repr(value)


def describe_change(name: str, old: Any, new: Any) -> str:
    """``name: old -> new``; of a dict (the genome), only the keys that differ; of lists of one length (the genome's
    files), only the items that differ, by index."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = [key for key in {**old, **new} if old.get(key) != new.get(key)]
        return f"{name}: " + ", ".join(f"{key} {_short(old.get(key))} -> {_short(new.get(key))}" for key in keys)
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and old != new:
        return f"{name}: " + ", ".join(f"[{index}] {_short(before)} -> {_short(after)}"
                                       for index, (before, after) in enumerate(zip(old, new)) if before != after)
    return f"{name}: {_short(old)} -> {_short(new)}"


def format_changes(changes: dict[str, list]) -> str:
    """``name: old -> new; ...`` for settings changed on resume (``{name: [old, new]}``)."""
    return "; ".join(describe_change(name, old, new) for name, (old, new) in changes.items())


def check_resume_settings(checkpoint: Path, current: dict[str, Any], allowed: list[str],
                          fixed: tuple[str, ...], renamed: dict[str, str] | None = None,
                          noted: dict[str, str] | None = None,
                          upgrade: Callable[[dict], dict] | None = None) -> dict[str, list]:
    """Compare this run's settings with those the checkpoint was trained with; return the changes ``allowed``
    accepts (``{name: [old, new]}``). Any other change, or any change of a ``fixed`` setting, is refused, one line
    per setting: resuming would no longer continue the run exactly (or, for the model's shape, could not load it at
    all). ``noted`` (``{setting: the setting it describes}``) are not compared (the genome's paths: its content is):
    their changes are logged, and they are listed when the setting they describe is refused (to say which file).
    ``renamed`` (``{"--old": "--new"}``) reads a setting an older version recorded, or a change allowed, under its
    old name; ``upgrade`` rewrites the rest of an older version's record."""
    new_name = {old.removeprefix("--"): new.removeprefix("--") for old, new in (renamed or {}).items()}
    allowed = [new_name.get(name, name) for name in allowed]
    path = checkpoint / SETTINGS_FILE
    if not path.is_file():
        logger.warning("%s: no %s (written by an older version): settings cannot be compared", checkpoint,
                       SETTINGS_FILE)
        return {}
    saved = {new_name.get(name, name): value
             for name, value in read_json(path, "the settings the checkpoint was trained with").items()}
    saved = upgrade(saved) if upgrade is not None else saved
    noted = {name: of for name, of in (noted or {}).items() if name in current}
    compared = sorted(set(current) - set(noted))
    unknown = sorted(set(allowed) - set(compared) - {RNG_WAIVER})
    if unknown:
        raise OptionError(f"--allow_resume_changes {' '.join(unknown)}: not a setting a resume compares; these are: "
                          f"{', '.join(sorted([*compared, RNG_WAIVER]))}")
    changes = {name: [saved.get(name), current[name]] for name in current
               if name in compared and saved.get(name) != current[name]}
    if not changes:
        for name in noted:
            if saved.get(name) != current[name]:
                logger.warning("resuming with %s (not compared: the run continues exactly)",
                               describe_change(name, saved.get(name), current[name]))
        return {}
    lines = [describe_change(name, old, new) for name, (old, new) in changes.items()]
    lines += [describe_change(f"{name} (not compared)", saved.get(name), current[name])
              for name, of in noted.items() if of in changes]
    listed = "".join(f"\n  {line}" for line in lines)
    never = [name for name in changes if name in fixed]
    if never:
        raise CheckpointError(f"{path}: the checkpoint was trained with other {', '.join(never)}:{listed}\nThese "
                              "never change on resume (the weights' shapes, the masking curriculum): resume with the "
                              "checkpoint's values, or start a new run")
    refused = [name for name in changes if name not in allowed]
    if refused:
        raise CheckpointError(
            f"{path}: resuming with changed settings would not continue the run exactly:{listed}\nResume with the "
            f"checkpoint's values, or accept the change with --allow_resume_changes {' '.join(refused)} (written into "
            "the training log and the model card)")
    logger.warning("resuming with changed settings (allowed): %s", format_changes(changes))
    return changes
