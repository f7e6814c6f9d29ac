"""Whether pretraining helped, measured in the same run: the same architecture from scratch, and a k-mer model.

A fine-tuned checkpoint's score says nothing alone. The from-scratch row takes the checkpoint's config with
random weights (initialised as a pretraining run starts) and fine-tunes it with the same recipe, splits, seeds and
budget; the k-mer row is ``evaluation.kmer_baseline`` on the same training rows. A shared learning rate can favour
either side (measured: a random-init tiny model scored MCC 0 on a GUE TF task at 1e-4 and 50.8 at 1e-3), so with
``learning_rates`` each side picks its own on dev. The gain of the pretrained model is reported with its spread
over seeds, sqrt(std_pretrained^2 + std_scratch^2), and a gain smaller than that spread is marked as such.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from transformers import TrainingArguments

from ..data.output_files import write_whole
from ..data.tasks import TaskData, train_subset
from ..evaluation.kmer_baseline import kmer_baseline
from ..hub.checkpoint import save_checkpoint
from ..hub.model_source import load_model_config
from ..modeling_randommask import RandomMaskForMaskedLM
from ..tokenization import KmerTokenizer
from ..training.finetuning import FinetuneArguments, finetune
from ..training.pretraining import sinusoidal_init_

logger = logging.getLogger(__name__)


@dataclass(kw_only=True)
class BaselineOptions:
    """The option of a command that fine-tunes checkpoints on tasks (benchmark_gue, reproduce) to measure this
    module's baselines beside them."""

    baselines: bool = field(default=True, metadata={
        "help": "also fine-tune the same architecture from scratch and fit a k-mer linear model on every task, in "
                "this run: on by default, --no_baselines skips them"})


def from_scratch_folder(model: str | Path, out: str | Path, position_embedding_init: str = "normal",
                        seed: int = 0) -> Path:
    """Save ``model``'s architecture with fresh weights (BERT's init, or the sinusoidal position start a run used)
    into ``out``, once: a later call reuses the folder."""
    out = Path(out)
    if (out / "config.json").is_file():
        return out
    config = load_model_config(str(model))
    torch.manual_seed(seed)
    scratch = RandomMaskForMaskedLM(config)
    if position_embedding_init == "sinusoidal":
        sinusoidal_init_(scratch.bert.embeddings.position_embeddings.weight)
    return save_checkpoint(scratch, KmerTokenizer(k=config.kmer_size, kmer_stride=config.kmer_stride), out)


def finetune_with_tuned_rate(args: FinetuneArguments, training_args: TrainingArguments,
                             learning_rates: Sequence[float] = ()) -> dict:
    """``finetune``; with ``learning_rates``, each rate is first tried with the first seed (into ``lr-<rate>/``)
    and the one with the best dev primary metric runs every seed. Without a dev split the given rate is kept.
    With that one seed only, the best trial is the run (seeds hold) and is kept instead of trained again."""
    if not learning_rates:
        return finetune(args, training_args)
    output_dir = Path(training_args.output_dir)
    seeds = list(args.seeds or [training_args.seed])
    trials = {}
    for rate in learning_rates:
        trial = finetune(replace(args, seeds=seeds[:1], overwrite_output_dir=True),
                         replace(training_args, learning_rate=rate, output_dir=str(output_dir / f"lr-{rate:g}"),
                                 push_to_hub=False))
        if not trial["dev"]:
            logger.warning("%s has no dev split: the learning rate cannot be chosen on it; keeping %g",
                           trial["task"], training_args.learning_rate)
            return finetune(args, training_args)
        trials[rate] = trial
    dev = {rate: trial["dev"][trial["primary_metric"]]["mean"] for rate, trial in trials.items()}
    best = max(learning_rates, key=lambda rate: -math.inf if math.isnan(dev[rate]) else dev[rate])
    if len(seeds) == 1 and not training_args.push_to_hub:
        results = trials[best] | {"output_dir": str(output_dir)}
        if training_args.should_save:
            shutil.copytree(output_dir / f"lr-{best:g}" / "model", output_dir / "model", dirs_exist_ok=True)
    else:
        results = finetune(args, replace(training_args, learning_rate=best))
    results["learning_rate_selection"] = {"on": f"dev, seed {seeds[0]}", "dev": {f"{r:g}": v for r, v in dev.items()},
                                          "chosen": best}
    if training_args.should_save:
        write_whole(output_dir / "results.json", json.dumps(results, indent=2))
    return results


def score(results: dict) -> tuple[float, float]:
    """Primary test metric x 100: mean and std over seeds."""
    metric = results["test"][results["primary_metric"]]
    return 100 * metric["mean"], 100 * metric["std"]


def gain(pretrained: dict, scratch: dict) -> dict[str, float | bool]:
    """Pretrained minus from-scratch, primary test metric x 100, with the spread over seeds it must exceed."""
    (mean, std), (base, base_std) = score(pretrained), score(scratch)
    spread = math.hypot(std, base_std)
    return {"gain": mean - base, "spread": spread, "within_spread": abs(mean - base) <= spread}


def format_gain(comparison: dict) -> str:
    text = f"{comparison['gain']:+.2f} ± {comparison['spread']:.2f}"
    return text + " (within spread)" if comparison["within_spread"] else text


def compare_on_task(args: FinetuneArguments, training_args: TrainingArguments, scratch_model: Path,
                    learning_rates: Sequence[float] = ()) -> dict:
    """One task: the pretrained checkpoint and its from-scratch twin fine-tuned alike (``from-scratch/`` beside the
    pretrained run's folder), the k-mer model on the same training rows, and the gain. Results are reused when a
    folder already holds them."""
    output_dir = Path(training_args.output_dir)
    runs = {}
    for name, model, folder in (("pretrained", args.model, output_dir), ("from_scratch", str(scratch_model),
                                                                          output_dir / "from-scratch")):
        done = folder / "results.json"
        runs[name] = (json.loads(done.read_text()) if done.is_file() and not args.overwrite_output_dir else
                      finetune_with_tuned_rate(replace(args, model=model),
                                               replace(training_args, output_dir=str(folder)), learning_rates))
    kmer = kmer_on_task(args.load_task(), args.max_train_samples)
    return {**runs, "kmer": kmer, "gain": gain(runs["pretrained"], runs["from_scratch"])}


def kmer_on_task(task: TaskData, max_train_samples: int | None) -> dict | None:
    """The k-mer model's results on ``task``, trained on the rows fine-tuning uses (``train_subset``); None for a
    token-level task (the k-mer model classifies whole sequences)."""
    if task.kind == "token":
        return None
    return kmer_baseline(task, train_indices=train_subset(len(task.sequences["train"]), max_train_samples))
