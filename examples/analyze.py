"""Diagnose pretrained checkpoints (the paper's Figs. 2-5): loss by phase, attention on [CLS], k-mer embeddings; and
bits per base on held-out DNA beside an order-5 Markov baseline (--bits_fasta, --bits_rules, --pretraining_genome).

    python examples/analyze.py --models outputs/randommask-tiny --out_dir outputs/analysis
    python examples/analyze.py --models outputs/a outputs/b --labels randommask dnabert \
        --genome ../shared/data/genomes/human_chr22_20-21M.fa.gz --out_dir outputs/analysis

Writes loss_by_phase.png, attention.png, kmer_tsne.png, diagnostics.json and diagnostics.md into --out_dir and
prints the markdown table. The logic lives in ``modeling_randommask.analysis.diagnostics``.
"""

import os

# Idle OpenMP threads sleep instead of spinning (set before torch loads): on a busy 2-core machine spinning threads
# made a 200-step tiny run take 302 s and 155 CPU-s instead of 70 s and 28 CPU-s (README: Quickstart).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from modeling_randommask.analysis.diagnostics import AnalyzeArguments, analyze
from modeling_randommask.data.options import parse_cli

if __name__ == "__main__":
    (args,) = parse_cli(AnalyzeArguments)
    report = analyze(args)
    print(report["table"])
    print("\nfigures: " + ", ".join(report["figures"].values()))
