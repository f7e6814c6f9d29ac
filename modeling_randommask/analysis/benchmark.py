"""Fine-tune one checkpoint on every task under some folders and print the paper's table (task, MCC x 100)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.options import OptionError, check_output_folder, check_ranges
from ..data.output_files import write_whole
from ..data.tasks import task_folders
from ..hub.model_card import add_benchmark_results, set_card_section
from ..training.finetune_recipes import TRAINER_DEFAULTS, finetune_training_arguments
from ..training.finetuning import (
    FinetuneOptions,
    best_model_metric,
    check_selection_options,
    parse_with_trainer_options,
)
from .baselines import (
    BaselineOptions,
    compare_on_task,
    finetune_with_tuned_rate,
    format_gain,
    from_scratch_folder,
    score,
)

TASKS_HELP = "task folders (GUE layout), or folders holding them (e.g. ../shared/data/gue)"
"""What ``--tasks`` takes wherever every task under a folder is run (``data.tasks.task_folders``)."""


@dataclass
class BenchmarkArguments(BaselineOptions):
    """The benchmark's own options; fine-tuning options are ``FinetuneOptions`` and ``TrainingArguments``."""

    tasks: list[str] = field(metadata={"help": TASKS_HELP})
    learning_rates: list[float] = field(default_factory=list, metadata={
        "help": "learning rates to choose from on dev, for the pretrained model and the from-scratch one apart "
                "(first seed; then every seed at the chosen rate); default: the recipe's (or --learning_rate) for both"})

    def __post_init__(self):
        check_ranges(self, positive=("learning_rates",))


def parse_benchmark_args(argv: list[str] | None = None
                         ) -> tuple[BenchmarkArguments, FinetuneOptions, dict[str, Any]]:
    """The options of ``examples/benchmark_gue.py``: fine-tuning's without ``--task`` (each of ``--tasks`` in
    turn); the Trainer options given explicitly are returned as a dict, to be laid over each task's own recipe."""
    (bench, args), options = parse_with_trainer_options((BenchmarkArguments, FinetuneOptions), argv)
    return bench, args, options


def benchmark_table(rows: list[dict]) -> str:
    """One row per task, primary metric x 100 as mean ± std over seeds; with baselines, the same architecture from
    scratch, the pretrained model's gain over it (± the spread over seeds; marked when smaller than the spread)
    and the k-mer linear model."""
    compared = "from_scratch" in rows[0]
    head = "| task | paper column | tokenization | metric | pretrained (x100) |"
    lines = [head + (" from scratch | gain | k-mer linear |" if compared else "") + " seeds |",
             "|---|---|---|---|---:|" + ("---:|---:|---:|" if compared else "") + "---:|"]
    for row in rows:
        r = row["pretrained"]
        mean, std = score(r)
        cells = [r["task"], r["paper_column"] or "-", r["tokenization"], r["primary_metric"], f"{mean:.2f} ± {std:.2f}"]
        if compared:
            base, base_std = score(row["from_scratch"])
            kmer = row["kmer"]
            cells += [f"{base:.2f} ± {base_std:.2f}", format_gain(row["gain"]),
                      f"{100 * kmer['test'][r['primary_metric']]:.2f}" if kmer else "-"]
        lines.append("| " + " | ".join(cells) + f" | {len(r['seeds'])} |")
    return "\n".join(lines)


def task_output_name(folder: Path) -> str:
    """Folder name for one task's results: its family and task folders, e.g. ``prom-prom_core_tata``."""
    return "-".join(folder.resolve().parts[-2:])


def distinct_tasks(task_roots: list[str]) -> list[Path]:
    """Every task folder under ``task_roots``, each once; two folders whose results would share a name (a
    sub-folder and a table row: ``task_output_name``) are refused before anything runs."""
    folders = list(dict.fromkeys(folder.resolve() for root in task_roots for folder in task_folders(root)))
    by_name: dict[str, list[Path]] = {}
    for folder in folders:
        by_name.setdefault(task_output_name(folder), []).append(folder)
    clashes = {name: found for name, found in by_name.items() if len(found) > 1}
    if clashes:
        listed = "; ".join(f"{' and '.join(map(str, found))} would both be {name!r}" for name, found in clashes.items())
        raise OptionError(f"--tasks: {listed} (each task's results folder and table row are named by its last two "
                          "folders): rename one, or benchmark them in separate runs")
    return folders


def run_benchmark(args: FinetuneOptions, task_roots: list[str], baselines: bool = True,
                  learning_rates: list[float] = (), **training_options: Any) -> str:
    """Fine-tune ``args.model`` on every task under ``task_roots``, each with the paper's recipe for its family
    under ``training_options`` (any ``TrainingArguments`` option; ``output_dir`` is the benchmark's folder, each
    task gets a sub-folder named by ``task_output_name``, and with ``push_to_hub`` each task's model goes to
    ``<hub_model_id>-<that name>``, default the name alone). With ``baselines``, the same architecture from scratch
    (``from-scratch-model/``) and a k-mer model are measured on every task too (``analysis.baselines``).
    Saves benchmark.json/.md there, writes the results (and the from-scratch figures) into the model's card when
    the model is a local folder with one and into each task's fine-tuned card, and returns the table."""
    output_dir = check_output_folder(training_options.pop("output_dir", TRAINER_DEFAULTS["output_dir"]))
    hub_model_id = training_options.pop("hub_model_id", None)
    folders = distinct_tasks(task_roots)
    runs = []
    for folder in folders:  # every task and its options are checked before the first run
        name = task_output_name(folder)
        training_args = finetune_training_arguments(
            folder, output_dir=str(output_dir / name), hub_model_id=f"{hub_model_id}-{name}" if hub_model_id else None,
            **training_options)
        check_selection_options(training_args)
        best_model_metric(training_args, args.on_task(folder).load_task())
        runs.append((folder, training_args))
    scratch = from_scratch_folder(args.model, output_dir / "from-scratch-model") if baselines else None
    rows = []
    for folder, training_args in runs:
        task_args = args.on_task(folder)
        if baselines:
            row = compare_on_task(task_args, training_args, scratch, learning_rates)
            card = Path(training_args.output_dir) / "model" / "README.md"
            if card.is_file():
                set_card_section(card, "baselines", "Against baselines", baseline_note([row]))
        else:
            row = {"pretrained": finetune_with_tuned_rate(task_args, training_args, learning_rates)}
        rows.append(row)
    table = benchmark_table(rows)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_whole(output_dir / "benchmark.json", json.dumps(rows, indent=2))
    write_whole(output_dir / "benchmark.md", table + "\n")
    card = Path(args.model) / "README.md"
    if card.is_file():
        results = [row["pretrained"] for row in rows]
        mcc = {r["task"]: 100 * r["test"]["mcc"]["mean"] for r in results if r["primary_metric"] == "mcc"}
        add_benchmark_results(card, mcc, note=f"Test MCC x 100, mean over {len(results[0]['seeds'])} seed(s) per task.")
        if baselines:
            set_card_section(card, "baselines", "Against baselines", baseline_note(rows))
    return table


def baseline_note(rows: list[dict]) -> str:
    """The cards' comparison: this checkpoint fine-tuned against the same architecture from scratch and a k-mer
    model, measured in one run on the same splits, seeds and budget."""
    return ("The same fine-tuning run measured two baselines on the same splits, seeds and budget: this architecture "
            "with random weights (from scratch) and a k-mer frequency linear model. Gain = this checkpoint minus "
            "from scratch, ± the spread over seeds; a gain within that spread is no evidence that pretraining "
            "helped.\n\n" + benchmark_table(rows))
