"""Zero-shot variant effect scores: log P(ALT) - log P(REF) at each SNV's base, from the masked-LM head.

    python examples/score_variants.py --model outputs/randommask-tiny --reference genome.fa.gz \
        --variants calls.vcf.gz --output scores.tsv

Writes the TSV (input columns + genome_ref, status, score) and <output>.summary.json. The logic lives in
``modeling_randommask.inference.variants``.
"""

from transformers import HfArgumentParser

from modeling_randommask.inference.variants import STATUSES, ScoreVariantsArguments, score_variants

if __name__ == "__main__":
    (args,) = HfArgumentParser(ScoreVariantsArguments, allow_abbrev=False).parse_args_into_dataclasses()
    summary = score_variants(args)
    print(", ".join(f"{status} {summary[status]:,}" for status in STATUSES if summary[status]))
    print(f"wrote {summary['alleles']:,} alleles ({summary['scored']:,} scored, {summary['masked_copies']:,} masked "
          f"copies, {summary['seconds']:.1f} s) to {summary['output']} and {summary['output']}.summary.json")
