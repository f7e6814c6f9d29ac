"""Hub folders: save and load self-contained checkpoints, convert DNABERT, render model cards, upload."""

from .. import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    ".checkpoint": ["check_self_contained", "load_masked_lm", "save_checkpoint"],
    ".dnabert": ["from_dnabert"],
})
