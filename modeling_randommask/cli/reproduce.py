"""The paper's mini reproduction at CPU scale: three pretrainings, fine-tuned on GUE tasks.

``randommask reproduce`` (``examples/reproduce.py``).
"""

from __future__ import annotations

from ..analysis.reproduction import parse_reproduce_args, render_report, reproduce
from .entry import run_command


def main(argv: list[str] | None = None) -> None:
    run_command(lambda: print(render_report(reproduce(*parse_reproduce_args(argv)))), __doc__)
