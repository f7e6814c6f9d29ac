"""Hub folders: save and load self-contained checkpoints, convert DNABERT, render model cards, upload."""

from .checkpoint import check_self_contained, load_masked_lm, save_checkpoint
from .dnabert import from_dnabert

__all__ = ["check_self_contained", "from_dnabert", "load_masked_lm", "save_checkpoint"]
