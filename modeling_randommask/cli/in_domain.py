"""The in-domain study on human DNA: DNABERT masking against RandomMask over seeds.

``randommask in-domain`` (``examples/in_domain.py``), against Markov models, random weights and a 6-mer model
too.
"""

from __future__ import annotations

from ..analysis.in_domain import in_domain, parse_in_domain_args, render_report
from .entry import run_command


def main(argv: list[str] | None = None) -> None:
    def body() -> None:
        args, pretraining, data = parse_in_domain_args(argv)
        report = in_domain(args, pretraining, data)
        if report.get("stopped_after") == "pretrain":
            print(f"wrote the pretrained models under {pretraining.output_dir}; run the same command without "
                  "--stop_after (one process) to measure and fine-tune them")
            return
        print(render_report(report))
        print(f"wrote {pretraining.output_dir}/report.md and results.json")

    run_command(body, __doc__)
