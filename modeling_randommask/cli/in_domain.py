"""``randommask-in-domain`` (``examples/in_domain.py``): the in-domain study on human DNA, DNABERT masking against
RandomMask over seeds, against Markov models, random weights and a 6-mer model."""

from __future__ import annotations

from ..analysis.in_domain import InDomainArguments, in_domain, render_report
from ..data.options import parse_cli
from .entry import run_command


def main(argv: list[str] | None = None) -> None:
    def body() -> None:
        (args,) = parse_cli(InDomainArguments, argv)
        print(render_report(in_domain(args)))
        print(f"wrote {args.output_dir}/report.md and results.json")

    run_command(body)
