"""GUE task folders -> task family and the column name the RandomMask paper's tables use.

GUE (the DNABERT-2 benchmark) lays tasks out as ``<family>/<task>/{train,dev,test}.csv``: ``tf/0``, ``mouse/3``,
``prom/prom_core_tata``, ``prom/prom_300_all``, ``EMP/H3K4me3``, ``splice/reconstructed``; DeepSTARR enhancer folders
are recognised under a parent named ``EAP`` or ``deepstarr``. ``PAPER_TABLE3_MCC`` holds the paper's published
numbers for reference only: BERT-base models pretrained 480k steps on the human genome, never results of this package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePath

FAMILIES: dict[str, str] = {
    "EMP": "epigenetic mark prediction (yeast histone marks)",
    "TF-H": "transcription factor binding site prediction, human",
    "TF-M": "transcription factor binding site prediction, mouse",
    "CPD": "core promoter detection (70 bp)",
    "PD": "promoter detection (300 bp)",
    "SSP": "splice site prediction",
    "EAP": "enhancer activity prediction (DeepSTARR regression)",
}
"""Task families of the paper's fine-tuning appendix, by the abbreviation its tables use."""

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
    def paper_mcc(self) -> dict[str, float] | None:
        """The paper's published MCC x 100 for this column, when ``PAPER_TABLE3_MCC`` holds it."""
        return PAPER_TABLE3_MCC.get(self.paper_column)


def resolve_task(path: str | os.PathLike) -> GueTask:
    """Family and paper column of a GUE task from its path (absolute paths work too: the last two parts decide)."""
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
