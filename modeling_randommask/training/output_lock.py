"""One writer per output folder: a pretraining or fine-tuning run holds an OS file lock on
``<output_dir>/.randommask.lock`` while it runs.

Two runs started on one folder would otherwise both pass the "folder is empty" check, then delete each other's
checkpoint staging folders and interleave their losses in one ``training_log.jsonl``. The second run is refused
with a message naming the holder (pid, host, start time, written into the lock file).

Stale locks: the lock is ``flock`` on an open file, so the kernel drops it when the holding process ends in any
way (exit, exception, ``kill -9``, OOM killer); a run killed mid-way never blocks the next one, which takes the lock
and overwrites the holder line. On NFS (v4) the server drops the lock of a crashed client when its lease expires
(about 90 s). A filesystem without file locks (Lustre mounted without ``flock``) gets a warning and no lock. The
file is removed when the run ends normally.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from accelerate.utils import get_int_from_env

from ..data.options import InputError, check_output_folder

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None

logger = logging.getLogger(__name__)

LOCK_FILE = ".randommask.lock"
Run = TypeVar("Run", bound=Callable[..., Any])


class OutputDirInUseError(RuntimeError, InputError):
    """Another live run holds the output folder's lock."""


@contextmanager
def output_dir_lock(output_dir: Path, enabled: bool = True) -> Iterator[None]:
    """Hold ``output_dir``'s lock for the enclosed block (``enabled`` False: the other ranks of a run, which write
    through the main process's lock). Raises ``OutputDirInUseError`` at once if another run holds it, and
    ``NotADirectoryError`` when ``output_dir`` is a file."""
    output_dir = check_output_folder(output_dir)
    if not enabled:
        yield
        return
    created = not output_dir.exists()
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / LOCK_FILE
    try:
        with open(path, "a+", encoding="utf-8") as handle:
            if not _lock(handle, path):
                yield
                return
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} on {socket.gethostname()}, started "
                         f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")
            handle.flush()
            try:
                yield
            finally:
                path.unlink(missing_ok=True)  # still locked: a run that opened the file meanwhile is refused
    finally:
        if created and output_dir.is_dir() and not any(output_dir.iterdir()):
            output_dir.rmdir()  # a run refused before writing anything leaves no empty folder behind


def locks_output_dir(run: Run) -> Run:
    """Make ``run(args, ...)`` hold the lock of the first argument's ``output_dir`` (``PretrainArguments``, or the
    ``TrainingArguments`` of a fine-tuning run) while it runs; in a distributed run only global rank 0
    takes it (the others write through it). The rank comes from the launcher's environment, as accelerate reads it:
    creating accelerate's process state here would fix its settings before the run's ``Accelerator`` does."""

    @functools.wraps(run)
    def locked(args, *more, **kwargs):
        rank = get_int_from_env(["RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK", "PMI_RANK"], 0)
        folder = next(option.output_dir for option in (args, *more) if hasattr(option, "output_dir"))
        with output_dir_lock(Path(folder), enabled=rank == 0):
            return run(args, *more, **kwargs)

    return locked


def _lock(handle, path: Path) -> bool:
    """Take the lock without waiting: True when held, False when the filesystem cannot lock (warned)."""
    if fcntl is None:
        logger.warning("%s: file locks are not available on this system; make sure no other run writes here", path)
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "holder unknown"
        raise OutputDirInUseError(
            f"{path.parent} is in use by another run ({holder}): wait for it to end, or choose another "
            f"--output_dir (the lock is released when that process ends, even if it is killed)"
        ) from None
    except OSError as error:
        logger.warning("%s: this filesystem does not support file locks (%s); make sure no other run writes here",
                       path, error)
        return False
    return True
