"""Zero-shot variant effect scores: log P(ALT) - log P(REF) at each SNV's base, from the masked-LM head.

    python examples/score_variants.py --model outputs/randommask-tiny --genome genome.fa.gz \
        --variants calls.vcf.gz --output scores.tsv

Writes the TSV (input columns + genome_ref, status, score) and <output>.summary.json. The logic lives in
``modeling_randommask.inference.variants``.
"""

from modeling_randommask.cli.score_variants import main

if __name__ == "__main__":
    main()
