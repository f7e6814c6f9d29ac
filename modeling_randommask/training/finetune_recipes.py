"""The paper's fine-tuning recipe per task family (Liang et al., arXiv 2310.07644, appendix).

AdamW, weight decay 0, batch 32 (64 for enhancer activity regression), learning rate 3e-5 for EMP and 1e-4
otherwise, epochs EMP 100, TF 10, CPD 10, PD 5, SSP 10, EAP 10. Warm-up and schedule are not stated there, so they
are left to the caller. A recipe's batch is the paper's global batch: ``training_arguments`` splits it over the
processes and gradient-accumulation steps of a run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..data.gue import resolve_task
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
        """Keyword arguments for ``transformers.TrainingArguments`` giving this recipe on ``world_size`` processes
        with ``gradient_accumulation_steps``: per-device batch x processes x accumulation = the recipe's batch."""
        shards = world_size * gradient_accumulation_steps
        if world_size < 1 or gradient_accumulation_steps < 1 or self.batch_size % shards:
            raise ValueError(f"batch {self.batch_size} cannot be split evenly over {world_size} processes x "
                             f"{gradient_accumulation_steps} accumulation steps")
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


def recipe_for(path: str | os.PathLike) -> FinetuneRecipe:
    """The paper's fine-tuning recipe for the GUE task at ``path`` (``ValueError`` for an unknown family)."""
    return FINETUNE_RECIPES[resolve_task(path).family]
