"""``randommask <command> [options]``: every command behind one name, as ``hf``, ``accelerate`` and
``transformers`` do, with ``--help`` (the commands, one line each), ``--version`` and ``env``.

Also ``python -m modeling_randommask <command>``, which ``accelerate launch -m modeling_randommask pretrain`` runs
once per process. The listing reads each command's first docstring line without importing the command, so
``randommask --help`` loads neither torch nor transformers.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
import sys
from pathlib import Path

from .. import __doc__ as package_doc
from .. import __version__
from ..data.options import deprecation_note

COMMANDS = ("prepare-corpus", "pretrain", "make-demo-task", "finetune", "benchmark-gue", "embed", "score-variants",
            "analyze", "reproduce", "in-domain", "env")
"""In a project's order; ``randommask <name>`` runs the module ``cli/<name with _>.py``."""


def command_module(command: str) -> str:
    return f"{__package__}.{command.replace('-', '_')}"


def summary(command: str) -> str:
    """The first line of the command module's docstring, read without importing the module."""
    source = Path(importlib.util.find_spec(command_module(command)).origin).read_text(encoding="utf-8")
    return ast.get_docstring(ast.parse(source)).splitlines()[0]


def usage() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {command:<{width}}  {summary(command)}" for command in COMMANDS)
    return (f"usage: randommask <command> [options]\n\n{package_doc.splitlines()[0]}\n\ncommands:\n{rows}\n\n"
            "options:\n  -h, --help  show this list and exit\n  --version   show the version and exit\n\n"
            "`randommask <command> --help` shows the command's options. On several devices:\n"
            "  accelerate launch -m modeling_randommask pretrain [options]")


def refuse(word: str) -> None:
    """One error line for an unknown command or option, with the commands it may have meant; status 2."""
    close = difflib.get_close_matches(word.lstrip("-").replace("_", "-"), COMMANDS, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    kind = "option" if word.startswith("-") else "command"
    print(f"error: unknown {kind} {word!r}: {hint}`randommask --help` lists the commands", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    """``randommask <command> [options]`` (default: the command line)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        sys.exit(0 if argv else 2)
    if argv[0] == "--version":
        print(f"randommask {__version__}")
        return
    command, options = argv[0], argv[1:]
    if command not in COMMANDS:
        refuse(command)
    sys.argv = [f"randommask {command}", *options]  # argparse names the command in its usage and error lines
    importlib.import_module(command_module(command)).main(options)


def old_script() -> None:
    """``randommask-<command>``, the scripts before ``randommask <command>``: runs the command, saying so."""
    command = Path(sys.argv[0]).stem.removeprefix("randommask-")  # stem: Windows' launchers end in .exe
    print(deprecation_note(f"randommask-{command}", f"`randommask {command}`"), file=sys.stderr)
    main([command, *sys.argv[1:]])
