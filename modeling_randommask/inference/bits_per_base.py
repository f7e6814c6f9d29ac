"""Bits per base: how well a checkpoint predicts held-out DNA one base at a time, on one scale for every tokenization.

Training losses of k-mer models are not comparable: each is a cross-entropy over a different vocabulary under a
different masking (and RandomMask changes its masking every phase). Bits per base is: at a seeded sample of
positions of held-out DNA, each base is hidden (``base_probabilities``: every k-mer holding it masked) and the model
gives P(A), P(C), P(G), P(T); the figure is the mean of ``-log2 P(true base)`` (2 bits is a uniform guess), with the
accuracy of the most probable base. Overlapping, non-overlapping and DNABERT checkpoints are then measured alike.

Beside it, the same positions under an order-k Markov model (``markov.MarkovBaseline``) fitted on the training
DNA: what counting k-mers alone achieves. Positions are drawn (without replacement, by ``seed``) among the A/C/G/T
bases of the held-out stretches whose k bases on either side are A/C/G/T within the same record, so the model and
both Markov contexts are scored on the same bases. The model's window around a position may reach beyond the
held-out stretch: the predicted base itself was never trained on.

At the end of pretraining (``held_out_bits_per_base``) the cost is bounded whatever the genome's size: 2,000
positions, and a Markov reference fitted on at most ``MARKOV_FIT_BASES`` (16.8 Mbp) of the training stretches, a
seeded sample of 65,536-base pieces (all of them when they hold fewer bases), so ending a run on hg38 costs seconds
and a few MB. Data that hold nothing to measure raise ``StatisticUnavailable``: the run reports it, and finishes.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import numpy as np
import torch

from ..data.fasta import BASE_INDEX, IS_ACGT, Sequences, read_genome
from ..data.genome_windows import GenomeDataConfig, GenomeWindowDataset, build_genome_datasets
from ..modeling_randommask import RandomMaskForMaskedLM
from ..pipeline_randommask import DEFAULT_BATCH_TOKENS, DEFAULT_RULE, resolve_window
from ..tokenization import KmerTokenizer
from .base_probabilities import log_probs_at
from .markov import CONTEXTS, MarkovBaseline

logger = logging.getLogger(__name__)

DEFAULT_POSITIONS = 2000
DEFAULT_ORDER = 5
MARKOV_FIT_BASES = 1 << 24  # 16.8 Mbp: over 4,000 counts per 6-mer on average, the order-5 table's
MARKOV_FIT_PIECE = 1 << 16  # bases per sampled piece: long enough that piece edges lose a negligible share of k-mers
MAX_DRAWS_PER_POSITION = 64  # bounds sample_positions' work on N-rich DNA (few bases with an A/C/G/T neighbourhood)


class StatisticUnavailable(ValueError):
    """The data hold nothing a statistic can be measured on (no A/C/G/T base with an A/C/G/T neighbourhood): not a
    fault of the run, reported instead of the figure."""


@dataclass
class HeldOutDNA:
    """Where bits per base is measured: positions are drawn from ``sequence[starts[i] : ends[i]]`` of ``sequences``
    (global coordinates of ``sequences.sequence``)."""

    sequences: Sequences
    starts: np.ndarray
    ends: np.ndarray
    description: str

    @property
    def num_bases(self) -> int:
        return int((self.ends - self.starts).sum())


def _genome_sequences(dataset: GenomeWindowDataset) -> Sequences:
    bases = dataset.sequence.numpy()
    starts = np.asarray(dataset.record_starts, dtype=np.int64)
    return Sequences(bases, list(dataset.record_names), starts, np.diff(np.append(starts, bases.size)))


def from_datasets(train: GenomeWindowDataset, val: GenomeWindowDataset) -> tuple[HeldOutDNA, tuple[np.ndarray, np.ndarray]]:
    """Pretraining's split: the validation regions to measure on, and the training stretches to fit a Markov
    baseline on (``build_genome_datasets``' two datasets)."""
    held_out = HeldOutDNA(_genome_sequences(val), *val.segments, "")
    held_out.description = f"the pretraining validation regions ({held_out.num_bases:,} bases)"
    return held_out, train.segments


def from_pretraining_data(config: GenomeDataConfig, tokenizer: KmerTokenizer
                          ) -> tuple[HeldOutDNA, tuple[np.ndarray, np.ndarray]]:
    """``from_datasets`` for the genome split ``examples/pretrain.py`` makes with these data options."""
    train, val, _ = build_genome_datasets(config, tokenizer)
    return from_datasets(train, val)


def from_fasta(paths: str | os.PathLike | list) -> HeldOutDNA:
    """All of some FASTA(.gz) files."""
    genome = read_genome(paths)
    names = ", ".join(path.name for path in genome.files)
    return HeldOutDNA(genome, genome.starts, genome.starts + genome.lengths, f"{names} ({genome.num_bases:,} bases)")


def sample_positions(dna: HeldOutDNA, num_positions: int, seed: int, margin: int) -> np.ndarray:
    """Up to ``num_positions`` distinct positions (global, sorted) of A/C/G/T bases in ``dna``'s stretches whose
    ``margin`` bases on either side are A/C/G/T in the same record, among at most ``MAX_DRAWS_PER_POSITION`` seeded
    draws per position; fewer only when fewer are found (logged), none raises ``StatisticUnavailable``."""
    if num_positions < 1:
        raise ValueError(f"num_positions must be >= 1, got {num_positions}")
    lengths = dna.ends - dna.starts
    total = int(lengths.sum())
    cumulative = np.cumsum(lengths)
    record_starts, record_lengths = dna.sequences.starts, dna.sequences.lengths
    most = min(total, MAX_DRAWS_PER_POSITION * num_positions)
    draws = min(most, 4 * num_positions)
    while True:
        offsets = np.random.default_rng(seed).choice(total, size=draws, replace=False)
        stretch = np.searchsorted(cumulative, offsets, side="right")
        candidates = dna.starts[stretch] + offsets - (cumulative[stretch] - lengths[stretch])
        record = np.searchsorted(record_starts, candidates, side="right") - 1
        inside = (candidates - margin >= record_starts[record]) & \
                 (candidates + margin < record_starts[record] + record_lengths[record])
        window = np.clip(candidates[:, None] + np.arange(-margin, margin + 1), 0, dna.sequences.sequence.size - 1)
        chosen = candidates[inside & IS_ACGT[dna.sequences.sequence[window]].all(axis=1)][:num_positions]
        if chosen.size == num_positions or draws == most:
            break
        draws = min(most, 4 * draws)
    among = "" if draws == total else f" among {draws:,} sampled"
    if not chosen.size:
        raise StatisticUnavailable(
            f"{dna.description}: no A/C/G/T base with {margin} A/C/G/T bases on either side{among}")
    if chosen.size < num_positions:
        logger.warning("%s: only %d positions with an A/C/G/T neighbourhood of %d bases%s (asked for %d)",
                       dna.description, chosen.size, margin, among, num_positions)
    return np.sort(chosen)


@dataclass
class PositionScores:
    """Per scored position: ``-log2 P(true base)`` and whether the most probable base is the true one. Kept per
    position so that two predictors scored at the same positions can be compared pairwise (``paired_difference``)."""

    bits: np.ndarray
    correct: np.ndarray

    @classmethod
    def of(cls, log_probs: torch.Tensor, truth: np.ndarray) -> PositionScores:
        picked = log_probs[torch.arange(truth.size), torch.from_numpy(truth)]
        return cls((-picked.double() / math.log(2)).numpy(), (log_probs.argmax(dim=1).numpy() == truth))

    def summary(self) -> dict[str, float]:
        """Mean bits per base and accuracy."""
        return {"bits_per_base": float(self.bits.mean()), "accuracy": float(self.correct.mean())}


def paired_difference(ours: PositionScores, reference: PositionScores) -> dict[str, float]:
    """Mean per-position difference in bits, ``ours - reference`` (negative: ours predicts better), and its standard
    error over positions. Both were scored at the same positions, so the position-to-position variation that
    dominates either mean cancels: the standard error is smaller than either mean's."""
    if ours.bits.shape != reference.bits.shape:
        raise ValueError(f"paired scores need the same positions, got {ours.bits.size} and {reference.bits.size}")
    difference = ours.bits - reference.bits
    return {"difference": float(difference.mean()),
            "standard_error": float(difference.std(ddof=1) / math.sqrt(difference.size)) if difference.size > 1
            else math.nan}


def _truth(dna: HeldOutDNA, positions: np.ndarray) -> np.ndarray:
    return BASE_INDEX[dna.sequences.sequence[positions]]


def model_position_scores(model: RandomMaskForMaskedLM, tokenizer: KmerTokenizer, dna: HeldOutDNA,
                          positions: np.ndarray, *, rule: str = DEFAULT_RULE, window_tokens: int | None = None,
                          batch_tokens: int = DEFAULT_BATCH_TOKENS, progress: bool = False) -> PositionScores:
    """The model's scores at ``positions`` (global, from ``sample_positions``)."""
    record = np.searchsorted(dna.sequences.starts, positions, side="right") - 1
    log_probs = log_probs_at(model, tokenizer, dna.sequences, record, positions - dna.sequences.starts[record],
                             rule=rule, window_tokens=window_tokens, batch_tokens=batch_tokens, progress=progress)
    return PositionScores.of(log_probs, _truth(dna, positions))


def model_bits_per_base(model: RandomMaskForMaskedLM, tokenizer: KmerTokenizer, dna: HeldOutDNA,
                        positions: np.ndarray, **options) -> dict[str, float]:
    """``bits_per_base`` and ``accuracy`` of the model at ``positions`` (options: ``model_position_scores``')."""
    return model_position_scores(model, tokenizer, dna, positions, **options).summary()


def markov_label(order: int, context: str) -> str:
    """How reports name a Markov baseline: ``order-5 Markov, 5 bases before`` / ``..., 2 before and 3 after``."""
    before = order if context == "left" else order // 2
    return f"order-{order} Markov, {before} bases before" if context == "left" else \
        f"order-{order} Markov, {before} bases before and {order - before} after"


def markov_position_scores(markov: MarkovBaseline, dna: HeldOutDNA, positions: np.ndarray,
                           context: str) -> PositionScores:
    """The Markov baseline's scores at ``positions`` in one context (``"left"`` or ``"centred"``)."""
    return PositionScores.of(markov.log_probs(dna.sequences.sequence, positions, context), _truth(dna, positions))


def markov_bits_per_base(markov: MarkovBaseline, dna: HeldOutDNA, positions: np.ndarray) -> dict:
    """The Markov baseline at ``positions``: its ``order``, the number of k-mers it was fitted on, and per context
    (``"left"``, ``"centred"``) a ``label`` for reports, ``bits_per_base`` and ``accuracy``."""
    return {"order": markov.order, "fitted_kmers": markov.fitted_kmers,
            **{context: {"label": markov_label(markov.order, context),
                         **markov_position_scores(markov, dna, positions, context).summary()}
               for context in CONTEXTS}}


def fit_markov(bases: np.ndarray, stretches: tuple[np.ndarray, np.ndarray], order: int = DEFAULT_ORDER) -> MarkovBaseline:
    """An order-``order`` Markov baseline fitted on ``bases[starts[i] : ends[i]]``."""
    return MarkovBaseline(order).fit(bases, *stretches)


def sample_stretches(stretches: tuple[np.ndarray, np.ndarray], max_bases: int, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_bases`` of the ``(starts, ends)`` stretches: all of them when they hold no more, else a seeded
    sample of their ``MARKOV_FIT_PIECE``-base pieces (sorted), drawn without replacement."""
    starts, ends = (np.asarray(bound, dtype=np.int64) for bound in stretches)
    lengths = ends - starts
    if int(lengths.sum()) <= max_bases:
        return starts, ends
    pieces = -(-lengths // MARKOV_FIT_PIECE)
    first = np.repeat(np.cumsum(pieces) - pieces, pieces)
    piece_starts = np.repeat(starts, pieces) + (np.arange(int(pieces.sum())) - first) * MARKOV_FIT_PIECE
    piece_ends = np.minimum(piece_starts + MARKOV_FIT_PIECE, np.repeat(ends, pieces))
    chosen = np.sort(np.random.default_rng(seed).choice(piece_starts.size, max_bases // MARKOV_FIT_PIECE,
                                                        replace=False))
    return piece_starts[chosen], piece_ends[chosen]


def held_out_bits_per_base(model: RandomMaskForMaskedLM, tokenizer: KmerTokenizer, train: GenomeWindowDataset,
                           val: GenomeWindowDataset, *, window_tokens: int | None = None,
                           num_positions: int = DEFAULT_POSITIONS, markov_order: int = DEFAULT_ORDER,
                           seed: int = 0) -> dict | None:
    """The model card's figures at the end of pretraining: bits per base and accuracy on the validation regions,
    beside an order-``markov_order`` Markov baseline fitted on (a seeded sample of at most ``MARKOV_FIT_BASES`` of)
    the training stretches, at the same positions. None when the run held nothing out (``val_fraction`` 0);
    ``StatisticUnavailable`` when the validation regions hold no base to measure."""
    if not len(val):
        return None
    window_tokens, _ = resolve_window(model, tokenizer, window_tokens)
    was_training = model.training
    model.eval()
    try:
        dna, stretches = from_datasets(train, val)
        positions = sample_positions(dna, num_positions, seed, markov_order)
        fitted = sample_stretches(stretches, MARKOV_FIT_BASES, seed)
        markov = fit_markov(dna.sequences.sequence, fitted, markov_order)
        ours = model_bits_per_base(model, tokenizer, dna, positions, window_tokens=window_tokens)
    finally:
        model.train(was_training)
    return {"held_out": dna.description, "positions": int(positions.size), "seed": seed, "rule": DEFAULT_RULE,
            "markov_fit_bases": int((fitted[1] - fitted[0]).sum()),
            "window_tokens": window_tokens, "model": ours, "markov": markov_bits_per_base(markov, dna, positions)}
