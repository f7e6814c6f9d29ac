"""Diagnose pretrained checkpoints (the paper's Figs. 2-5): loss by phase, attention on [CLS], k-mer embeddings; and
bits per base on held-out DNA beside an order-5 Markov baseline (--bits_genome, --bits_rules, --pretraining_genome).

    python examples/analyze.py --model outputs/randommask-tiny --output_dir outputs/analysis
    python examples/analyze.py --model outputs/a outputs/b --labels randommask dnabert \
        --genome ../shared/data/genomes/human_chr22_20-21M.fa.gz --output_dir outputs/analysis

Writes loss_by_phase.png, attention.png, kmer_tsne.png, diagnostics.json and diagnostics.md into --output_dir and
prints the markdown table. The logic lives in ``modeling_randommask.analysis.diagnostics``.
"""

from modeling_randommask.cli.analyze import main

if __name__ == "__main__":
    main()
