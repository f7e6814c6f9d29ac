"""Fine-tune one checkpoint on every task under some folders and print the paper's table (task, MCC x 100)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from ..data.options import check_output_folder
from ..data.tasks import task_folders
from ..hub.model_card import add_benchmark_results
from ..training.finetuning import FinetuneArguments, finetune


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


def run_benchmark(args: FinetuneArguments, task_roots: list[str]) -> str:
    """Fine-tune ``args.model`` on every task under ``task_roots``; save benchmark.json/.md in ``args.output_dir``,
    write the results into the model's card when the model is a local folder with one; return the table."""
    output_dir = check_output_folder(args.output_dir)
    folders = [folder for root in task_roots for folder in task_folders(root)]
    results = []
    for folder in folders:
        results.append(finetune(replace(args, task=str(folder), output_dir=str(output_dir / task_output_name(folder)))))
    table = benchmark_table(results)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "benchmark.json").write_text(json.dumps(results, indent=2))
    (output_dir / "benchmark.md").write_text(table + "\n")
    card = Path(args.model) / "README.md"
    if card.is_file():
        mcc = {r["task"]: 100 * r["test"]["mcc"]["mean"] for r in results if r["primary_metric"] == "mcc"}
        add_benchmark_results(card, mcc, note=f"Test MCC x 100, mean over {len(args.seeds)} seed(s) per task.")
    return table
