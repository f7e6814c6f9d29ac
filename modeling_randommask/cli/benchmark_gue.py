"""Fine-tune a checkpoint on several tasks, beside a 6-mer model and the same model from scratch.

``randommask benchmark-gue`` (``examples/benchmark_gue.py``).
"""

from __future__ import annotations

from ..analysis.benchmark import parse_benchmark_args, run_benchmark
from .entry import run_command


def main(argv: list[str] | None = None) -> None:
    def body() -> None:
        bench, args, training_options = parse_benchmark_args(argv)
        print(run_benchmark(args, bench.tasks, baselines=bench.baselines, learning_rates=bench.learning_rates,
                            **training_options))

    run_command(body, __doc__)
