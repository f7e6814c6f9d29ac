"""The paper's three diagnostics and bits per base, on one or more checkpoints.

``randommask analyze`` (``examples/analyze.py``).
"""

from __future__ import annotations

from ..analysis.diagnostics import AnalyzeArguments, analyze
from ..data.options import parse_cli
from .entry import run_command


def main(argv: list[str] | None = None) -> None:
    def body() -> None:
        (args,) = parse_cli(AnalyzeArguments, argv)
        report = analyze(args)
        print(report["table"])
        print("\nfigures: " + ", ".join(report["figures"].values()))

    run_command(body, __doc__)
