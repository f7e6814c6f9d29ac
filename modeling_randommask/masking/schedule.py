"""The RandomMask curriculum: which span lengths are drawn, and how often, at a given optimizer step.

Our reading of the paper (its Algorithm 1 is not public), with every number a parameter: the run's ``total_steps``
are cut into ``num_phases`` equal phases, ``phase = min(step * num_phases // total_steps, num_phases - 1)``; in phase
``p`` a masked span's length is drawn uniformly from ``[min_span, max_span_start + span_increment * p]``, and every
maskable token is a span centre with probability ``centre_probability``.

Expected masked fraction. A span of length ``L`` around centre ``c`` covers the offsets ``o = x - c`` in
``[-(L-1)//2, L-1-(L-1)//2]``; let ``q_o`` be the probability (over ``L``) that it covers offset ``o`` (so
``sum_o q_o = E[L]``). Centres are independent, so a token far from the sequence ends is selected with probability
``1 - prod_o (1 - p * q_o)``, about ``1 - exp(-p * E[L])``. With ``target_masked_ratio`` set, ``p`` is solved from
that equation in every phase, so the expected fraction of interior tokens equals the target exactly (tokens within a
span's half-length of ``[CLS]``/``[SEP]`` are covered a little less often; ``expected_masked_ratio(step, n)``
includes that edge effect).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any, Literal

import torch

MaskingPreset = Literal["randommask", "dnabert", "nt"]
MASKING_PRESETS: dict[str, dict[str, Any]] = {
    # The paper: 480k steps, 5 phases, spans 6..6, 6..8, ..., 6..14 tokens, DNABERT's centre probability.
    "randommask": {},
    # DNABERT's fixed masking: one phase, every span 6 tokens (hides one base with overlapping 6-mers).
    "dnabert": {"num_phases": 1, "min_span": 6, "max_span_start": 6, "span_increment": 0},
    # Nucleotide Transformer / plain BERT for non-overlapping (stride k) tokens: single tokens, 15% of them.
    "nt": {"num_phases": 1, "min_span": 1, "max_span_start": 1, "span_increment": 0, "centre_probability": 0.15},
}
# Presets whose spans start at k tokens: k masked overlapping k-mers hide one base (6 for the paper's 6-mers).
SPANS_FROM_K = ("randommask", "dnabert")


def coverage_by_offset(min_span: int, max_span: int) -> dict[int, float]:
    """``{o: q_o}``: probability that a span with length uniform in ``[min_span, max_span]`` covers offset ``o``
    from its centre (for length 6: offsets -2..3, DNABERT's window)."""
    lengths = range(min_span, max_span + 1)
    offsets = range(-((max_span - 1) // 2), max_span - (max_span - 1) // 2)
    return {o: sum(-((n - 1) // 2) <= o <= n - 1 - (n - 1) // 2 for n in lengths) / len(lengths) for o in offsets}


def _selected_probability(p: float, coverage: dict[int, float]) -> float:
    not_selected = 1.0
    for q in coverage.values():
        not_selected *= 1.0 - p * q
    return 1.0 - not_selected


@lru_cache(maxsize=64)
def _solve_centre_probability(min_span: int, max_span: int, target: float) -> float:
    """The ``p`` whose interior masked fraction is ``target`` (bisection; the fraction grows with ``p``)."""
    coverage = coverage_by_offset(min_span, max_span)
    low, high = 0.0, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if _selected_probability(middle, coverage) < target else (low, middle)
    return (low + high) / 2


@dataclass(frozen=True)
class RandomMaskSchedule:
    """Span-length curriculum over ``total_steps`` optimizer steps; ``to_dict`` round-trips through JSON.

    Args:
        total_steps: the run's optimizer steps; phases are ``total_steps / num_phases`` long (steps past the end
            stay in the last phase).
        num_phases: number of curriculum phases.
        min_span: shortest span, in tokens.
        max_span_start: longest span in phase 0 (6: phase 0 is exactly DNABERT's masking).
        span_increment: added to the longest span every phase.
        centre_probability: probability that a maskable token is a span centre (DNABERT's 0.025).
        target_masked_ratio: if set, replaces ``centre_probability``: it is solved per phase so that the expected
            selected fraction is this value (see the module docstring).
    """

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
    def from_preset(cls, name: MaskingPreset, kmer_size: int = 6, **overrides: Any) -> RandomMaskSchedule:
        """``"randommask"`` (the paper), ``"dnabert"`` (fixed 6-token spans) or ``"nt"`` (single tokens, 15%);
        for other ``kmer_size`` the first two start at spans of ``kmer_size`` tokens instead of 6. ``overrides``
        win, e.g. the ``total_steps`` of a shorter run (the phases scale with it)."""
        if name not in MASKING_PRESETS:
            raise ValueError(f"unknown masking preset {name!r}; choose from {sorted(MASKING_PRESETS)}")
        spans = {"min_span": kmer_size, "max_span_start": kmer_size} if name in SPANS_FROM_K else {}
        return cls(**{**MASKING_PRESETS[name], **spans, **overrides})

    def phase(self, step: int) -> int:
        """Phase of an optimizer step (0-based)."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        return min(step * self.num_phases // self.total_steps, self.num_phases - 1)

    def phase_start(self, phase: int) -> int:
        """First step of ``phase``: ``ceil(phase * total_steps / num_phases)``."""
        return -(-phase * self.total_steps // self.num_phases)

    def max_span(self, phase: int) -> int:
        return self.max_span_start + self.span_increment * phase

    def span_bounds(self, step: int) -> tuple[int, int]:
        """Inclusive (min, max) span length drawn at ``step``."""
        return self.min_span, self.max_span(self.phase(step))

    def centre_probability_at(self, step: int) -> float:
        """The centre probability in force at ``step``: fixed, or solved for ``target_masked_ratio``."""
        if self.target_masked_ratio is None:
            return self.centre_probability
        return _solve_centre_probability(*self.span_bounds(step), self.target_masked_ratio)

    def expected_masked_ratio(self, step: int, num_tokens: int | None = None) -> float:
        """Expected selected fraction of maskable tokens at ``step``: far from the sequence ends, or averaged
        over a run of ``num_tokens`` maskable tokens bounded by specials (spans are clipped at both ends)."""
        coverage = coverage_by_offset(*self.span_bounds(step))
        p = self.centre_probability_at(step)
        if num_tokens is None:
            return _selected_probability(p, coverage)
        if num_tokens < 1:
            raise ValueError(f"num_tokens must be >= 1, got {num_tokens}")
        x = torch.arange(num_tokens, dtype=torch.float64)
        log_not_selected = torch.zeros(num_tokens, dtype=torch.float64)
        for o, q in coverage.items():  # token x is covered by centres c = x - o that lie inside the run
            inside = (x - o >= 0) & (x - o < num_tokens)
            log_not_selected += inside * torch.tensor(1.0 - p * q, dtype=torch.float64).log()
        return float(1.0 - log_not_selected.exp().mean())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RandomMaskSchedule:
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown RandomMaskSchedule fields {sorted(unknown)}")
        return cls(**values)
