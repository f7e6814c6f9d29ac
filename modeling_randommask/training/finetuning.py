"""Fine-tune a RandomMask checkpoint on one labelled task (GUE layout), over several seeds, with transformers' Trainer.

Model selection is on dev (best epoch by the task's primary metric, MCC or Pearson r); the reported figures are on
test. ``tokenization`` re-tokenizes at fine-tuning time whatever the pretraining used (the paper's Table 2): the
k-mer embeddings are indexed by k-mer whatever the stride, so only the tokenizer and ``config.kmer_stride`` change.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import torch
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

from tokenization import KmerTokenizer, kmer_stride_of, tokenization_name

from ..configuration_randommask import Pooling, RandomMaskConfig
from ..data.gue import resolve_task
from ..data.options import check_ranges
from ..data.tasks import build_datasets, load_task
from ..evaluation.metrics import PRIMARY_METRIC, compute_metrics
from ..hub.checkpoint import save_checkpoint
from ..hub.model_card import render_finetuned_card, task_info
from ..modeling_randommask import RandomMaskForSequenceClassification
from .finetune_recipes import FINETUNE_RECIPES, FinetuneRecipe
from .output_lock import locks_output_dir

logger = logging.getLogger(__name__)

FinetuneTokenization = Literal["pretrained", "overlapping", "non_overlapping"]


@dataclass
class FinetuneArguments:
    """Options of ``examples/finetune.py``. Unset hyper-parameters come from the paper's preset for the task family."""

    model: str = field(metadata={"help": "pretrained RandomMask folder or Hub id"})
    task: str | None = field(default=None, metadata={"help": "task folder with train/dev/test .csv/.tsv(.gz)"})
    output_dir: str = field(default="outputs/finetuned", metadata={"help": "results.json and model/ go here"})
    tokenization: FinetuneTokenization = field(default="pretrained", metadata={
        "help": "the checkpoint's own, or re-tokenize at fine-tuning time (the paper's Table 2)"})
    seeds: list[int] = field(default_factory=lambda: [42], metadata={"help": "one fine-tuning run per seed"})
    batch_size: int | None = None
    learning_rate: float | None = None
    num_train_epochs: float | None = None
    max_steps: int = field(default=-1, metadata={"help": "cap on optimizer steps (quick runs); -1: epochs decide"})
    warmup_steps: float = field(default=0.1, metadata={"help": "steps, or a fraction of training when < 1"})
    pooling: Pooling | None = field(default=None, metadata={"help": "sequence summary (default: the checkpoint's)"})
    label_columns: list[str] = field(default_factory=lambda: ["label"])
    missing_train: Literal["error", "use_dev"] = field(default="error", metadata={
        "help": "error, or use_dev: train on dev (then the last epoch is kept)"})
    max_train_samples: int | None = field(default=None, metadata={"help": "subsample train (quick runs)"})
    eval_batch_size: int = 128
    overwrite_output_dir: bool = field(default=False, metadata={"help": "replace an earlier run's results"})

    def __post_init__(self):
        check_ranges(self, positive=("batch_size", "learning_rate", "num_train_epochs", "max_train_samples",
                                     "eval_batch_size"), non_negative=("warmup_steps", "seeds"))
        if self.max_steps != -1 and self.max_steps < 1:
            raise ValueError(f"--max_steps must be >= 1, or -1 (the epochs decide), got {self.max_steps}")
        if not self.seeds:
            raise ValueError("--seeds needs at least one seed")


@dataclass
class SeedResult:
    seed: int
    dev: dict[str, float]
    test: dict[str, float]


def _kmer_stride(tokenization: FinetuneTokenization, config: RandomMaskConfig) -> int:
    if tokenization == "pretrained":
        return config.kmer_stride
    return kmer_stride_of(tokenization, config.kmer_size)


# Tasks outside the paper's families: its most common recipe, for 3 epochs.
_OTHER_TASKS = FinetuneRecipe("other", batch_size=32, learning_rate=1e-4, num_train_epochs=3)


def _hyper_parameters(args: FinetuneArguments, recipe: FinetuneRecipe) -> dict:
    """The recipe's ``TrainingArguments`` values, with the ones the user gave instead."""
    given = {"per_device_train_batch_size": args.batch_size, "learning_rate": args.learning_rate,
             "num_train_epochs": args.num_train_epochs}
    return recipe.training_arguments() | {name: value for name, value in given.items() if value is not None}


