"""RandomMask: pretrain BERT-like DNA language models with a widening-span masking curriculum.

Only ``configuration_randommask.py``, ``modeling_randommask.py`` and ``pipeline_randommask.py`` at this level travel
inside checkpoints; the sub-packages are the tooling, by stage: ``data`` -> ``masking`` -> ``evaluation`` -> ``hub``
-> ``inference`` -> ``training`` -> ``analysis`` -> ``cli`` (each imports only the ones before it).

The public names below load lazily (PEP 562), and so do the sub-packages' (``lazy_exports``):
``import modeling_randommask.data.seeding`` loads that module only, not the stages beside it or torch's training
stack, and a command can set its environment before torch is imported.

``tokenization/`` and ``model_cards/`` are folders beside this package in the repository and are installed inside it
(``modeling_randommask.tokenization``: ``pyproject.toml`` maps them), so an install claims no generic top-level name;
in a source checkout the same names find the folders beside the package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0.dev0"
OLD_NAMES_REMOVED_IN = "0.3.0"
"""The release that removes every deprecated spelling: options, ``randommask-*`` scripts, ``import tokenization``
(CHANGELOG.md lists them)."""

_HERE = Path(__file__).resolve().parent
_BESIDE = {f"{__name__}.{name}": _HERE.parent / name for name in ("tokenization", "model_cards")}


class _SourceCheckoutFinder:  # a meta path finder (importlib.abc.MetaPathFinder: 90 ms to import, for nothing)
    """Finds ``modeling_randommask.tokenization`` and ``.model_cards`` in the folders beside the package, where a
    source checkout (``PYTHONPATH``, an editable install) has them; an installed wheel has them inside."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        init = _BESIDE[fullname] / "__init__.py" if fullname in _BESIDE else None
        if init is None or not init.is_file():
            return None
        from importlib.util import spec_from_file_location

        return spec_from_file_location(fullname, init, submodule_search_locations=[str(init.parent)])


if not (_HERE / "tokenization").is_dir():  # first: an editable install's finder may map these names to another tree
    sys.meta_path.insert(0, _SourceCheckoutFinder())


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
