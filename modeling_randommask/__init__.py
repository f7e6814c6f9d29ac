"""RandomMask: pretrain BERT-like DNA language models with a widening-span masking curriculum.

Only ``configuration_randommask.py``, ``modeling_randommask.py`` and ``pipeline_randommask.py`` at this level travel
inside checkpoints; the sub-packages are the tooling, by stage: ``data`` -> ``masking`` -> ``evaluation`` -> ``hub``
-> ``inference`` -> ``training`` -> ``analysis`` -> ``cli`` (each imports only the ones before it).

The public names below load lazily (PEP 562), and so do the sub-packages' (``lazy_exports``):
``import modeling_randommask.data.seeding`` loads that module only, not the stages beside it or torch's training
stack, and a command can set its environment before torch is imported.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any


def lazy_exports(package: str, public: dict[str, list[str]]) -> tuple[list[str], Callable, Callable]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for ``package`` whose public names (``{".module": [names]}``)
    import their module on first use, so importing one module of a package does not import its siblings."""
    module_of = {name: module for module, names in public.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in module_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_of[name], package), name)
        vars(sys.modules[package])[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(module_of))

    return sorted(module_of), __getattr__, __dir__


_PUBLIC = {
    ".configuration_randommask": ["MODEL_SIZES", "RandomMaskConfig"],
    ".data": ["FastaFormatError", "GenomeDataConfig", "GenomeWindowDataset", "build_genome_datasets", "read_genome"],
    ".hub": ["check_self_contained", "from_dnabert", "load_masked_lm", "save_checkpoint"],
    ".inference": ["base_probabilities", "embed", "score_variants"],
    ".masking": ["DataCollatorForRandomMask", "RandomMaskCallback", "RandomMaskSchedule"],
    ".modeling_randommask": ["RandomMaskForMaskedLM", "RandomMaskForSequenceClassification",
                             "RandomMaskForTokenClassification", "RandomMaskModel", "RandomMaskPreTrainedModel"],
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)


if TYPE_CHECKING:  # what type checkers and IDEs see; never executed. F401: __all__ is built at run time
    from .configuration_randommask import MODEL_SIZES, RandomMaskConfig  # noqa: F401
    from .data import (  # noqa: F401
        FastaFormatError,
        GenomeDataConfig,
        GenomeWindowDataset,
        build_genome_datasets,
        read_genome,
    )
    from .hub import check_self_contained, from_dnabert, load_masked_lm, save_checkpoint  # noqa: F401
    from .inference import base_probabilities, embed, score_variants  # noqa: F401
    from .masking import DataCollatorForRandomMask, RandomMaskCallback, RandomMaskSchedule  # noqa: F401
    from .modeling_randommask import (  # noqa: F401
        RandomMaskForMaskedLM,
        RandomMaskForSequenceClassification,
        RandomMaskForTokenClassification,
        RandomMaskModel,
        RandomMaskPreTrainedModel,
    )
