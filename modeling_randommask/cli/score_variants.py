"""Zero-shot scores of variants from a VCF or a table.

``randommask score-variants`` (``examples/score_variants.py``).
"""

from __future__ import annotations

from ..data.options import parse_cli
from ..inference.variants import STATUSES, ScoreVariantsArguments, score_variants
from .entry import run_command


def main(argv: list[str] | None = None) -> None:
    def body() -> None:
        (args,) = parse_cli(ScoreVariantsArguments, argv)
        summary = score_variants(args)
        print(", ".join(f"{status} {summary[status]:,}" for status in STATUSES if summary[status]))
        print(f"wrote {summary['alleles']:,} alleles ({summary['scored']:,} scored, {summary['masked_copies']:,} "
              f"masked copies, {summary['seconds']:.1f} s) to {summary['output']} and {summary['output']}.summary.json")

    run_command(body, __doc__)
