"""Embed DNA sequences of any length with a pretrained checkpoint: one vector per sequence, or one per base.

    python examples/embed.py --model outputs/randommask-tiny --input genes.fa.gz --output genes.npy
    python examples/embed.py --model outputs/randommask-tiny --input genes.fa.gz --output genes.parquet --per_base
    python examples/embed.py --model M --input task/test.csv --output test.safetensors --average_strands

Sequences longer than the model's window are tiled with an overlap; the output's suffix picks the format (.npy,
.safetensors, .parquet). The logic lives in ``modeling_randommask.inference.embeddings``.
"""

from modeling_randommask.cli.embed import main

if __name__ == "__main__":
    main()
