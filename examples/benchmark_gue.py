"""Fine-tune one checkpoint on a list of tasks and print the paper's table (task, MCC x 100).

    python examples/benchmark_gue.py --model outputs/randommask-tiny --tasks ../shared/data/gue \
        --output_dir outputs/gue --seeds 1 2 3

Every task folder under each --tasks path is run; the table is printed, saved as benchmark.md/json in
--output_dir, and written into the model's card (README.md) when the model is a local folder.
"""

from dataclasses import dataclass, field

from modeling_randommask.analysis.benchmark import run_benchmark
from modeling_randommask.data.options import parse_cli
from modeling_randommask.training.finetuning import FinetuneArguments


@dataclass
class BenchmarkArguments:
    tasks: list[str] = field(metadata={"help": "task folders, or folders holding task folders"})


if __name__ == "__main__":
    bench, finetune_args = parse_cli((BenchmarkArguments, FinetuneArguments))
    print(run_benchmark(finetune_args, bench.tasks))
