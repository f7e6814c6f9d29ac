"""Embed DNA sequences of any length with a pretrained checkpoint: one vector per sequence, or one per base.

    python examples/embed.py --model outputs/randommask-tiny --input genes.fa.gz --output genes.npy
    python examples/embed.py --model outputs/randommask-tiny --input genes.fa.gz --output genes.parquet --per_base
    python examples/embed.py --model M --input task/test.csv --output test.safetensors --reverse_complement

Sequences longer than the model's window are tiled with an overlap; the output's suffix picks the format (.npy,
.safetensors, .parquet). The logic lives in ``modeling_randommask.inference.embeddings``.
"""

import os

# Idle OpenMP threads sleep instead of spinning (set before torch loads): on a busy 2-core machine spinning threads
# made a 200-step tiny run take 302 s and 155 CPU-s instead of 70 s and 28 CPU-s (README: Quickstart).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from modeling_randommask.data.options import errors_as_messages, parse_cli
from modeling_randommask.inference.embeddings import EmbedArguments, embed_to_file

if __name__ == "__main__":
    (args,) = parse_cli(EmbedArguments)
    with errors_as_messages():
        written = embed_to_file(args)
    shape = f"{written['rows']:,} x {written['dim']}"
    print(f"wrote {shape} embeddings ({'per base' if written['per_base'] else 'per sequence'}) of "
          f"{written['sequences']:,} sequences to {', '.join(written['files'])}")
