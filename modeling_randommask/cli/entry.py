"""One entry wrapper for every command: environment, logging, and errors.

An expected error (``USER_ERRORS``: a file, folder, option or checkpoint the user gave that cannot be used; the
message names it) ends the command with one ``error:`` line and status 1; ``RANDOMMASK_TRACEBACK=1`` shows its
traceback too. Anything else is a bug and keeps its traceback. Ctrl-C ends with status 130 and no traceback.

Multi-process runs (accelerate, torchrun) tear their process group down here, before the interpreter exits: left to
interpreter shutdown, gloo process groups abort the process about one run in three, after the work was saved.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from ..data.options import USER_ERRORS


def _close_process_group() -> None:
    """Destroy torch.distributed's default process group if this run made one (torch is not imported otherwise)."""
    distributed = sys.modules.get("torch.distributed")
    if distributed is not None and distributed.is_available() and distributed.is_initialized():
        distributed.destroy_process_group()


def run_command(body: Callable[[], object]) -> None:
    """Run one command's ``body`` (parse options, work, print the closing line) the way every CLI does."""
    logging.basicConfig(format="%(message)s")
    logging.getLogger("modeling_randommask").setLevel(logging.INFO)
    try:
        body()
    except USER_ERRORS as error:
        if os.environ.get("RANDOMMASK_TRACEBACK"):
            raise
        sys.stdout.flush()
        sys.exit(f"error: {error}")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)  # the shell's status for a command ended by Ctrl-C
    finally:
        _close_process_group()
        sys.stdout.flush()
        sys.stderr.flush()
