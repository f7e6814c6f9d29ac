"""Embeddings of DNA sequences of any length, per sequence or per base.

``randommask embed`` (``examples/embed.py``).
"""

from __future__ import annotations

from ..data.options import parse_cli
from ..inference.embeddings import EmbedArguments, embed_to_file
from .entry import run_command


def main(argv: list[str] | None = None) -> None:
    def body() -> None:
        (args,) = parse_cli(EmbedArguments, argv)
        written = embed_to_file(args)
        shape = f"{written['rows']:,} x {written['dim']}"
        print(f"wrote {shape} embeddings ({'per base' if written['per_base'] else 'per sequence'}) of "
              f"{written['sequences']:,} sequences to {', '.join(written['files'])}")

    run_command(body, __doc__)
