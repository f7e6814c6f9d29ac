"""The RandomMask curriculum: which spans are masked at a given optimizer step, in a custom loop or under Trainer."""

from .collator import IGNORE_INDEX, DataCollatorForRandomMask, span_coverage
from .schedule import MASKING_PRESETS, RandomMaskSchedule
from .trainer_callback import MASKING_FILE, RandomMaskCallback

__all__ = ["IGNORE_INDEX", "MASKING_FILE", "MASKING_PRESETS", "DataCollatorForRandomMask", "RandomMaskCallback",
           "RandomMaskSchedule", "span_coverage"]
