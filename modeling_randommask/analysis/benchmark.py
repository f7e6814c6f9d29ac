"""Fine-tune one checkpoint on every task under some folders and print the paper's table (task, MCC x 100)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..data.options import check_output_folder
from ..data.tasks import task_folders
from ..hub.model_card import add_benchmark_results
from ..training.finetune_recipes import TRAINER_DEFAULTS, finetune_training_arguments
from ..training.finetuning import FinetuneArguments, finetune, parse_with_trainer_options


@dataclass
class BenchmarkArguments:
    """The benchmark's own option; fine-tuning options are ``FinetuneArguments`` and ``TrainingArguments``."""

    tasks: list[str] = field(metadata={"help": "task folders, or folders holding task folders"})


def parse_benchmark_args(argv: list[str] | None = None
                         ) -> tuple[BenchmarkArguments, FinetuneArguments, dict[str, Any]]:
    """The options of ``examples/benchmark_gue.py``: the Trainer options given explicitly are returned as a dict,
    to be laid over each task's own recipe."""
    (bench, args), options = parse_with_trainer_options((BenchmarkArguments, FinetuneArguments), argv)
    return bench, args, options


def benchmark_table(all_results: list[dict]) -> str:
    """The paper's layout: one row per task, primary metric x 100 as mean ± std over seeds."""
    lines = ["| task | paper column | tokenization | metric | test (x100) | seeds |", "|---|---|---|---|---|---|"]
    for r in all_results:
        m = r["test"][r["primary_metric"]]
        lines.append(f"| {r['task']} | {r['paper_column'] or '-'} | {r['tokenization']} | {r['primary_metric']} | "
                     f"{100 * m['mean']:.2f} ± {100 * m['std']:.2f} | {m['n']} |")
    return "\n".join(lines)


def task_output_name(folder: Path) -> str:
    """Folder name for one task's results: its family and task folders, e.g. ``prom-prom_core_tata``."""
    return "-".join(folder.resolve().parts[-2:])


def run_benchmark(args: FinetuneArguments, task_roots: list[str], **training_options: Any) -> str:
    """Fine-tune ``args.model`` on every task under ``task_roots``, each with the paper's recipe for its family
    under ``training_options`` (any ``TrainingArguments`` option; ``output_dir`` is the benchmark's folder, each
    task gets a sub-folder named by ``task_output_name``, and with ``push_to_hub`` each task's model goes to
    ``<hub_model_id>-<that name>``, default the name alone). Saves benchmark.json/.md there, writes the results
    into the model's card when the model is a local folder with one, and returns the table."""
    output_dir = check_output_folder(training_options.pop("output_dir", TRAINER_DEFAULTS["output_dir"]))
    hub_model_id = training_options.pop("hub_model_id", None)
    folders = [folder for root in task_roots for folder in task_folders(root)]
    runs = []
    for folder in folders:  # every task's options are checked before the first run
        name = task_output_name(folder)
        runs.append((folder, finetune_training_arguments(
            folder, output_dir=str(output_dir / name), hub_model_id=f"{hub_model_id}-{name}" if hub_model_id else None,
            **training_options)))
    results = [finetune(replace(args, task=str(folder)), training_args) for folder, training_args in runs]
    table = benchmark_table(results)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "benchmark.json").write_text(json.dumps(results, indent=2))
    (output_dir / "benchmark.md").write_text(table + "\n")
    card = Path(args.model) / "README.md"
    if card.is_file():
        mcc = {r["task"]: 100 * r["test"]["mcc"]["mean"] for r in results if r["primary_metric"] == "mcc"}
        seeds = len(results[0]["seeds"])
        add_benchmark_results(card, mcc, note=f"Test MCC x 100, mean over {seeds} seed(s) per task.")
    return table