def summarise(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation over seeds (std 0 for one seed), NaNs left out."""
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return {"mean": float("nan"), "std": float("nan"), "n": 0}
    std = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return {"mean": statistics.fmean(finite), "std": std, "n": len(finite)}


@locks_output_dir
def finetune(args: FinetuneArguments) -> dict:
    """Fine-tune over ``args.seeds``; write ``results.json`` and the best seed's model folder; return the results."""
    if args.task is None:
        raise ValueError("--task is required: a folder with train/dev/test .csv/.tsv(.gz) files")
    output_dir = Path(args.output_dir)
    if (output_dir / "results.json").exists() and not args.overwrite_output_dir:
        raise FileExistsError(f"{output_dir} holds an earlier run's results.json: pass --overwrite_output_dir to "
                              "replace it, or another --output_dir")
    task = load_task(args.task, label_columns=args.label_columns[0] if len(args.label_columns) == 1
                     else args.label_columns, missing_train=args.missing_train)
    try:
        gue = resolve_task(args.task)
    except ValueError:
        gue = None
    config = RandomMaskConfig.from_pretrained(args.model)
    kmer_stride = _kmer_stride(args.tokenization, config)
    tokenizer = KmerTokenizer(k=config.kmer_size, kmer_stride=kmer_stride)
    datasets = build_datasets(task, tokenizer, model_max_length=config.max_position_embeddings)
    if args.max_train_samples is not None and args.max_train_samples < len(datasets["train"]):
        datasets["train"] = datasets["train"].shuffle(seed=0).select(range(args.max_train_samples))
    hyper = _hyper_parameters(args, FINETUNE_RECIPES[gue.family] if gue else _OTHER_TASKS)
    primary = PRIMARY_METRIC[task.kind]
    has_dev = "dev" in datasets

    runs: list[SeedResult] = []
    best_model, best_dev = None, -math.inf
    for seed in args.seeds:
        model = RandomMaskForSequenceClassification.from_pretrained(
            args.model, num_labels=task.num_labels, problem_type=task.problem_type, id2label=task.id2label,
            label2id=task.label2id, kmer_stride=kmer_stride,
            **({"classifier_pooling": args.pooling} if args.pooling else {}),
        )
        training_args = TrainingArguments(
            output_dir=str(output_dir / f"seed-{seed}"), seed=seed, data_seed=seed,
            **hyper, per_device_eval_batch_size=args.eval_batch_size, max_steps=args.max_steps,
            warmup_steps=args.warmup_steps,
            eval_strategy="epoch" if has_dev else "no", save_strategy="epoch" if has_dev else "no",
            load_best_model_at_end=has_dev, metric_for_best_model=primary, greater_is_better=True,
            save_total_limit=1, report_to="none", logging_strategy="epoch", disable_tqdm=False,
            dataloader_pin_memory=torch.cuda.is_available(),  # pinned pages only help copies to a GPU
        )
        trainer = Trainer(
            model=model, args=training_args, train_dataset=datasets["train"],
            eval_dataset=datasets["dev"] if has_dev else None, processing_class=tokenizer,
            data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=compute_metrics(task.kind, task.label_names),
        )
        trainer.train()
        dev = trainer.evaluate(datasets["dev"], metric_key_prefix="dev") if has_dev else {}
        test = trainer.evaluate(datasets["test"], metric_key_prefix="test")
        runs.append(SeedResult(seed, _strip(dev, "dev_"), _strip(test, "test_")))
        score = runs[-1].dev.get(primary, -math.inf)  # without dev, the first seed's model is kept
        if best_model is None or score > best_dev:
            best_model, best_dev = trainer.model, score

    results = {
        "model": args.model,
        "task": task.name,
        "paper_column": gue.paper_column if gue else None,
        "kind": task.kind,
        "primary_metric": primary,
        "tokenization": tokenization_name(config.kmer_size, kmer_stride),
        "hyper_parameters": hyper | {"max_steps": args.max_steps, "max_train_samples": args.max_train_samples},
        "train_examples": len(datasets["train"]),
        "selection": "best epoch on dev" if has_dev else "last epoch (no dev split)",
        "seeds": [asdict(run) for run in runs],
        "test": {name: summarise([run.test[name] for run in runs]) for name in runs[0].test},
        "notes": task.notes,
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "results.json").write_text(json.dumps(results, indent=2))
    model_dir = save_checkpoint(best_model, tokenizer, output_dir / "model")
    render_finetuned_card(_card_info(results, task, args)).save(model_dir / "README.md")
    logger.info("%s: test %s = %.4f ± %.4f over %d seed(s)", task.name, primary,
                results["test"][primary]["mean"], results["test"][primary]["std"], len(runs))
    return results


def _strip(metrics: dict, prefix: str) -> dict[str, float]:
    """Trainer's metric dict without the split prefix and bookkeeping (runtime, samples/s, epoch)."""
    skip = ("runtime", "samples_per_second", "steps_per_second", "epoch")
    return {k.removeprefix(prefix): float(v) for k, v in metrics.items() if not k.endswith(skip)}


def _card_info(results: dict, task, args: FinetuneArguments) -> dict:
    seeds = [run["seed"] for run in results["seeds"]]
    return {
        "model_name": Path(args.output_dir).name,
        "base_model": args.model,
        "task": task_info(task) | ({"paper_column": results["paper_column"]} if results["paper_column"] else {}),
        "hyperparameters": results["hyper_parameters"] | {
            "tokenization": results["tokenization"], "seeds": seeds, "selection": results["selection"]},
        "results": {"test": {name: value["mean"] for name, value in results["test"].items()}},
        "limitations": [(f"Test figures are means over {len(seeds)} seed(s); the weights are those of the seed "
                         "with the best dev score.")],
    }
