"""Checks every command line shares, run before any file is written: numbers in range, output folders that can be
folders, and a parser that refuses abbreviated option names and reports a bad value as a usage error.

Why here: the option dataclasses live in several stages (data, training, analysis); this is the lowest one.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import fields
from pathlib import Path
from typing import Any

from .. import OLD_NAMES_REMOVED_IN


def check_ranges(options: Any, *, positive: Iterable[str] = (), non_negative: Iterable[str] = ()) -> None:
    """Raise one ``ValueError`` naming every ``--option`` of ``options`` that is not a finite number > 0
    (``positive``) or >= 0 (``non_negative``). ``None`` (unset) passes; a list is checked item by item."""
    problems = []
    for names, rule, holds in ((positive, "> 0", lambda v: v > 0), (non_negative, ">= 0", lambda v: v >= 0)):
        for name in names:
            value = getattr(options, name)
            values = value if isinstance(value, (list, tuple)) else [value]
            if any(v is not None and not (math.isfinite(v) and holds(v)) for v in values):
                problems.append(f"--{name} must be {rule}, got {value!r}")
    if problems:
        raise ValueError("; ".join(problems))


def check_distinct(values: list | None, option: str) -> None:
    """Refuse a list option that repeats a value (``--seeds 1 1``): the runs would repeat, and a mean ± std over
    them would count one run twice."""
    if values is not None:
        repeated = sorted({value for value in values if values.count(value) > 1})
        if repeated:
            raise ValueError(f"{option} {' '.join(map(str, values))}: give each value once "
                             f"(repeated: {', '.join(map(str, repeated))})")


def check_output_folder(path: str | os.PathLike, option: str = "--output_dir") -> Path:
    """``path`` as a Path, or ``NotADirectoryError`` when it, or a folder it would go in, is an existing file."""
    path = Path(path)
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                where = "is a file" if candidate == path else f"would be inside {candidate}, which is a file"
                raise NotADirectoryError(f"{option} {path} {where}: give a folder")
            break
    return path


class InputError(Exception):
    """Something the user gave (a file, a folder, a checkpoint) that cannot be used; the message names it and says
    what to do. Mixed into the package's own error types so that every CLI reports them the same way."""


class OptionError(InputError, ValueError):
    """An option value (or combination) that cannot work, found after parsing (it needs a file or the task to
    decide); the message names the option."""


class CheckpointError(InputError, ValueError):
    """A checkpoint or model folder that cannot be used as asked: a pretraining checkpoint that cannot be resumed
    from, a ``config.json`` with impossible values, weights missing or not matching it, or no trained head for the
    task. One class for both, so one ``except CheckpointError`` catches either; the message names the file."""


USER_ERRORS = (FileExistsError, FileNotFoundError, NotADirectoryError, InputError)
"""What a CLI prints as one ``error:`` line instead of a traceback (``cli.entry.run_command``)."""


COMMAND_DESCRIPTION: ContextVar[str | None] = ContextVar("COMMAND_DESCRIPTION", default=None)
"""The running command's one-line description (``cli.entry.run_command`` sets it; the line ``randommask --help``
lists), shown at the top of the command's ``--help``."""


class CommandParser(argparse.ArgumentParser):
    """A parser whose ``--help`` opens with the running command's one-line description, then the usage (dozens of
    lines where the Trainer's options are offered) and the options."""

    def format_help(self) -> str:
        description = COMMAND_DESCRIPTION.get()
        return f"{description}\n\n{super().format_help()}" if description else super().format_help()


@functools.cache
def _dataclass_parser_class() -> type:
    from transformers import HfArgumentParser  # not at import: `randommask --help` loads no transformers

    return type("DataclassCommandParser", (CommandParser, HfArgumentParser), {})


def options_parser(dataclass_types: Any, defaults: dict[str, Any] | None = None) -> argparse.ArgumentParser:
    """The one way a command's ``HfArgumentParser`` is built: over ``dataclass_types``, abbreviated option names
    refused (``--max_step`` is not ``--max_steps``), the running command's description atop ``--help``, and
    ``defaults`` (a recipe, a study's budget) replacing the dataclasses' own through ``set_defaults``, so that an
    option given on the command line still wins. A default for no option is a bug, refused here (argparse would keep
    it as a stray attribute)."""
    parser = _dataclass_parser_class()(dataclass_types, allow_abbrev=False)
    if defaults:
        names = {f.name for kind in parser.dataclass_types for f in fields(kind)}
        if defaults.keys() - names:
            raise TypeError(f"defaults for no option: {sorted(defaults.keys() - names)}")
        parser.set_defaults(**defaults)
    return parser


def with_preset(dataclass_types: Any, argv: list[str] | None, defaults: dict[str, Any],
                presets: dict[str, dict[str, Any]], option: str) -> dict[str, Any]:
    """``defaults`` and then those of the preset (a recipe) that ``--<option>`` names on ``argv``, read alone first:
    the defaults to build the command's parser with, so that an option given explicitly still wins over both."""
    chosen, _ = options_parser(dataclass_types, defaults).parse_known_args(argv)  # parse_with checks the rest
    return defaults | (presets.get(getattr(chosen, option)) or {})


def parse_cli(dataclass_types: Any, argv: list[str] | None = None, defaults: dict[str, Any] | None = None) -> tuple:
    """The dataclasses of a command line (``options_parser``, with ``defaults``). A value a dataclass refuses (its
    ``__post_init__`` raises ``ValueError``) is a usage error naming the option, before anything is written."""
    return parse_with(options_parser(dataclass_types, defaults), argv)


def deprecation_note(old: str, new: str) -> str:
    """The one line every deprecated spelling (option, script, import path) prints when used."""
    return f"{old} is deprecated, use {new} (removed in {OLD_NAMES_REMOVED_IN})"


def replace_renamed_options(argv: list[str], renamed: dict[str, str]) -> list[str]:
    """``argv`` with every old option name of ``renamed`` (``{"--old": "--new"}``, the dataclasses'
    ``RENAMED_OPTIONS``) replaced by its new one, saying so once per use: old spellings keep working until
    ``OLD_NAMES_REMOVED_IN`` (CHANGELOG.md), and ``--help`` shows only the command-line vocabulary
    (docs/commands.md)."""
    replaced = []
    for arg in argv:
        name, equals, value = arg.partition("=")
        new = renamed.get("--" + name[2:].replace("-", "_")) if name.startswith("--") else None
        if new is not None:
            print(deprecation_note(name, new), file=sys.stderr)
            arg = new + equals + value
        replaced.append(arg)
    return replaced


def parse_with(parser: Any, argv: list[str] | None = None, check: Callable[[tuple], None] | None = None) -> tuple:
    """``parser``'s (an ``HfArgumentParser``) dataclasses from ``argv`` (default: the command line), then
    ``check(dataclasses)``: a ``ValueError`` from either, or an unknown (or abbreviated) option, is a usage error.
    Old option names the dataclasses list in ``RENAMED_OPTIONS`` still work, with a deprecation line."""
    renamed = {old: new for kind in parser.dataclass_types for old, new in getattr(kind, "RENAMED_OPTIONS", {}).items()}
    argv = replace_renamed_options(sys.argv[1:] if argv is None else list(argv), renamed)
    try:
        *parsed, unknown = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
        if check is not None:
            check(tuple(parsed))
    except ValueError as error:
        parser.error(str(error))
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)} (option names must be spelled in full; see --help)")
    return tuple(parsed)
