"""Fine-tune one checkpoint on a list of tasks and print the paper's table (task, MCC x 100).

    python examples/benchmark_gue.py --model outputs/randommask-tiny --tasks GUE --output_dir outputs/gue \
        --seeds 1 2 3 --learning_rates 3e-4 1e-3 3e-3

Every task folder under each --tasks path is run with the paper's recipe for its family; Trainer options given
here (--learning_rate, --bf16, ...) win over every task's recipe. The same architecture from scratch and a k-mer
linear model are measured beside it (--no_baselines skips them), each fine-tuned model picking its own learning
rate on dev when --learning_rates lists some. The table is printed, saved as benchmark.md/json in --output_dir, and
written into the model's card (README.md) when the model is a local folder.
"""

import logging
import os
import sys

# Idle OpenMP threads sleep instead of spinning (set before torch loads): on a busy 2-core machine spinning threads
# made a 200-step tiny run take 302 s and 155 CPU-s instead of 70 s and 28 CPU-s (README: Quickstart).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from modeling_randommask.analysis.benchmark import parse_benchmark_args, run_benchmark
from modeling_randommask.data.options import errors_as_messages

if __name__ == "__main__":
    logging.basicConfig(format="%(message)s")
    logging.getLogger("modeling_randommask").setLevel(logging.INFO)
    bench, args, training_options = parse_benchmark_args()
    with errors_as_messages():
        print(run_benchmark(args, bench.tasks, baselines=bench.baselines, learning_rates=bench.learning_rates,
                            **training_options))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # gloo process groups can abort at interpreter exit; everything is written by now
