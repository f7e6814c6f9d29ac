"""Pretrain with the RandomMask curriculum, from scratch or a checkpoint, on FASTA, text, tables or datasets.

``randommask pretrain`` (``examples/pretrain.py``); on several devices
``accelerate launch -m modeling_randommask pretrain ...`` (or ``accelerate launch examples/pretrain.py ...``).
"""

from __future__ import annotations

from ..training.pretrain_arguments import parse_args
from ..training.pretraining import pretrain
from .entry import run_command


def main(argv: list[str] | None = None) -> None:
    run_command(lambda: pretrain(*parse_args(argv)), __doc__)
