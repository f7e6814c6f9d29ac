"""One entry wrapper for every command: environment, logging, and errors.

An expected error (``USER_ERRORS``: a file, folder, option or checkpoint the user gave that cannot be used; the
message names it) ends the command with one ``error:`` line and status 1; ``RANDOMMASK_TRACEBACK=1`` shows its
traceback too. So does an ``OSError`` that names a file and comes from the system, not the code (``SYSTEM_ERRNOS``:
permission denied, disk full, file too large, read-only): the message is the file and the reason. Anything else is a
bug and keeps its traceback. Ctrl-C ends with status 130 and SIGTERM (``kill``, ``timeout``, Slurm's ``scancel``,
``docker stop``) with 143, both without a traceback and after the same cleanup as an error: partial output files are
removed, locks released.

Multi-process runs (accelerate, torchrun) tear their process group down here, before the interpreter exits: left to
interpreter shutdown, gloo process groups abort the process about one run in three, after the work was saved.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

from ..data.options import COMMAND_DESCRIPTION, USER_ERRORS
from ..data.output_files import SYSTEM_ERRNOS


class Terminated(BaseException):
    """SIGTERM, raised where the main thread is, so that every ``finally`` and partial-file cleanup runs."""


def _terminate(signum, frame) -> None:
    if os.getpid() != _MAIN_PID:  # a forked worker (e.g. a DataLoader's): the default SIGTERM, at once
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    raise Terminated


_MAIN_PID = os.getpid()


def _close_process_group() -> None:
    """Destroy torch.distributed's default process group if this run made one (torch is not imported otherwise)."""
    distributed = sys.modules.get("torch.distributed")
    if distributed is not None and distributed.is_available() and distributed.is_initialized():
        distributed.destroy_process_group()


def run_command(body: Callable[[], object], doc: str | None = None) -> None:
    """Run one command's ``body`` (parse options, work, print the closing line) the way every CLI does; ``doc`` is
    the command module's docstring, whose first line (the one ``randommask --help`` lists) heads its ``--help``."""
    global _MAIN_PID
    description = COMMAND_DESCRIPTION.set(doc.splitlines()[0] if doc else None)
    logging.basicConfig(format="%(message)s")
    logging.getLogger("modeling_randommask").setLevel(logging.INFO)
    _MAIN_PID = os.getpid()
    if threading.current_thread() is threading.main_thread():  # (signal handlers can only be set there)
        signal.signal(signal.SIGTERM, _terminate)
    try:
        body()
    except (*USER_ERRORS, OSError) as error:
        system = isinstance(error, OSError) and error.errno in SYSTEM_ERRNOS and error.filename is not None
        if os.environ.get("RANDOMMASK_TRACEBACK") or not (isinstance(error, USER_ERRORS) or system):
            raise
        sys.stdout.flush()
        sys.exit(f"error: {error.filename}: {error.strerror}" if system else f"error: {error}")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)  # the shell's status for a command ended by Ctrl-C
    except Terminated:
        print("terminated (SIGTERM)", file=sys.stderr)
        sys.exit(143)  # the shell's status for a command ended by SIGTERM
    finally:
        COMMAND_DESCRIPTION.reset(description)
        _close_process_group()
        sys.stdout.flush()
        sys.stderr.flush()
