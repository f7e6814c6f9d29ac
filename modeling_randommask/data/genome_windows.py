"""A ``Genome`` -> model-sized windows of k-mer ids, with a validation split held out by genomic region.

Windows. ``window_bases = tokenizer.bases_for_tokens(max_length - 2)`` (515 bp for 512 tokens of overlapping
6-mers). The genome is cut into segments at record ends, validation regions and assembly gaps (runs of at least
``min_gap`` non-ACGT bases); windows lie on a grid of ``window_bases`` cells inside each segment, so they never
cross any of these. Tiled mode uses the grid as is; random-offset mode shifts the whole grid by a per-epoch
offset in ``[0, window_bases)``, a pure function of (seed, epoch): windows of one epoch never overlap, and each
window slot always stays within its two grid cells, so the slots, and ``len(dataset)``, are the same every epoch.
A window slot is skipped (and counted) when its span (one cell when tiled, the two cells a shifted window can
touch otherwise) holds more than ``max_n_fraction * window_bases`` non-ACGT bases: no window ever delivered is
more than ``max_n_fraction`` N/IUPAC. Reverse-complement augmentation is drawn per (seed, epoch, index).

Validation. The genome is cut into equal blocks (``val_block`` bases, made smaller for small genomes so that
``val_fraction`` of them is at least one block, and never below 4 windows); ``val_fraction`` of the mostly-ACGT
blocks (at least one) are held out, chosen by a seeded hash. Training segments exclude them, so no training
window, whatever the epoch's offset, holds a validation base. Validation windows are tiled, never flipped.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch.utils.data import Dataset

from .fasta import COMPLEMENT, IS_ACGT, Genome, default_corpus, letter_counts, read_genome
from .seeding import seed_hash

logger = logging.getLogger(__name__)

_SCAN_BASES = 1 << 24  # bases per step when scanning the genome for non-ACGT runs


@dataclass
class GenomeDataConfig:
    """How genome windows are made: the data options of ``examples/pretrain.py`` (the module docstring explains each
    policy). Empty ``paths`` means the embedded E. coli genome."""

    paths: list[str] = field(default_factory=list, metadata={
        "aliases": ["--genome"], "help": "FASTA(.gz) files or folders of them (default: the embedded E. coli genome)"})
    max_length: int = field(default=128, metadata={
        "help": "tokens per window including [CLS] and [SEP] (the paper: 512); the window's bases follow from the "
                "tokenizer"})
    seed: int = field(default=42, metadata={
        "help": "the run's seed: validation blocks, window offsets, strand flips, batch order, masks, weight init"})
    val_fraction: float = field(default=0.01, metadata={
        "help": "share of the genome's blocks held out for validation (at least one block; 0 disables)"})
    val_seed: int | None = field(default=None, metadata={
        "help": "seed of the validation blocks alone (default: --seed), so runs with different seeds can hold out "
                "the same DNA"})
    val_block: int = field(default=100_000, metadata={
        "help": "validation block size in bases (smaller for small genomes, never below 4 windows)"})
    min_gap: int = field(default=50, metadata={
        "help": "runs of at least this many non-ACGT bases are assembly gaps: windows never overlap them"})
    max_n_fraction: float = field(default=0.1, metadata={
        "help": "a window slot holding more than this fraction of non-ACGT bases is skipped"})
    random_offsets: bool = field(default=True, metadata={
        "help": "shift the training grid by a per-epoch random offset: on by default, --no_random_offsets tiles"})
    reverse_complement: bool = field(default=True, metadata={
        "help": "reverse-complement half of the training windows, drawn per (seed, epoch, index): on by default, "
                "--no_reverse_complement turns it off"})

    def __post_init__(self):
        self.paths = [self.paths] if isinstance(self.paths, (str, Path)) else list(self.paths)
        checks = {"max_length >= 3": self.max_length >= 3, "0 <= val_fraction <= 0.5": 0 <= self.val_fraction <= 0.5,
                  "val_block >= 1": self.val_block >= 1, "min_gap >= 1": self.min_gap >= 1,
                  "0 <= max_n_fraction <= 1": 0 <= self.max_n_fraction <= 1,
                  "0 <= seed < 2**32 (numpy's seeds)": 0 <= self.seed < 2**32,
                  "0 <= val_seed < 2**32": self.val_seed is None or 0 <= self.val_seed < 2**32}
        failed = [rule for rule, ok in checks.items() if not ok]
        if failed:
            raise ValueError(f"GenomeDataConfig: need {', '.join(failed)} (got {asdict(self)})")

    def genome_paths(self) -> list[str | Path]:
        """``paths``, or the embedded default corpus when none are given."""
        return self.paths or default_corpus()


# ---- intervals [start, end) over the concatenated genome: numpy arrays, never a mask per base ----------------


def _split_at(starts: np.ndarray, ends: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut sorted disjoint intervals at the points that fall strictly inside them."""
    if not starts.size:
        return starts, ends
    after = np.searchsorted(ends, points, side="right")
    inside = after < starts.size
    inside[inside] = starts[after[inside]] < points[inside]
    cuts = points[inside]
    return np.sort(np.concatenate((starts, cuts))), np.sort(np.concatenate((ends, cuts)))


