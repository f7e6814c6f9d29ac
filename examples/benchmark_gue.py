"""Fine-tune one checkpoint on a list of tasks and print the paper's table (task, MCC x 100).

    python examples/benchmark_gue.py --model outputs/randommask-tiny --tasks GUE --output_dir outputs/gue \
        --seeds 1 2 3 --learning_rates 3e-4 1e-3 3e-3

Every task folder under each --tasks path is run with the paper's recipe for its family; Trainer options given
here (--learning_rate, --bf16, ...) win over every task's recipe. The same architecture from scratch and a k-mer
linear model are measured beside it (--no_baselines skips them), each fine-tuned model picking its own learning
rate on dev when --learning_rates lists some. The table is printed, saved as benchmark.md/json in --output_dir, and
written into the model's card (README.md) when the model is a local folder.
"""

from modeling_randommask.cli.benchmark_gue import main

if __name__ == "__main__":
    main()
