"""Embed DNA sequences of any length with a pretrained checkpoint: one vector per sequence, or one per base.

    python examples/embed.py --model outputs/randommask-tiny --input genes.fa.gz --output genes.npy
    python examples/embed.py --model outputs/randommask-tiny --input genes.fa.gz --output genes.parquet --per_base
    python examples/embed.py --model M --input task/test.csv --output test.safetensors --reverse_complement

Sequences longer than the model's window are tiled with an overlap; the output's suffix picks the format (.npy,
.safetensors, .parquet). The logic lives in ``modeling_randommask.inference.embeddings``.
"""

from transformers import HfArgumentParser

from modeling_randommask.inference.embeddings import EmbedArguments, embed_to_file

if __name__ == "__main__":
    (args,) = HfArgumentParser(EmbedArguments, allow_abbrev=False).parse_args_into_dataclasses()
    written = embed_to_file(args)
    shape = f"{written['rows']:,} x {written['dim']}"
    print(f"wrote {shape} embeddings ({'per base' if written['per_base'] else 'per sequence'}) of "
          f"{written['sequences']:,} sequences to {', '.join(written['files'])}")
