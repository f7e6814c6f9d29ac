"""RandomMask: pretrain BERT-like DNA language models with a widening-span masking curriculum."""

from .checkpoint_io import check_self_contained, save_checkpoint
from .configuration_randommask import PRESETS, RandomMaskConfig
from .dnabert_import import from_dnabert
from .modeling_randommask import (
    RandomMaskForMaskedLM,
    RandomMaskForSequenceClassification,
    RandomMaskForTokenClassification,
    RandomMaskModel,
    RandomMaskPreTrainedModel,
)

__all__ = [
    "PRESETS",
    "RandomMaskConfig",
    "RandomMaskForMaskedLM",
    "RandomMaskForSequenceClassification",
    "RandomMaskForTokenClassification",
    "RandomMaskModel",
    "RandomMaskPreTrainedModel",
    "check_self_contained",
    "from_dnabert",
    "save_checkpoint",
]
