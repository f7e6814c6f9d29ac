"""The paper's fine-tuning recipe per task family (Liang et al., arXiv 2310.07644, appendix), as Trainer defaults.

AdamW, weight decay 0, batch 32 (64 for enhancer activity regression), learning rate 3e-5 for EMP and 1e-4
otherwise, epochs EMP 100, TF 10, CPD 10, PD 5, SSP 10, EAP 10. Warm-up and schedule are not stated there; this
package's choices for them, and for evaluation and saving, are ``TRAINER_DEFAULTS``. A recipe's batch is the
paper's global batch: ``training_arguments`` splits it over the devices and gradient-accumulation steps of a run,
and ``finetune_training_arguments`` builds the ``TrainingArguments`` of a run from all three layers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import torch
from transformers import TrainingArguments

from ..data.gue import resolve_task
from ..data.options import OptionError
from ..evaluation.metrics import PRIMARY_METRIC


@dataclass(frozen=True)
class FinetuneRecipe:
    """One task family's fine-tuning hyper-parameters (``batch_size`` is the global batch)."""

    family: str
    batch_size: int
    learning_rate: float
    num_train_epochs: int
    weight_decay: float = 0.0
    regression: bool = False

    @property
    def metric(self) -> str:
        """The paper's metric for the family (model selection on dev): MCC, or Pearson r for regression."""
        return PRIMARY_METRIC["regression" if self.regression else "binary"]

    def training_arguments(self, world_size: int = 1, gradient_accumulation_steps: int = 1) -> dict[str, Any]:
        """Keyword arguments for ``transformers.TrainingArguments`` giving this recipe on ``world_size`` devices
        with ``gradient_accumulation_steps``: per-device batch x devices x accumulation = the recipe's batch."""
        shards = world_size * gradient_accumulation_steps
        if world_size < 1 or gradient_accumulation_steps < 1 or self.batch_size % shards:
            raise OptionError(f"the {self.family} recipe's batch {self.batch_size} cannot be split evenly over "
                             f"{world_size} devices x {gradient_accumulation_steps} accumulation steps")
        return {
            "per_device_train_batch_size": self.batch_size // shards,
            "gradient_accumulation_steps": gradient_accumulation_steps,
            "learning_rate": self.learning_rate,
            "num_train_epochs": self.num_train_epochs,
            "weight_decay": self.weight_decay,
        }


FINETUNE_RECIPES: dict[str, FinetuneRecipe] = {
    recipe.family: recipe
    for recipe in (
        FinetuneRecipe("EMP", 32, 3e-5, 100),
        FinetuneRecipe("TF-H", 32, 1e-4, 10),
        FinetuneRecipe("TF-M", 32, 1e-4, 10),
        FinetuneRecipe("CPD", 32, 1e-4, 10),
        FinetuneRecipe("PD", 32, 1e-4, 5),
        FinetuneRecipe("SSP", 32, 1e-4, 10),
        FinetuneRecipe("EAP", 64, 1e-4, 10, regression=True),
    )
}


# Tasks outside the paper's families: its most common recipe, for 3 epochs.
OTHER_TASKS = FinetuneRecipe("other", batch_size=32, learning_rate=1e-4, num_train_epochs=3)

# This package's Trainer settings, under the recipe: evaluate on dev every epoch and keep the best checkpoint (the
# metric is the task's, set by ``finetune``), warm up over the first 10% of steps, one log line per epoch, no
# trackers unless asked, pinned memory only where it helps (copies to a GPU).
TRAINER_DEFAULTS: dict[str, Any] = {
    "output_dir": "outputs/finetuned",
    "eval_strategy": "epoch",
    "save_strategy": "best",
    "save_total_limit": 1,
    "logging_strategy": "epoch",
    "warmup_steps": 0.1,
    "per_device_eval_batch_size": 128,
    "report_to": "none",
    "dataloader_pin_memory": torch.cuda.is_available(),
}


def recipe_for(path: str | os.PathLike) -> FinetuneRecipe:
    """The paper's fine-tuning recipe for the GUE task at ``path`` (``ValueError`` for an unknown family)."""
    return FINETUNE_RECIPES[resolve_task(path).family]


def task_recipe(path: str | os.PathLike | None) -> FinetuneRecipe:
    """``recipe_for(path)``, or ``OTHER_TASKS`` for a task outside the paper's families (or no task)."""
    try:
        return recipe_for(path) if path is not None else OTHER_TASKS
    except ValueError:
        return OTHER_TASKS


def training_devices(args: TrainingArguments) -> int:
    """The devices a batch is split over: processes x GPUs per process (n_gpu > 1 only for one process driving
    several GPUs, 0 on CPU)."""
    return args.world_size * max(1, args.n_gpu)


def finetune_training_arguments(task: str | os.PathLike | None, **options: Any) -> TrainingArguments:
    """``TrainingArguments`` for fine-tuning on the task folder ``task``: ``options`` (any ``TrainingArguments``
    field) win over the paper's recipe for the task's family, which wins over ``TRAINER_DEFAULTS``. Unless
    ``per_device_train_batch_size`` is given, the recipe's global batch is split over the run's devices and
    ``gradient_accumulation_steps``, so per-device x devices x accumulation = the paper's batch."""
    recipe = task_recipe(task)
    args = TrainingArguments(**TRAINER_DEFAULTS | recipe.training_arguments() | options)
    if "per_device_train_batch_size" in options:
        return args
    devices = training_devices(args)
    try:
        split = recipe.training_arguments(devices, args.gradient_accumulation_steps)
    except ValueError as error:
        raise OptionError(f"{error}: pass per_device_train_batch_size (--per_device_train_batch_size) and "
                         "gradient_accumulation_steps to choose the batch yourself") from None
    return replace(args, per_device_train_batch_size=split["per_device_train_batch_size"])
