"""Parse FASTA files, sequence files or a dataset once into the memory-mapped corpus store that pretraining maps.

``randommask prepare-corpus`` (``examples/prepare_corpus.py``): every rank of later pretraining runs maps the
store instead of parsing the inputs.
"""

from __future__ import annotations

from ..data.corpus_store import CorpusArguments, prepare
from ..data.options import parse_cli
from ..data.sequence_sources import SequenceSourceOptions
from .entry import run_command


def main(argv: list[str] | None = None) -> None:
    run_command(lambda: print(prepare(*parse_cli((CorpusArguments, SequenceSourceOptions), argv))), __doc__)
