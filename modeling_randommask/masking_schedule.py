"""The RandomMask curriculum: which span lengths are drawn at a given optimizer step.

Our reading of the paper (its Algorithm 1 is not public), with every number a parameter: the run is cut into
``num_phases`` equal phases; in phase ``p`` a masked span's length is drawn uniformly from
``[min_span, max_span_start + span_increment * p]``; every maskable token is a span centre with probability
``centre_probability``. With ``target_masked_ratio`` set instead, the centre probability is scaled by the phase's
expected span so that about that fraction of tokens is selected (overlaps and clipping at the sequence ends make
the realised ratio a little lower).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    # The paper: 480k steps, 5 phases, spans 6..6, 6..8, ..., 6..14 tokens, DNABERT's centre probability.
    "randommask": {},
    # DNABERT's fixed masking: one phase, every span 6 tokens (hides one base with overlapping 6-mers).
    "dnabert": {"num_phases": 1, "min_span": 6, "max_span_start": 6, "span_increment": 0},
    # Nucleotide Transformer / BERT for non-overlapping tokens: single tokens, 15% of them.
    "nt": {"num_phases": 1, "min_span": 1, "max_span_start": 1, "span_increment": 0, "centre_probability": 0.15},
}


@dataclass(frozen=True)
class RandomMaskSchedule:
    """Span-length curriculum over ``total_steps`` optimizer steps; a plain dict round-trips through JSON."""

    total_steps: int = 480_000
    num_phases: int = 5
    min_span: int = 6
    max_span_start: int = 6
    span_increment: int = 2
    centre_probability: float = 0.025
    target_masked_ratio: float | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.num_phases <= self.total_steps:
            raise ValueError(f"need 1 <= num_phases ({self.num_phases}) <= total_steps ({self.total_steps})")
        if not 1 <= self.min_span <= self.max_span_start:
            raise ValueError(f"need 1 <= min_span ({self.min_span}) <= max_span_start ({self.max_span_start})")
        if self.span_increment < 0:
            raise ValueError(f"span_increment must be >= 0, got {self.span_increment}")
        if not 0 < self.centre_probability <= 1:
            raise ValueError(f"centre_probability must be in (0, 1], got {self.centre_probability}")
        if self.target_masked_ratio is not None and not 0 < self.target_masked_ratio < 1:
            raise ValueError(f"target_masked_ratio must be in (0, 1), got {self.target_masked_ratio}")

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> RandomMaskSchedule:
        """``"randommask"`` (the paper), ``"dnabert"`` (fixed 6-token spans) or ``"nt"`` (single tokens, 15%);
        ``overrides`` (e.g. ``total_steps`` of a shorter run, which scales the phases) win."""
        if name not in PRESETS:
            raise ValueError(f"unknown masking preset {name!r}; choose from {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def phase(self, step: int) -> int:
        """Phase of an optimizer step; steps past ``total_steps`` stay in the last phase."""
        return min(step * self.num_phases // self.total_steps, self.num_phases - 1)

    def phase_start(self, phase: int) -> int:
        """First step of ``phase``."""
        return -(-phase * self.total_steps // self.num_phases)

    def max_span(self, phase: int) -> int:
        return self.max_span_start + self.span_increment * phase

    def span_bounds(self, step: int) -> tuple[int, int]:
        """Inclusive (min, max) span length drawn at ``step``."""
        return self.min_span, self.max_span(self.phase(step))

    def centre_probability_at(self, step: int) -> float:
        """The centre probability in force: fixed, or ``target / mean span`` in target-ratio mode."""
        if self.target_masked_ratio is None:
            return self.centre_probability
        low, high = self.span_bounds(step)
        return min(1.0, self.target_masked_ratio / ((low + high) / 2))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RandomMaskSchedule:
        return cls(**values)
