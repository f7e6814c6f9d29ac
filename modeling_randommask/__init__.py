"""RandomMask: pretrain BERT-like DNA language models with a widening-span masking curriculum.

Only ``configuration_randommask.py``, ``modeling_randommask.py`` and ``pipeline_randommask.py`` at this level travel
inside checkpoints; the sub-packages are the tooling, by stage: ``data`` -> ``masking`` -> ``evaluation`` -> ``hub``
-> ``inference`` -> ``training`` -> ``analysis`` (each imports only the ones before it).
"""

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

__all__ = [
    "MODEL_SIZES",
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
    "base_probabilities",
    "build_genome_datasets",
    "check_self_contained",
    "embed",
    "from_dnabert",
    "load_masked_lm",
    "read_genome",
    "save_checkpoint",
    "score_variants",
]
