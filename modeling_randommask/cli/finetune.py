"""Fine-tune a checkpoint on one task folder, over seeds.

``randommask finetune`` (``examples/finetune.py``).
"""

from __future__ import annotations

from ..training.finetuning import finetune, finetune_summary, parse_finetune_args
from .entry import run_command


def main(argv: list[str] | None = None) -> None:
    def body() -> None:
        args, training_args = parse_finetune_args(argv)
        results = finetune(args, training_args)
        if training_args.process_index == 0:
            print(finetune_summary(results))

    run_command(body, __doc__)
