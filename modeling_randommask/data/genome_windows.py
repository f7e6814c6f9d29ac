"""A ``Genome`` -> model-sized windows of k-mer ids, with a validation split held out by genomic region.

Windows. ``window_bases = tokenizer.bases_for_tokens(max_length - 2)`` (515 bp for 512 tokens of overlapping
6-mers). The genome is cut into segments at record ends, validation regions and assembly gaps (runs of at least
``min_gap`` non-ACGT bases); windows lie on a grid of ``window_bases`` cells inside each segment, so they never
cross any of these. Tiled mode uses the grid as is; random-offset mode shifts the whole grid by a per-epoch
offset in ``[0, window_bases)``, a pure function of (seed, epoch): windows of one epoch never overlap, and each
window slot always stays within its two grid cells, so the slots, and ``len(dataset)``, are the same every epoch.
A window slot is skipped (and counted) when its span (one cell when tiled, the two cells a shifted window can
touch otherwise) holds more than ``max_n_fraction * window_bases`` non-ACGT bases: no window ever delivered is
more than ``max_n_fraction`` N/IUPAC. The price of a length that never changes: with random offsets, where
non-ACGT bases are spread evenly, slots are kept only up to half that density (``--max_n_fraction 0.5`` keeps a
genome with an N every 6th base, 17%, but not one with an N every 3rd, although each window holds 33%); tiled
windows are checked on their own bases. Reverse-complement augmentation is drawn per (seed, epoch, index).

Validation. The genome is cut into equal blocks (``val_block`` bases, made smaller for small genomes so that
``val_fraction`` of them is at least one block, and never below 4 windows); ``val_fraction`` of the mostly-ACGT
blocks (at least one) are held out, chosen by a seeded hash. Training segments exclude them, so no training
window, whatever the epoch's offset, holds a validation base. Validation windows are tiled, never flipped.

Mix. A genome is one input FASTA file. By default (``genome_weights`` 'bases') every training window is read once
per epoch, so each genome is sampled in proportion to its usable bases. Other weights keep the epoch's length and
give each file its share of it: a file's quota of windows is drawn from its own slots, seeded per (seed, epoch,
file), repeating them when the quota exceeds them. Validation windows are never weighted.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch.utils.data import Dataset

from .corpus_store import CorpusFiles, load_sources
from .fasta import COMPLEMENT, IS_ACGT, Genome, default_corpus, letter_counts, split_at
from .options import InputError
from .seeding import keyed_generator, seed_hash
from .sequence_sources import SequenceSourceOptions

logger = logging.getLogger(__name__)

ShortRecords = Literal["skip", "pad"]


class GenomeDataError(InputError, ValueError):
    """Genome files that cannot give the windows asked for (too short, too few A/C/G/T); the message names them."""


@dataclass
class GenomeDataConfig(CorpusFiles, SequenceSourceOptions):
    """How genome windows are made: the data options of ``examples/pretrain.py`` (the module docstring explains each
    policy). No input at all means the embedded E. coli genome."""

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
        "help": "a window slot holding more than this fraction of non-ACGT bases is skipped; with random offsets a "
                "slot is the two window lengths a window can fall in, so evenly spread N pass only up to half this "
                "density"})
    random_offsets: bool = field(default=True, metadata={
        "help": "shift the training grid by a per-epoch random offset: on by default, --no_random_offsets tiles"})
    reverse_complement: bool = field(default=True, metadata={
        "help": "reverse-complement half of the training windows, drawn per (seed, epoch, index): on by default, "
                "--no_reverse_complement turns it off"})
    genome_weights: list[str] = field(default_factory=lambda: ["bases"], metadata={
        "help": "how training windows are shared among genomes (a genome is one input FASTA file): 'bases' (every "
                "window once per epoch: uniform over bases), 'equal' (the same share per file, as multi-species "
                "corpora do), or one number per file (relative shares)"})
    short_records: ShortRecords = field(default="skip", metadata={
        "help": "records shorter than one window: 'skip' (listed in the log and the card) or 'pad' (one window per "
                "record, padded after its last k-mer; needs at least k bases). A record at least one window long "
                "always gives windows, with random offsets too"})
    corpus_store: bool = field(default=True, metadata={
        "help": "parse the FASTA files once into a prepared corpus under --corpus_dir and memory-map it (one copy "
                "per node in the page cache, whatever the number of ranks): on by default, --no_corpus_store reads "
                "them into RAM in every process"})

    def __post_init__(self):
        CorpusFiles.__post_init__(self)
        SequenceSourceOptions.__post_init__(self)
        checks = {"max_length >= 3": self.max_length >= 3, "0 <= val_fraction <= 0.5": 0 <= self.val_fraction <= 0.5,
                  "val_block >= 1": self.val_block >= 1, "min_gap >= 1": self.min_gap >= 1,
                  "0 <= max_n_fraction <= 1": 0 <= self.max_n_fraction <= 1,
                  "0 <= seed < 2**32 (numpy's seeds)": 0 <= self.seed < 2**32,
                  "0 <= val_seed < 2**32": self.val_seed is None or 0 <= self.val_seed < 2**32}
        failed = [rule for rule, ok in checks.items() if not ok]
        if failed:
            raise ValueError(f"GenomeDataConfig: need {', '.join(failed)} (got {asdict(self)})")
        self.genome_weights = [str(weight) for weight in self.genome_weights]
        if self.genome_weights not in (["bases"], ["equal"]):
            try:
                numbers = [float(weight) for weight in self.genome_weights]
            except ValueError:
                numbers = []
            if not numbers or not all(math.isfinite(w) and w >= 0 for w in numbers) or not sum(numbers) > 0:
                raise GenomeDataError(f"--genome_weights: 'bases', 'equal' or one number >= 0 per genome file (not all 0), "
                                 f"got {' '.join(self.genome_weights)}")

    def file_weights(self, genome: Genome, train_windows: np.ndarray) -> np.ndarray | None:
        """Each file's share of an epoch's training windows, or None for 'bases' (every window once per epoch).
        Raises ``ValueError`` naming the files when explicit numbers do not match them, or when a file with a
        share has no training window."""
        if self.genome_weights == ["bases"]:
            return None
        files = genome.files
        if self.genome_weights == ["equal"]:
            weights = (train_windows > 0).astype(np.float64)
        elif len(self.genome_weights) != len(files):
            raise GenomeDataError(f"--genome_weights: {len(self.genome_weights)} numbers for {len(files)} genome files "
                             f"({', '.join(path.name for path in files)}): give one per file, in this order")
        else:
            weights = np.array([float(weight) for weight in self.genome_weights])
            empty = [path.name for path, w, n in zip(files, weights, train_windows) if w > 0 and n == 0]
            if empty:
                raise GenomeDataError(f"--genome_weights: {', '.join(empty)} has a share but no training window")
        return weights / weights.sum()

    def genome_paths(self) -> list[str | Path]:
        """``genome``, or the embedded default corpus when no input at all is given."""
        return self.genome or ([] if self.given() else default_corpus())


# ---- intervals [start, end) over the concatenated genome: numpy arrays, never a mask per base ----------------


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
    return split_at(free_starts[keep], free_ends[keep], genome.starts[1:])


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


_SLOTS_PER_STEP = 1 << 16  # slots made and checked at a time: the build's transient memory stays a few MB


def _window_slots(seg_starts: np.ndarray, seg_ends: np.ndarray, window: int, cells: int, runs: _RunCounter,
                  max_n_fraction: float) -> tuple[np.ndarray, int]:
    """Start of every grid slot spanning ``cells`` whole cells inside a segment, minus those whose span holds more
    than ``max_n_fraction * window`` non-ACGT bases; and how many were skipped. Made in steps of
    ``_SLOTS_PER_STEP`` into one array: 8 bytes per slot, whatever the genome's size."""
    per_segment = np.maximum((seg_ends - seg_starts) // window - (cells - 1), 0)
    total = int(per_segment.sum())
    first = np.cumsum(per_segment) - per_segment
    slots, kept = np.empty(total, dtype=np.int64), 0
    for begin in range(0, total, _SLOTS_PER_STEP):
        index = np.arange(begin, min(begin + _SLOTS_PER_STEP, total))
        segment = np.searchsorted(first, index, side="right") - 1
        starts = seg_starts[segment] + (index - first[segment]) * window
        starts = starts[runs.count(starts, starts + cells * window) <= max_n_fraction * window]
        slots[kept : kept + starts.size] = starts
        kept += starts.size
    return slots[:kept], total - kept


def _fitted_slots(seg_starts: np.ndarray, seg_ends: np.ndarray, genome: Genome, window: int, cells: int,
                  min_bases: int, runs: _RunCounter, max_n_fraction: float) -> tuple[np.ndarray, np.ndarray, int]:
    """One slot per segment too short for a grid slot of ``cells`` cells: a segment at least one window long (with
    random offsets the grid needs two), or a whole record of at least ``min_bases`` (padded; ``min_bases >= window``
    means none), its window's start drawn per epoch within the segment. Returns (starts, spans in bases, how many
    were skipped for their N fraction)."""
    length = seg_ends - seg_starts
    record = np.searchsorted(genome.starts, seg_starts, side="right") - 1
    whole = (seg_starts == genome.starts[record]) & (seg_ends == genome.starts[record] + genome.lengths[record])
    short = (length < cells * window) & ((length >= window) | (whole & (length >= min_bases)))
    starts, spans = seg_starts[short], length[short]
    keep = runs.count(starts, starts + spans) <= max_n_fraction * np.minimum(spans, window)
    return starts[keep], spans[keep], int((~keep).sum())


def _short_records(genome: Genome, min_bases: int) -> list[str]:
    """Names of the records shorter than ``min_bases``: they give no window, and are listed."""
    return [genome.names[index] for index in np.flatnonzero(genome.lengths < min_bases).tolist()]


def _merge_slots(grid: np.ndarray, fitted: np.ndarray, spans: np.ndarray
                 ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """The sorted union of grid and fitted slots, and (positions of the fitted ones in it, their spans)."""
    if not fitted.size:
        return grid, None
    both = np.concatenate((grid, fitted))
    order = np.argsort(both, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    return both[order], (position[grid.size:], spans)


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
    own buffer stays while referenced) and every worker maps that same memory. A genome mapped from a prepared corpus
    travels to spawned workers as its file's path, and each worker maps the file again (copying it into shared
    memory would cost RAM per rank, which the store exists to avoid).
    """

    def __init__(self, genome: Genome, slots: np.ndarray, window: int, tokenizer, *, seed: int = 0,
                 random_offsets: bool = False, reverse_complement: bool = False,
                 segments: tuple[np.ndarray, np.ndarray] | None = None, skipped_windows: int = 0,
                 file_shares: np.ndarray | None = None, fitted: tuple[np.ndarray, np.ndarray] | None = None):
        if tokenizer.tokens_for_bases(window) < 1:
            raise ValueError(f"windows of {window} bases hold no {tokenizer.k}-mer")
        self.sequence = genome.tensor()
        self.mapped_file = genome.sequence.filename if isinstance(genome.sequence, np.memmap) else None
        self.record_names, self.record_starts = list(genome.names), genome.starts.copy()
        self.slots = torch.from_numpy(np.asarray(slots, dtype=np.int64))
        self.window, self.tokenizer, self.seed = window, tokenizer, seed
        self.random_offsets, self.reverse_complement = random_offsets, reverse_complement
        self.segments = segments if segments is not None else (np.zeros(0, np.int64), np.zeros(0, np.int64))
        self.skipped_windows = skipped_windows
        # Slots of segments too short for the grid (sorted positions in ``slots``, and their spans in bases): a
        # window within the span, or the whole span padded when it is shorter than a window.
        positions, spans = fitted if fitted is not None else (np.zeros(0, np.int64), np.zeros(0, np.int64))
        self.fitted_positions = torch.from_numpy(np.asarray(positions, dtype=np.int64))
        self.fitted_spans = torch.from_numpy(np.asarray(spans, dtype=np.int64))
        self.cls, self.sep = tokenizer.cls_token_id, tokenizer.sep_token_id
        self.file_slots = _file_slot_bounds(genome, np.asarray(slots))
        self.file_quotas = None if file_shares is None else _quotas(file_shares, len(self))
        self.set_epoch(0)

    def __len__(self) -> int:
        return self.slots.numel()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if self.mapped_file is not None:
            state["sequence"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.mapped_file is not None:
            self.sequence = torch.from_numpy(np.memmap(self.mapped_file, dtype=np.uint8, mode="c"))

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s grid offset and reverse-complement draws."""
        self.epoch = int(epoch)
        self._key = seed_hash(self.seed, 0x45504F4348, self.epoch)
        self.offset = int(self._key % np.uint64(self.window)) if self.random_offsets else 0
        self.epoch_slots = None if self.file_quotas is None else self._weighted_slots()

    def _weighted_slots(self) -> torch.Tensor:
        """Slot of each index this epoch under per-file quotas: a file whose quota exceeds its slots repeats all of
        them (as often as fits) plus a seeded sample of the rest, a smaller one takes a seeded sample; a pure
        function of (seed, epoch), so a resumed run draws the same."""
        drawn = []
        for file, quota in enumerate(self.file_quotas.tolist()):
            first, count = int(self.file_slots[file]), int(self.file_slots[file + 1] - self.file_slots[file])
            if not quota:
                continue
            repeats, rest = divmod(quota, count)
            sample = torch.randperm(count, generator=keyed_generator(self.seed, 0x574549474854, self.epoch, file))
            drawn.append(torch.cat((torch.arange(count).repeat(repeats), sample[:rest])) + first)
        return torch.cat(drawn)

    def _indices(self, indices) -> torch.Tensor:
        indices = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= len(self)):
            raise IndexError(f"window index out of range 0..{len(self) - 1}: {indices.tolist()[:8]}")
        return indices

    def window_starts(self, indices) -> torch.Tensor:
        """Genome offset (in the concatenated sequence) of each window this epoch."""
        return self._windows(indices)[0]

    def _windows(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        """(start, bases) of each window this epoch: ``window`` bases, or fewer for a padded short record. A fitted
        slot's start moves with the epoch's offset scaled to its spare bases."""
        indices = self._indices(indices)
        slot = indices if self.epoch_slots is None else self.epoch_slots[indices]
        starts = self.slots[slot] + self.offset
        lengths = torch.full_like(starts, self.window)
        if self.fitted_positions.numel():
            found = torch.searchsorted(self.fitted_positions, slot).clamp(max=self.fitted_positions.numel() - 1)
            hit = self.fitted_positions[found] == slot
            spans = self.fitted_spans[found[hit]]
            spare = (spans - self.window).clamp(min=-1) + 1
            starts[hit] = self.slots[slot[hit]] + self.offset * spare // self.window
            lengths[hit] = spans.clamp(max=self.window)
        return starts, lengths

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
        return self._bases_and_lengths(indices)[0]

    def _bases_and_lengths(self, indices) -> tuple[torch.Tensor, np.ndarray]:
        """``bases(indices)`` and each window's number of bases (fewer than ``window`` for a padded record, whose
        bases come first, reverse-complemented among themselves where drawn, then N)."""
        indices = self._indices(indices)
        starts, lengths = (part.numpy() for part in self._windows(indices))
        flip = self.reversed(indices).numpy()
        full = lengths == self.window
        sequence = self.sequence.numpy()
        if full.all():
            windows = sliding_window_view(sequence, self.window)[starts]
        else:
            windows = np.empty((starts.size, self.window), dtype=np.uint8)
            windows[full] = sliding_window_view(sequence, self.window)[starts[full]]
            column, length = np.arange(self.window), lengths[~full, None]
            source = np.where(flip[~full, None], length - 1 - column, column).clip(min=0) + starts[~full, None]
            padded = sequence[np.minimum(source, sequence.size - 1)]
            padded[np.broadcast_to(column >= length, padded.shape)] = ord("N")
            padded[flip[~full]] = COMPLEMENT[padded[flip[~full]]]
            windows[~full] = padded
            flip = flip & full  # the padded rows are already flipped
        if flip.any():
            windows[flip] = COMPLEMENT[windows[flip, ::-1]]
        return torch.from_numpy(windows), lengths

    def input_ids(self, indices) -> torch.Tensor:
        """``[CLS] k-mer ids [SEP]`` of a batch of windows, int64 ``[B, max_length]`` (the batched fast path)."""
        bases, lengths = self._bases_and_lengths(indices)
        ids = self.tokenizer.ids_from_ascii(bases)
        out = torch.empty((ids.shape[0], ids.shape[1] + 2), dtype=torch.long)
        out[:, 0], out[:, -1], out[:, 1:-1] = self.cls, self.sep, ids
        short = np.flatnonzero(lengths < self.window)
        if short.size:  # [SEP] after a padded record's last k-mer, [PAD] after it
            tokens = torch.from_numpy(self.tokenizer.tokens_for_bases(lengths[short]))
            position = torch.arange(out.shape[1])
            rows = out[short]
            rows[position > tokens[:, None] + 1] = self.tokenizer.pad_token_id
            rows[torch.arange(short.size), tokens + 1] = self.sep
            out[short] = rows
        return out

    def __getitems__(self, indices: list[int]) -> list[dict[str, torch.Tensor]]:
        return [{"input_ids": row} for row in self.input_ids(indices)]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.input_ids([index])[0]}

    def locate(self, indices) -> list[tuple[str, int, int, bool]]:
        """(record, start, end, reverse-complemented) of each window this epoch, in record coordinates."""
        starts, lengths = (part.numpy() for part in self._windows(indices))
        flips = self.reversed(indices).tolist()
        records = np.searchsorted(self.record_starts, starts, side="right") - 1
        return [(self.record_names[r], int(s - self.record_starts[r]), int(s - self.record_starts[r] + n), f)
                for r, s, n, f in zip(records.tolist(), starts.tolist(), lengths.tolist(), flips)]

    def regions(self) -> list[tuple[str, int, int]]:
        """The stretches windows are drawn from, (record, start, end) in record coordinates: for a validation set,
        the held-out regions minus assembly gaps."""
        starts, ends = self.segments
        records = np.searchsorted(self.record_starts, starts, side="right") - 1
        return [(self.record_names[r], int(s - self.record_starts[r]), int(e - self.record_starts[r]))
                for r, s, e in zip(records.tolist(), starts.tolist(), ends.tolist())]


