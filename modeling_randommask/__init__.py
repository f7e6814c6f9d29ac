"""RandomMask: pretrain BERT-like DNA language models with a widening-span masking curriculum.

Only ``configuration_randommask.py``, ``modeling_randommask.py`` and ``pipeline_randommask.py`` at this level travel
inside checkpoints; the sub-packages are the tooling, by stage: ``data`` -> ``masking`` -> ``evaluation`` -> ``hub``
-> ``inference`` -> ``training`` -> ``analysis`` -> ``cli`` (each imports only the ones before it).

The public names below load lazily (PEP 562): ``import modeling_randommask.data.fasta`` loads that stage only, not
torch's whole training stack, and a command can set its environment before torch is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_PUBLIC = {
    ".configuration_randommask": ["MODEL_SIZES", "RandomMaskConfig"],
    ".data": ["FastaFormatError", "GenomeDataConfig", "GenomeWindowDataset", "build_genome_datasets", "read_genome"],
    ".hub": ["check_self_contained", "from_dnabert", "load_masked_lm", "save_checkpoint"],
    ".inference": ["base_probabilities", "embed", "score_variants"],
    ".masking": ["DataCollatorForRandomMask", "RandomMaskCallback", "RandomMaskSchedule"],
    ".modeling_randommask": ["RandomMaskForMaskedLM", "RandomMaskForSequenceClassification",
                             "RandomMaskForTokenClassification", "RandomMaskModel", "RandomMaskPreTrainedModel"],
}
_MODULE_OF = {name: module for module, names in _PUBLIC.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name], __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what type checkers and IDEs see; never executed
    from .configuration_randommask import MODEL_SIZES, RandomMaskConfig
    from .data import FastaFormatError, GenomeDataConfig, GenomeWindowDataset, build_genome_datasets, read_genome
    from .hub import check_self_contained, from_dnabert, load_masked_lm, save_checkpoint
    from .inference import base_probabilities, embed, score_variants
    from .masking import DataCollatorForRandomMask, RandomMaskCallback, RandomMaskSchedule
    from .modeling_randommask import (
        RandomMaskForMaskedLM,
        RandomMaskForSequenceClassification,
        RandomMaskForTokenClassification,
        RandomMaskModel,
        RandomMaskPreTrainedModel,
    )
