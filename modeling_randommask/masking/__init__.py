"""The RandomMask curriculum: which spans are masked at a given optimizer step, in a custom loop or under Trainer."""

from .. import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    ".collator": ["IGNORE_INDEX", "DataCollatorForRandomMask", "span_coverage"],
    ".saved_masking": ["MASKING_FILE"],
    ".schedule": ["MASKING_PRESETS", "RandomMaskSchedule"],
    ".trainer_callback": ["RandomMaskCallback"],
})
