"""A mini reproduction of the paper on one CPU: its Tables 2 and 3 and the three diagnostics, in about an hour.

Three models are pretrained with one budget (steps, batch, windows, learning rate): (a) DNABERT's fixed masking of
6 consecutive overlapping 6-mers, (b) RandomMask with the paper's 5 phases scaled to the budget, (c) non-overlapping
6-mers with single-token masking (Nucleotide Transformer style). Each is fine-tuned on every task folder with
overlapping and with non-overlapping tokenization (Table 2) and the two overlapping models are set side by side
with the paper's numbers (Table 3); ``diagnostics.analyze`` measures all three (loss by phase, attention on
[CLS], k-mer embedding clustering).

Every stage writes its results under ``output_dir`` and is skipped when they are already there, so an interrupted
run continues where it stopped (pretraining resumes from its last checkpoint).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, get_args

from ..data.fasta import default_corpus, fasta_files
from ..data.genome_windows import GenomeDataConfig
from ..data.gue import PAPER_TABLE3_MCC
from ..data.options import check_distinct, check_output_folder, check_ranges
from ..data.output_files import write_whole
from ..data.strides import Tokenization
from ..data.tasks import load_task, task_folders
from ..training.finetune_recipes import finetune_training_arguments
from ..training.finetuning import FinetuneArguments, FinetuneStageOptions, finetune
from ..training.pretrain_arguments import PretrainArguments, check_set_by_study, parse_with_pretraining
from ..training.pretraining import pretrain
from .baselines import BaselineOptions, format_gain, from_scratch_folder, gain, kmer_on_task, score
from .benchmark import TASKS_HELP, task_output_name
from .diagnostics import AnalyzeArguments, TsneOption, analyze

logger = logging.getLogger(__name__)

# label -> pretraining options; the labels are the rows and columns of the report.
VARIANTS: dict[str, dict[str, str]] = {
    "DNABERT": {"masking": "dnabert", "tokenization": "overlapping"},
    "RandomMask": {"masking": "randommask", "tokenization": "overlapping"},
    "non-overlapping": {"masking": "nt", "tokenization": "non_overlapping"},
}
FINETUNE_TOKENIZATIONS = get_args(Tokenization)


@dataclass
class ReproduceArguments(FinetuneStageOptions, BaselineOptions, TsneOption):
    """What ``examples/reproduce.py`` adds to pretraining's options (``PretrainArguments`` and ``GenomeDataConfig``,
    the budget every variant shares, parsed beside these with ``REPRODUCE_DEFAULTS``): the tasks, the pretraining
    variants and the fine-tuning stage, whose options carry a ``finetune_`` prefix because pretraining owns the plain
    names."""

    RENAMED_OPTIONS: ClassVar[dict[str, str]] = {  # docs/commands.md
        "--batch_size": "--per_device_train_batch_size", "--variants": "--pretraining_variants"}

    tasks: list[str] = field(metadata={"help": TASKS_HELP})
    pretraining_variants: list[str] = field(default_factory=lambda: list(VARIANTS),
                                            metadata={"help": f"pretraining variants, from {list(VARIANTS)}"})
    finetune_tokenizations: list[str] = field(default_factory=lambda: list(FINETUNE_TOKENIZATIONS), metadata={
        "help": f"tokenizations each model is fine-tuned with, from {list(FINETUNE_TOKENIZATIONS)} (Table 2)"})
    finetune_max_train_samples: int | None = field(default=5000, metadata={
        "help": "cap on training examples per task (the larger GUE tasks would dominate the hour)"})
    finetune_seeds: list[int] = field(default_factory=lambda: [42], metadata={
        "help": "one fine-tuning run per seed and task; the figures are means over seeds"})
    diagnostics_genome: str | None = field(default=None, metadata={
        "help": "FASTA for the attention windows (default: the first pretraining FASTA, sorted)"})

    def __post_init__(self):
        super().__post_init__()
        check_ranges(self, positive=("finetune_max_train_samples",), non_negative=("finetune_seeds",))
        check_distinct(self.finetune_seeds, "--finetune_seeds")
        unknown = (sorted(set(self.pretraining_variants) - set(VARIANTS))
                   + sorted(set(self.finetune_tokenizations) - set(FINETUNE_TOKENIZATIONS)))
        if unknown:
            raise ValueError(f"unknown variant or tokenization {unknown}: variants are {list(VARIANTS)}, "
                             f"tokenizations {list(FINETUNE_TOKENIZATIONS)}")


# The default budget, measured to fit about an hour on 2 CPU cores (docs/analysis.md); the rest are
# pretraining's own defaults. Sinusoidal positions: a small model learns neighbour attention within the budget.
REPRODUCE_DEFAULTS = {"output_dir": "outputs/reproduce", "per_device_train_batch_size": 64, "max_steps": 3000,
                      "warmup_steps": 200, "position_embedding_init": "sinusoidal", "eval_every": 200,
                      "save_every": 600}
# Pretraining options the reproduction sets itself, per variant or per stage.
SET_BY_REPRODUCTION = {"masking": "--pretraining_variants", "tokenization": "--pretraining_variants", "recipe": "the pretraining options",
                       "resume_from_checkpoint": "the rerun, which continues by itself",
                       "overwrite_output_dir": "the rerun, which continues by itself", "push_to_hub": "no upload"}


def parse_reproduce_args(argv: list[str] | None = None) -> tuple[ReproduceArguments, PretrainArguments,
                                                                   GenomeDataConfig]:
    """The reproduction's options beside pretraining's, its budget as defaults."""
    return parse_with_pretraining(ReproduceArguments, argv, REPRODUCE_DEFAULTS, SET_BY_REPRODUCTION)


def _pretrain_variant(pretraining: PretrainArguments, data: GenomeDataConfig, label: str) -> Path:
    """Pretrain one variant into ``output_dir/pretrain/<label>``; reuse a finished folder, resume a partial one."""
    folder = Path(pretraining.output_dir) / "pretrain" / label
    if (folder / "README.md").is_file() and (folder / "model.safetensors").is_file():
        logger.info("pretrained %s: already in %s", label, folder)
        return folder
    resume = "latest" if (folder / "checkpoints" / "latest").is_file() else None
    options = replace(pretraining, output_dir=str(folder), **VARIANTS[label], resume_from_checkpoint=resume,
                      overwrite_output_dir=resume is None)  # an unfinished folder without a checkpoint holds nothing
    return pretrain(options, data)


def _finetune_variant(args: ReproduceArguments, output_dir: Path, label: str, model: Path, tokenization: str,
                      task: Path) -> dict:
    """Fine-tune one (model, tokenization, task); reuse an earlier ``results.json``."""
    output_dir = output_dir / "finetune" / label / tokenization / task_output_name(task)
    if (output_dir / "results.json").is_file():
        return json.loads((output_dir / "results.json").read_text())
    return finetune(
        FinetuneArguments(model=str(model), task=str(task), tokenization=tokenization, seeds=args.finetune_seeds,
                          max_train_samples=args.finetune_max_train_samples, missing_train="use_dev",
                          overwrite_output_dir=True),
        finetune_training_arguments(task, output_dir=str(output_dir), learning_rate=args.finetune_learning_rate,
                                    num_train_epochs=args.finetune_epochs,
                                    per_device_train_batch_size=args.finetune_batch_size),
    )


def _column(result: dict) -> str:
    return result["paper_column"] or result["task"]


def table2(results: dict[str, dict[str, list[dict]]]) -> str:
    """The paper's Table 2 layout: a row per (pretraining, fine-tuning tokenization), a column per task, then the
    mean; cells are the primary test metric x 100 (mean ± std over seeds)."""
    first = next(iter(next(iter(results.values())).values()))
    columns = [_column(r) for r in first]
    lines = ["| pretrained | fine-tuned | " + " | ".join(columns) + " | mean |",
             "|---|---|" + "---:|" * (len(columns) + 1)]
    for label, by_tokenization in results.items():
        for tokenization, rows in by_tokenization.items():
            scores = [score(r) for r in rows]
            cells = [f"{mean:.2f} ± {std:.2f}" if len(r["seeds"]) > 1 else f"{mean:.2f}"
                     for (mean, std), r in zip(scores, rows)]
            average = sum(mean for mean, _ in scores) / len(scores)
            pretrained = f"{label} ({VARIANTS[label]['tokenization'].replace('_', '-')})"
            lines.append(f"| {pretrained} | {tokenization.replace('_', '-')} | " + " | ".join(cells)
                         + f" | {average:.2f} |")
    return "\n".join(lines)


def table3(results: dict[str, dict[str, list[dict]]]) -> str:
    """The paper's Table 3 layout: a row per task, DNABERT against DNABERT + RandomMask (overlapping fine-tuning),
    this run's difference beside the paper's published one (reference only: BERT-base, 480k steps, human
    genome)."""
    ours = {label: {_column(r): score(r)[0] for r in results[label]["overlapping"]}
            for label in ("DNABERT", "RandomMask") if "overlapping" in results.get(label, {})}
    if len(ours) < 2:
        return "(Table 3 needs the DNABERT and RandomMask variants fine-tuned with overlapping tokens)"
    lines = ["| task | DNABERT | + RandomMask | difference | paper: DNABERT | paper: + RandomMask | paper: difference |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for column, dnabert in ours["DNABERT"].items():
        randommask = ours["RandomMask"][column]
        paper = PAPER_TABLE3_MCC.get(column)
        published = (f"{paper['DNABERT']:.2f} | {paper['DNABERT + RandomMask']:.2f} | "
                     f"{paper['DNABERT + RandomMask'] - paper['DNABERT']:+.2f}") if paper else "- | - | -"
        lines.append(f"| {column} | {dnabert:.2f} | {randommask:.2f} | {randommask - dnabert:+.2f} | {published} |")
    return "\n".join(lines)


def baselines_table(results: dict[str, dict[str, list[dict]]], scratch: list[dict], kmer: list[dict]) -> str:
    """Did pretraining help? A row per task: the architecture from scratch and a k-mer linear model (same run,
    splits, seeds and fine-tuning budget), then each pretrained variant (overlapping fine-tuning) with its gain over
    from scratch, ± the spread over seeds; a gain within the spread is marked."""
    labels = [label for label in results if "overlapping" in results[label]]
    lines = ["| task | from scratch | k-mer linear | " + " | ".join(f"{label}: gain" for label in labels) + " |",
             "|---|---:|---:|" + "---:|" * len(labels)]
    for index, base in enumerate(scratch):
        mean, std = score(base)
        metric = kmer[index]["test"][base["primary_metric"]] if kmer[index] else None
        cells = [_column(base), f"{mean:.2f} ± {std:.2f}", "-" if metric is None else f"{100 * metric:.2f}"]
        for label in labels:
            run = results[label]["overlapping"][index]
            cells.append(f"{score(run)[0]:.2f}: {format_gain(gain(run, base))}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def reproduce(args: ReproduceArguments, pretraining: PretrainArguments | None = None,
              data: GenomeDataConfig | None = None) -> dict[str, Any]:
    """Run every stage (skipping finished ones), write ``report.md`` and ``report.json`` into
    ``pretraining.output_dir`` and return the report. ``pretraining`` and ``data`` are the budget every variant
    shares (default: ``REPRODUCE_DEFAULTS`` on the embedded genome)."""
    pretraining = pretraining or PretrainArguments(**REPRODUCE_DEFAULTS)
    data = data or GenomeDataConfig()
    check_set_by_study((pretraining, data), REPRODUCE_DEFAULTS, SET_BY_REPRODUCTION)
    output_dir = check_output_folder(pretraining.output_dir)
    tasks = [folder for root in args.tasks for folder in task_folders(root)]
    seconds: dict[str, float] = {}

    models = {}
    for label in args.pretraining_variants:
        start = time.perf_counter()
        models[label] = _pretrain_variant(pretraining, data, label)
        seconds[f"pretrain {label}"] = time.perf_counter() - start

    results: dict[str, dict[str, list[dict]]] = {}
    for label, model in models.items():
        for tokenization in args.finetune_tokenizations:
            start = time.perf_counter()
            results.setdefault(label, {})[tokenization] = [
                _finetune_variant(args, output_dir, label, model, tokenization, task) for task in tasks]
            seconds[f"fine-tune {label} {tokenization}"] = time.perf_counter() - start

    scratch, kmer = [], []
    if args.baselines:
        start = time.perf_counter()
        folder = from_scratch_folder(next(iter(models.values())), output_dir / "pretrain" / "from-scratch",
                                     pretraining.position_embedding_init, seed=data.seed)
        scratch = [_finetune_variant(args, output_dir, "from-scratch", folder, "overlapping", task) for task in tasks]
        kmer = [kmer_on_task(load_task(task, missing_train="use_dev"), args.finetune_max_train_samples)
                for task in tasks]
        seconds["baselines"] = time.perf_counter() - start

    start = time.perf_counter()
    genomes = [str(path) for path in fasta_files(data.genome or default_corpus())]
    diagnostics = analyze(AnalyzeArguments(model=[str(m) for m in models.values()], labels=list(models),
                                           genome=args.diagnostics_genome or genomes[0],
                                           output_dir=str(output_dir / "diagnostics"), tsne=args.tsne,
                                           seed=data.seed, pretraining_genome=genomes, pretraining_seed=data.seed))
    seconds["diagnostics"] = time.perf_counter() - start

    report = {
        "settings": asdict(args) | {"pretraining": asdict(pretraining), "data": asdict(data)},
        "table2": table2(results),
        "table3": table3(results),
        "baselines": baselines_table(results, scratch, kmer) if scratch else None,
        "diagnostics": diagnostics["table"],
        "figures": diagnostics["figures"],
        "seconds": seconds,
        "results": results,
        "from_scratch": scratch,
        "kmer": kmer,
    }
    write_whole(output_dir / "report.json", json.dumps(report, indent=2) + "\n")
    write_whole(output_dir / "report.md", render_report(report))
    return report


def render_report(report: dict[str, Any]) -> str:
    """The report as markdown: settings, Table 2, Table 3, diagnostics, figures and time per stage."""
    settings = report["settings"]
    pre, data = settings["pretraining"], settings["data"]
    budget = (f"{pre['model_preset']} model, {pre['max_steps']:,} steps x {pre['per_device_train_batch_size']} windows "
              f"x {data['max_length']} tokens, lr {pre['learning_rate']:g}, position embeddings "
              f"{pre['position_embedding_init']}; fine-tuning lr {settings['finetune_learning_rate']:g}, "
              f"{settings['finetune_epochs']:g} epochs, at most {settings['finetune_max_train_samples']} training "
              f"examples, seeds {settings['finetune_seeds']}")
    timing = ", ".join(f"{stage} {value / 60:.1f} min" for stage, value in report["seconds"].items())
    return "\n\n".join([
        "# Mini reproduction", f"Budget: {budget}.",
        "## Table 2: overlapping vs non-overlapping tokenization (test MCC x 100)", report["table2"],
        "## Table 3: DNABERT vs DNABERT + RandomMask (test MCC x 100)", report["table3"],
        *(["## Against baselines: from scratch and a k-mer model (test MCC x 100)", report["baselines"]]
          if report.get("baselines") else []),
        "## Diagnostics", report["diagnostics"],
        "Figures: " + ", ".join(report["figures"].values()),
        f"Time: {timing}.",
    ]) + "\n"