def _file_slot_bounds(genome: Genome, slots: np.ndarray) -> np.ndarray:
    """``[files + 1]``: file ``f``'s slots are ``slots[bounds[f] : bounds[f + 1]]`` (slots are sorted and files are
    concatenated in order)."""
    first_record = np.searchsorted(np.asarray(genome.record_files), np.arange(len(genome.files) + 1))
    base_bounds = np.append(genome.starts, genome.num_bases)[first_record]
    return np.searchsorted(slots, base_bounds)


def _quotas(shares: np.ndarray, total: int) -> np.ndarray:
    """``total`` windows split by ``shares`` in whole numbers (largest remainders first, ties to the first file)."""
    exact = shares * total
    quotas = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - quotas), kind="stable")
    quotas[order[: total - int(quotas.sum())]] += 1
    return quotas


def _letters(genome: Genome) -> str:
    """The commonest non-ACGT letters, for an error message (U says the FASTA is RNA)."""
    found = letter_counts(genome.sequence[~IS_ACGT[genome.sequence]])[:4]
    rna = "; U is RNA: write T for U" if "U" in {char for _, char in found} else ""
    return (": " + ", ".join(f"{char} {count:,}" for count, char in found) + rna) if found else ""


def build_genome_datasets(config: GenomeDataConfig, tokenizer, genome: Genome | None = None,
                          verify: bool = False) -> tuple[GenomeWindowDataset, GenomeWindowDataset, dict]:
    """Train and validation window datasets for ``tokenizer``'s k-mers, and the figures a model card reports.

    ``genome`` (already read) overrides ``config.genome_paths()``, which are otherwise mapped from their prepared
    corpus (``corpus_store``; built on first use; its content checked with ``verify``) or read into RAM
    (``--no_corpus_store``). Raises ``ValueError`` when no training window (or no validation window while
    ``val_fraction > 0``) is left."""
    if genome is None:
        genome = load_sources(config.sources(config.genome_paths()), config.corpus_dir, config.corpus_store,
                              verify=verify)
    window = tokenizer.bases_for_tokens(config.max_length - 2)
    runs = _RunCounter(*genome.non_acgt_runs())
    gap = (runs.ends - runs.starts) >= config.min_gap
    gap_starts, gap_ends = runs.starts[gap], runs.ends[gap]
    val_starts, val_ends, block = _validation_blocks(genome, runs, config, window)

    train_segments = _free_segments(np.concatenate((gap_starts, val_starts)), np.concatenate((gap_ends, val_ends)),
                                    genome)
    outside_val = (np.concatenate(([0], val_ends)), np.concatenate((val_starts, [genome.num_bases])))
    val_segments = _free_segments(np.concatenate((gap_starts, outside_val[0])),
                                  np.concatenate((gap_ends, outside_val[1])), genome)
    cells = 2 if config.random_offsets else 1
    min_bases = tokenizer.k if config.short_records == "pad" else window
    train_grid, train_skipped = _window_slots(*train_segments, window, cells, runs, config.max_n_fraction)
    train_fitted, train_spans, skipped = _fitted_slots(*train_segments, genome, window, cells, min_bases, runs,
                                                       config.max_n_fraction)
    train_slots, train_fit = _merge_slots(train_grid, train_fitted, train_spans)
    val_grid, val_skipped = _window_slots(*val_segments, window, 1, runs, config.max_n_fraction)
    val_fitted, val_spans, skipped_val = _fitted_slots(*val_segments, genome, window, 1, min_bases, runs,
                                                       config.max_n_fraction)
    val_slots, val_fit = _merge_slots(val_grid, val_fitted, val_spans)
    train_skipped, val_skipped = train_skipped + skipped, val_skipped + skipped_val
    short_records = _short_records(genome, min_bases)
    if short_records:
        logger.warning("%d records shorter than %s give no window and are skipped: %s%s", len(short_records),
                       f"{min_bases} bases (one {tokenizer.k}-mer)" if config.short_records == "pad" else
                       f"a window ({window} bases; --short_records pad uses them)",
                       ", ".join(short_records[:10]), ", ..." if len(short_records) > 10 else "")
    per_file_windows = np.diff(_file_slot_bounds(genome, train_slots))
    shares = config.file_weights(genome, per_file_windows) if train_slots.size else None
    train = GenomeWindowDataset(genome, train_slots, window, tokenizer, seed=config.seed,
                                random_offsets=config.random_offsets, reverse_complement=config.reverse_complement,
                                segments=train_segments, skipped_windows=train_skipped, file_shares=shares,
                                fitted=train_fit)
    val = GenomeWindowDataset(genome, val_slots, window, tokenizer, seed=config.seed, segments=val_segments,
                              skipped_windows=val_skipped, fitted=val_fit)
    sources = ", ".join(map(str, genome.files))
    if not len(train) or (config.val_fraction > 0 and not len(val)):
        raise GenomeDataError(
            f"{sources}: too little usable sequence for windows of {window} bp (--max_length {config.max_length} "
            f"tokens): {len(train)} training and {len(val)} validation windows ({genome.num_bases:,} bases, "
            f"{int(runs.before[-1]):,} non-ACGT{_letters(genome)})")
    per_file = np.bincount(genome.record_files, weights=genome.lengths, minlength=len(genome.files))
    epoch_share = per_file_windows / max(len(train), 1) if shares is None else shares
    stats = {
        "genomes": [{"name": path.name, "path": str(path), "bases": int(bases), "source": genome.source(index),
                     "file_sha256": genome.file_sha256[index] if genome.file_sha256 else None,
                     "train_windows": int(windows), "sampling_share": round(float(share), 6)}
                    for index, (path, bases, windows, share) in enumerate(zip(genome.files, per_file, per_file_windows,
                                                                               epoch_share))],
        "genome_weights": " ".join(config.genome_weights),
        "records": len(genome.names),
        "bases": genome.num_bases,
        "content_sha256": genome.content_hash(),
        "non_acgt_bases": int(runs.before[-1]),
        "skipped_empty_records": len(genome.skipped_records),
        "short_records": config.short_records,
        "skipped_short_records": len(short_records),
        "padded_records": int((train_fit[1] < window).sum() if train_fit else 0)
                          + int((val_fit[1] < window).sum() if val_fit else 0),
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
