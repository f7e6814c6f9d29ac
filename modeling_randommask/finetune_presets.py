"""The paper's fine-tuning recipe per task family, and GUE task paths -> family and paper column name.

Source: Liang et al. (arXiv 2310.07644), appendix, as summarised in DESIGN.md: AdamW, weight decay 0, batch 32
(64 for enhancer activity regression), learning rate 3e-5 for EMP and 1e-4 otherwise, epochs EMP 100, TF 10,
CPD 10, PD 5, SSP 10, EAP 10. Warm-up and schedule are not stated there, so they are left to the caller.
``PAPER_TABLE3_MCC`` holds published numbers for reference only: they are the paper's, measured with BERT-base
models pretrained 480k steps on the human genome, and are never results of this package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any


@dataclass(frozen=True)
class FinetunePreset:
    """One task family's fine-tuning hyper-parameters (``batch_size`` is the global batch)."""

    family: str
    description: str
    batch_size: int
    learning_rate: float
    num_train_epochs: int
    weight_decay: float = 0.0
    metric: str = "mcc"

    def training_arguments(self, world_size: int = 1) -> dict[str, Any]:
        """Keyword arguments for ``transformers.TrainingArguments`` giving this recipe on ``world_size``
        processes (the global batch is split evenly across them)."""
        if world_size < 1 or self.batch_size % world_size:
            raise ValueError(f"batch {self.batch_size} cannot be split evenly over {world_size} processes")
        per_device = self.batch_size // world_size
        return {
            "per_device_train_batch_size": per_device,
            "per_device_eval_batch_size": per_device,
            "learning_rate": self.learning_rate,
            "num_train_epochs": self.num_train_epochs,
            "weight_decay": self.weight_decay,
            "optim": "adamw_torch",
        }


PRESETS: dict[str, FinetunePreset] = {
    p.family: p
    for p in (
        FinetunePreset("EMP", "epigenetic mark prediction (yeast histone marks)", 32, 3e-5, 100),
        FinetunePreset("TF-H", "transcription factor binding site prediction, human", 32, 1e-4, 10),
        FinetunePreset("TF-M", "transcription factor binding site prediction, mouse", 32, 1e-4, 10),
        FinetunePreset("CPD", "core promoter detection (70 bp)", 32, 1e-4, 10),
        FinetunePreset("PD", "promoter detection (300 bp)", 32, 1e-4, 5),
        FinetunePreset("SSP", "splice site prediction", 32, 1e-4, 10),
        FinetunePreset("EAP", "enhancer activity prediction (DeepSTARR regression)", 64, 1e-4, 10, metric="pearson"),
    )
}

PAPER_TABLE3_MCC: dict[str, dict[str, float]] = {
    "TF-H 0": {"DNABERT": 67.06, "DNABERT + RandomMask": 67.13},
    "TF-M 0": {"DNABERT": 46.27, "DNABERT + RandomMask": 55.61},
    "CPD tata": {"DNABERT": 76.06, "DNABERT + RandomMask": 76.65},
    "PD tata": {"DNABERT": 61.56, "DNABERT + RandomMask": 84.03},
    "EMP H3": {"DNABERT": 75.82, "DNABERT + RandomMask": 77.62},
}
"""Published test MCC x 100 (Liang et al., Table 3): the paper's numbers, for reference, not ours."""


@dataclass(frozen=True)
class GueTask:
    """A task path resolved to its family and the column name the paper's tables use."""

    path: str
    family: str
    paper_column: str

    @property
    def preset(self) -> FinetunePreset:
        return PRESETS[self.family]

    @property
    def paper_mcc(self) -> dict[str, float] | None:
        """The paper's published MCC x 100 for this column, when ``PAPER_TABLE3_MCC`` holds it."""
        return PAPER_TABLE3_MCC.get(self.paper_column)


def resolve_task(path: str | os.PathLike) -> GueTask:
    """Family and paper column of a GUE task from its path (``tf/0``, ``mouse/3``, ``prom/prom_core_tata``,
    ``prom/prom_300_all``, ``EMP/H3K4me3``, ``splice/reconstructed``; absolute paths work too, the last two
    parts decide). DeepSTARR enhancer folders are recognised under a parent named ``EAP`` or ``deepstarr``."""
    parts = PurePath(os.fspath(path)).parts
    if len(parts) < 2:
        raise ValueError(f"task path {os.fspath(path)!r} needs a family folder and a task folder, e.g. 'tf/0'")
    group, name = parts[-2], parts[-1]
    key = f"{group}/{name}"
    lowered = group.lower()
    if lowered == "emp":
        return GueTask(key, "EMP", f"EMP {name}")
    if lowered == "tf":
        return GueTask(key, "TF-H", f"TF-H {name}")
    if lowered == "mouse":
        return GueTask(key, "TF-M", f"TF-M {name}")
    if lowered == "prom":
        for prefix, family in (("prom_core_", "CPD"), ("prom_300_", "PD")):
            if name.startswith(prefix):
                return GueTask(key, family, f"{family} {name.removeprefix(prefix)}")
    if lowered == "splice":
        return GueTask(key, "SSP", "SSP")
    if lowered in ("eap", "deepstarr"):
        return GueTask(key, "EAP", "EAP")
    raise ValueError(
        f"no paper fine-tuning preset for task {key!r}: known families are EMP/<mark>, tf/<i>, mouse/<i>, "
        "prom/prom_core_<x>, prom/prom_300_<x>, splice/<x>, EAP|deepstarr/<x>; pass hyper-parameters explicitly"
    )


def preset_for(path: str | os.PathLike) -> FinetunePreset:
    """The paper's fine-tuning preset for the task at ``path``."""
    return resolve_task(path).preset