def _non_acgt_runs(genome: Genome) -> tuple[np.ndarray, np.ndarray]:
    """Maximal runs of non-ACGT bases within records, scanned in blocks (a few block-sized temporaries)."""
    starts, ends = [], []
    for first in range(0, genome.num_bases, _SCAN_BASES):
        acgt = IS_ACGT[genome.sequence[first : first + _SCAN_BASES]].view(np.int8)
        edges = np.diff(acgt, prepend=np.int8(1), append=np.int8(1))
        starts.append(np.flatnonzero(edges == -1) + first)
        ends.append(np.flatnonzero(edges == 1) + first)
    starts, ends = np.concatenate(starts), np.concatenate(ends)
    if not starts.size:
        return starts, ends
    join = ends[:-1] == starts[1:]  # runs continuing across a block boundary
    starts, ends = starts[np.concatenate(([True], ~join))], ends[np.concatenate((~join, [True]))]
    return _split_at(starts, ends, genome.starts[1:])


class _RunCounter:
    """Number of non-ACGT bases in any [a, b), from the runs' cumulative lengths."""

    def __init__(self, starts: np.ndarray, ends: np.ndarray):
        self.starts, self.ends = starts, ends
        self.before = np.concatenate(([0], np.cumsum(ends - starts)))

    def upto(self, x: np.ndarray) -> np.ndarray:
        run = np.searchsorted(self.starts, x, side="right") - 1
        safe = np.maximum(run, 0)
        inside = np.clip(x - self.starts[safe], 0, (self.ends - self.starts)[safe]) if self.starts.size else 0
        return np.where(run >= 0, self.before[safe] + inside, 0)

    def count(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.upto(b) - self.upto(a)


def _free_segments(cut_starts: np.ndarray, cut_ends: np.ndarray, genome: Genome) -> tuple[np.ndarray, np.ndarray]:
    """The genome minus the union of the cut intervals, split at record boundaries."""
    keep = cut_ends > cut_starts
    order = np.argsort(cut_starts[keep], kind="stable")
    starts, ends = cut_starts[keep][order], cut_ends[keep][order]
    reach = np.maximum.accumulate(ends) if ends.size else ends
    free_starts = np.concatenate(([0], reach))
    free_ends = np.concatenate((starts, [genome.num_bases]))
    free_ends = np.maximum(free_ends, free_starts)  # a cut inside an earlier, longer cut leaves nothing free
    keep = free_ends > free_starts
    return _split_at(free_starts[keep], free_ends[keep], genome.starts[1:])


def _validation_blocks(genome: Genome, runs: _RunCounter, config: GenomeDataConfig, window: int
                       ) -> tuple[np.ndarray, np.ndarray, int]:
    """(starts, ends, block size) of the held-out blocks: the ``val_fraction`` of mostly-ACGT blocks (at least one)
    with the smallest seeded hash of their index."""
    empty = np.zeros(0, dtype=np.int64)
    if config.val_fraction == 0:
        return empty, empty, 0
    block = max(4 * window, min(config.val_block, math.ceil(genome.num_bases * config.val_fraction)))
    starts = np.arange(0, genome.num_bases, block, dtype=np.int64)
    ends = np.minimum(starts + block, genome.num_bases)
    usable = np.flatnonzero(runs.count(starts, ends) <= config.max_n_fraction * (ends - starts))
    if not usable.size:
        usable = np.arange(starts.size)
    draw = max(1, round(config.val_fraction * usable.size))
    chosen = np.sort(usable[np.argsort(seed_hash(config.seed if config.val_seed is None else config.val_seed, 0x56414C, usable), kind="stable")[:draw]])
    return starts[chosen], ends[chosen], block


def _window_slots(seg_starts: np.ndarray, seg_ends: np.ndarray, window: int, cells: int, runs: _RunCounter,
                  max_n_fraction: float) -> tuple[np.ndarray, int]:
    """Start of every grid slot spanning ``cells`` whole cells inside a segment, minus those whose span holds more
    than ``max_n_fraction * window`` non-ACGT bases; and how many were skipped."""
    per_segment = np.maximum((seg_ends - seg_starts) // window - (cells - 1), 0)
    total = int(per_segment.sum())
    first = np.cumsum(per_segment) - per_segment
    slots = np.repeat(seg_starts, per_segment) + (np.arange(total) - np.repeat(first, per_segment)) * window
    keep = runs.count(slots, slots + cells * window) <= max_n_fraction * window
    return slots[keep], total - int(keep.sum())


class GenomeWindowDataset(Dataset):
    """Map-style windows of a genome; item ``i`` is ``{"input_ids": LongTensor [CLS] k-mer ids [SEP]}``.

    ``set_epoch(epoch)`` picks the epoch's grid offset and reverse-complement draws (pure functions of seed, epoch
    and index); ``len()`` never changes. Being map-style, its indices are sharded by the sampler
    (``DistributedSampler``, accelerate's ``prepare``, ``ShardedBatchSampler``): ranks and DataLoader workers get
    distinct indices, hence distinct windows. ``__getitems__`` (used by DataLoader's batched fetch) and
    ``input_ids`` cut and tokenize a whole batch at once.

    Workers: call ``set_epoch`` before creating the epoch's iterator; workers copy the dataset when they start, so
    with ``persistent_workers=True`` they would keep their first epoch. The bases are one torch uint8 tensor
    (``Genome.tensor()``, shared by the train and validation sets): forked workers read it copy-on-write (no page
    is copied); with spawn/forkserver torch moves it into shared memory once when workers start (the ``Genome``'s
    own buffer stays while referenced) and every worker maps that same memory.
    """

    def __init__(self, genome: Genome, slots: np.ndarray, window: int, tokenizer, *, seed: int = 0,
                 random_offsets: bool = False, reverse_complement: bool = False,
                 segments: tuple[np.ndarray, np.ndarray] | None = None, skipped_windows: int = 0):
        if tokenizer.tokens_for_bases(window) < 1:
            raise ValueError(f"windows of {window} bases hold no {tokenizer.k}-mer")
        self.sequence = genome.tensor()
        self.record_names, self.record_starts = list(genome.names), genome.starts.copy()
        self.slots = torch.from_numpy(np.asarray(slots, dtype=np.int64))
        self.window, self.tokenizer, self.seed = window, tokenizer, seed
        self.random_offsets, self.reverse_complement = random_offsets, reverse_complement
        self.segments = segments if segments is not None else (np.zeros(0, np.int64), np.zeros(0, np.int64))
        self.skipped_windows = skipped_windows
        self.cls, self.sep = tokenizer.cls_token_id, tokenizer.sep_token_id
        self.set_epoch(0)

    def __len__(self) -> int:
        return self.slots.numel()

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s grid offset and reverse-complement draws."""
        self.epoch = int(epoch)
        self._key = seed_hash(self.seed, 0x45504F4348, self.epoch)
        self.offset = int(self._key % np.uint64(self.window)) if self.random_offsets else 0

    def _indices(self, indices) -> torch.Tensor:
        indices = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= len(self)):
            raise IndexError(f"window index out of range 0..{len(self) - 1}: {indices.tolist()[:8]}")
        return indices

    def window_starts(self, indices) -> torch.Tensor:
        """Genome offset (in the concatenated sequence) of each window this epoch."""
        return self.slots[self._indices(indices)] + self.offset

    def reversed(self, indices) -> torch.Tensor:
        """Whether each window is reverse-complemented this epoch."""
        indices = self._indices(indices)
        if not self.reverse_complement:
            return torch.zeros(indices.numel(), dtype=torch.bool)
        return torch.from_numpy((seed_hash(self._key, indices.numpy()) >> np.uint64(63)).astype(bool))

    def bases(self, indices) -> torch.Tensor:
        """The windows' bases, uint8 ASCII ``[B, window]`` (reverse-complemented where drawn).

        Cut with numpy (rows of a strided view: one copy per window, single-threaded): torch's multi-threaded
        gather was 50x slower on a loaded 2-core machine (threads waiting for a busy core)."""
        indices = self._indices(indices)
        rows = sliding_window_view(self.sequence.numpy(), self.window)
        windows = rows[self.window_starts(indices).numpy()]
        flip = self.reversed(indices).numpy()
        if flip.any():
            windows[flip] = COMPLEMENT[windows[flip, ::-1]]
        return torch.from_numpy(windows)

    def input_ids(self, indices) -> torch.Tensor:
        """``[CLS] k-mer ids [SEP]`` of a batch of windows, int64 ``[B, max_length]`` (the batched fast path)."""
        ids = self.tokenizer.ids_from_ascii(self.bases(indices))
        out = torch.empty((ids.shape[0], ids.shape[1] + 2), dtype=torch.long)
        out[:, 0], out[:, -1], out[:, 1:-1] = self.cls, self.sep, ids
        return out

    def __getitems__(self, indices: list[int]) -> list[dict[str, torch.Tensor]]:
        return [{"input_ids": row} for row in self.input_ids(indices)]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.input_ids([index])[0]}

    def locate(self, indices) -> list[tuple[str, int, int, bool]]:
        """(record, start, end, reverse-complemented) of each window this epoch, in record coordinates."""
        starts, flips = self.window_starts(indices).numpy(), self.reversed(indices).tolist()
        records = np.searchsorted(self.record_starts, starts, side="right") - 1
        return [(self.record_names[r], int(s - self.record_starts[r]), int(s - self.record_starts[r]) + self.window, f)
                for r, s, f in zip(records.tolist(), starts.tolist(), flips)]

    def regions(self) -> list[tuple[str, int, int]]:
        """The stretches windows are drawn from, (record, start, end) in record coordinates: for a validation set,
        the held-out regions minus assembly gaps."""
        starts, ends = self.segments
        records = np.searchsorted(self.record_starts, starts, side="right") - 1
        return [(self.record_names[r], int(s - self.record_starts[r]), int(e - self.record_starts[r]))
                for r, s, e in zip(records.tolist(), starts.tolist(), ends.tolist())]


def _letters(genome: Genome) -> str:
    """The commonest non-ACGT letters, for an error message (U says the FASTA is RNA)."""
    found = letter_counts(genome.sequence[~IS_ACGT[genome.sequence]])[:4]
    rna = "; U is RNA: write T for U" if "U" in {char for _, char in found} else ""
    return (": " + ", ".join(f"{char} {count:,}" for count, char in found) + rna) if found else ""


def build_genome_datasets(config: GenomeDataConfig, tokenizer, genome: Genome | None = None
                          ) -> tuple[GenomeWindowDataset, GenomeWindowDataset, dict]:
    """Train and validation window datasets for ``tokenizer``'s k-mers, and the figures a model card reports.

    ``genome`` (already read) overrides ``config.genome_paths()``. Raises ``ValueError`` when no training window (or no
    validation window while ``val_fraction > 0``) is left."""
    genome = read_genome(config.genome_paths()) if genome is None else genome
    window = tokenizer.bases_for_tokens(config.max_length - 2)
    runs = _RunCounter(*_non_acgt_runs(genome))
    gap = (runs.ends - runs.starts) >= config.min_gap
    gap_starts, gap_ends = runs.starts[gap], runs.ends[gap]
    val_starts, val_ends, block = _validation_blocks(genome, runs, config, window)

    train_segments = _free_segments(np.concatenate((gap_starts, val_starts)), np.concatenate((gap_ends, val_ends)),
                                    genome)
    outside_val = (np.concatenate(([0], val_ends)), np.concatenate((val_starts, [genome.num_bases])))
    val_segments = _free_segments(np.concatenate((gap_starts, outside_val[0])),
                                  np.concatenate((gap_ends, outside_val[1])), genome)
    train_slots, train_skipped = _window_slots(*train_segments, window, 2 if config.random_offsets else 1, runs,
                                               config.max_n_fraction)
    val_slots, val_skipped = _window_slots(*val_segments, window, 1, runs, config.max_n_fraction)
    train = GenomeWindowDataset(genome, train_slots, window, tokenizer, seed=config.seed,
                                random_offsets=config.random_offsets, reverse_complement=config.reverse_complement,
                                segments=train_segments, skipped_windows=train_skipped)
    val = GenomeWindowDataset(genome, val_slots, window, tokenizer, seed=config.seed, segments=val_segments,
                              skipped_windows=val_skipped)
    sources = ", ".join(map(str, genome.files))
    if not len(train) or (config.val_fraction > 0 and not len(val)):
        raise ValueError(f"{sources}: too little usable sequence for windows of {window} bp: {len(train)} training "
                         f"and {len(val)} validation windows ({genome.num_bases:,} bases, "
                         f"{int(runs.before[-1]):,} non-ACGT{_letters(genome)})")
    per_file = np.bincount(genome.record_files, weights=genome.lengths, minlength=len(genome.files))
    stats = {
        "genomes": [{"name": path.name, "bases": int(bases), "source": genome.source(index)}
                    for index, (path, bases) in enumerate(zip(genome.files, per_file))],
        "records": len(genome.names),
        "bases": genome.num_bases,
        "non_acgt_bases": int(runs.before[-1]),
        "skipped_empty_records": len(genome.skipped_records),
        "window_bases": window,
        "train_windows_per_epoch": len(train),
        "validation_windows": len(val),
        "skipped_windows_n_fraction": train_skipped + val_skipped,
        "max_n_fraction": config.max_n_fraction,
        "gap_bases_excluded": int((gap_ends - gap_starts).sum()),
        "validation_regions": int(val_starts.size),
        "validation_block_bases": block,
        "validation_bases": int((val_ends - val_starts).sum()),
        "random_offsets": config.random_offsets,
        "reverse_complement": config.reverse_complement,
    }
    logger.info("genome data: %s", stats)
    return train, val, stats
