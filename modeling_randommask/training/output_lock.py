"""One writer per output folder: a pretraining or fine-tuning run holds an OS file lock on
``<output_dir>/.randommask.lock`` (``filelock``, ``flock`` on Unix) while it runs.

Two runs started on one folder would otherwise both pass the "folder is empty" check, then delete each other's
checkpoint staging folders and interleave their losses in one ``training_log.jsonl``. The second run is refused
with a message naming the holder (pid, host, start time, written into the lock file once the lock is held).

The lock file stays when the run ends: unlinking it while held let a run that had opened it just before lock the
deleted file while a third run created and locked a fresh one, so two runs held one folder. Stale locks cannot
block: the kernel drops a ``flock`` when its process ends in any way (exit, exception, ``kill -9``, OOM killer),
and on NFS (v4) the server drops a crashed client's lock when its lease expires (about 90 s). A filesystem
without file locks (Lustre mounted without ``flock``) gets a warning and no lock.
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
from filelock import FileLock, Timeout

from ..data.options import InputError, check_output_folder

logger = logging.getLogger(__name__)

LOCK_FILE = ".randommask.lock"
Run = TypeVar("Run", bound=Callable[..., Any])


class OutputDirInUseError(RuntimeError, InputError):
    """Another live run holds the output folder's lock."""


def _record_holder(descriptor: int) -> None:
    """Write who holds the lock into the (locked) lock file, for the message of a run refused meanwhile."""
    line = f"pid {os.getpid()} on {socket.gethostname()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, line.encode(), 0)


@contextmanager
def output_dir_lock(output_dir: Path, enabled: bool = True) -> Iterator[None]:
    """Hold ``output_dir``'s lock for the enclosed block (``enabled`` False: the other ranks of a run, which write
    through the main process's lock). Raises ``OutputDirInUseError`` at once if another run holds it, and
    ``NotADirectoryError`` when ``output_dir`` is a file."""
    output_dir = check_output_folder(output_dir)
    if not enabled:
        yield
        return
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / LOCK_FILE
    # Not a singleton and not shared between threads: every call is one more contender, refused while held.
    lock = FileLock(path, blocking=False, preserve_lock_file=True, on_acquired=_record_holder)
    try:
        lock.acquire()
    except Timeout:
        holder = path.read_text(encoding="utf-8", errors="replace").strip() if path.is_file() else ""
        raise OutputDirInUseError(
            f"{output_dir} is in use by another run ({holder or 'holder unknown'}): wait for it to end, or choose "
            f"another --output_dir (the lock is released when that process ends, even if it is killed)"
        ) from None
    except OSError as error:
        logger.warning("%s: this filesystem does not support file locks (%s); make sure no other run writes here",
                       path, error)
        yield
        return
    try:
        yield
    finally:
        os.truncate(path, 0)  # still held: the holder line goes, the file stays (see the module docstring)
        lock.release()


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
