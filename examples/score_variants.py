"""Zero-shot variant effect scores: log P(ALT) - log P(REF) at each SNV's base, from the masked-LM head.

    python examples/score_variants.py --model outputs/randommask-tiny --reference genome.fa.gz \
        --variants calls.vcf.gz --output scores.tsv

Writes the TSV (input columns + genome_ref, status, score) and <output>.summary.json. The logic lives in
``modeling_randommask.inference.variants``.
"""

import os

# Idle OpenMP threads sleep instead of spinning (set before torch loads): on a busy 2-core machine spinning threads
# made a 200-step tiny run take 302 s and 155 CPU-s instead of 70 s and 28 CPU-s (README: Quickstart).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from modeling_randommask.data.options import errors_as_messages, parse_cli
from modeling_randommask.inference.variants import STATUSES, ScoreVariantsArguments, score_variants

if __name__ == "__main__":
    (args,) = parse_cli(ScoreVariantsArguments)
    with errors_as_messages():
        summary = score_variants(args)
    print(", ".join(f"{status} {summary[status]:,}" for status in STATUSES if summary[status]))
    print(f"wrote {summary['alleles']:,} alleles ({summary['scored']:,} scored, {summary['masked_copies']:,} masked "
          f"copies, {summary['seconds']:.1f} s) to {summary['output']} and {summary['output']}.summary.json")
