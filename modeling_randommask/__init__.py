"""RandomMask: pretrain BERT-like DNA language models with a widening-span masking curriculum."""

from .checkpoint_io import check_self_contained, save_checkpoint
from .configuration_randommask import PRESETS, RandomMaskConfig
from .data_collator_randommask import DataCollatorForRandomMask, RandomMaskCallback
from .dnabert_import import from_dnabert
from .genome_data import (
    FastaFormatError,
    GenomeDataConfig,
    GenomeWindowDataset,
    build_genome_datasets,
    read_genome,
)
from .masking_schedule import RandomMaskSchedule
from .modeling_randommask import (
    RandomMaskForMaskedLM,
    RandomMaskForSequenceClassification,
    RandomMaskForTokenClassification,
    RandomMaskModel,
    RandomMaskPreTrainedModel,
)

__all__ = [
    "PRESETS",
    "DataCollatorForRandomMask",
    "FastaFormatError",
    "GenomeDataConfig",
    "GenomeWindowDataset",
    "RandomMaskCallback",
    "RandomMaskConfig",
    "RandomMaskForMaskedLM",
    "RandomMaskForSequenceClassification",
    "RandomMaskForTokenClassification",
    "RandomMaskModel",
    "RandomMaskPreTrainedModel",
    "RandomMaskSchedule",
    "build_genome_datasets",
    "check_self_contained",
    "from_dnabert",
    "read_genome",
    "save_checkpoint",
]
