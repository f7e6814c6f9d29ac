"""Genome FASTA -> model-sized windows of k-mer ids, with a validation split held out by genomic region.

Reading. Files are streamed in chunks through ``bytes.translate`` (one C pass per chunk; a Python step per record,
never per base) into one growing ``bytearray`` of upper-case ASCII bases for all records: about 1 byte per base
in memory (a 3.1 Gbp human genome needs about 3.1-3.5 GB), plus record names and offsets. Rules:

* lower-case (soft-masked repeats) is read as upper-case; the soft-mask is not used;
* IUPAC codes (``N R Y K M S W B D H V`` and ``U``) are stored as they are; the k-mers holding them become [UNK];
* spaces, tabs and CR (CRLF files) in sequence lines are ignored; gzip is detected by its magic bytes;
* a record with a header but no sequence is skipped with a warning (``Genome.skipped_records``, and the
  ``skipped_empty_records`` figure); any other malformed input raises ``FastaFormatError`` naming the file and
  line: sequence before the first header, an empty file, a header without a name, a byte that is not an IUPAC
  letter (digits, ``*``, ``-``, binary data), a truncated or corrupt gzip stream, a record name used twice.

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

import gzip
import logging
import math
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch.utils.data import Dataset

logger = logging.getLogger(__name__)

FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz")
IUPAC = b"ACGTUNRYKMSWBDHV"
_WHITESPACE = b" \t\r\n"
_CHUNK_BYTES = 1 << 24  # bytes of (decompressed) FASTA per parsing step
_SCAN_BASES = 1 << 24  # bases per step when scanning the genome for non-ACGT runs

# bytes.translate table: an IUPAC letter (either case) -> its upper case; any other byte -> 0 (found afterwards)
_CLEAN = bytearray(256)
for _code in IUPAC:
    _CLEAN[_code] = _CLEAN[_code + 32] = _code
_CLEAN = bytes(_CLEAN)
_ALLOWED = np.zeros(256, dtype=bool)
_ALLOWED[np.frombuffer(IUPAC + IUPAC.lower() + _WHITESPACE, np.uint8)] = True
_IS_ACGT = np.zeros(256, dtype=bool)
_IS_ACGT[np.frombuffer(b"ACGT", np.uint8)] = True
_COMPLEMENT = np.arange(256, dtype=np.uint8)
_COMPLEMENT[np.frombuffer(b"ACGTURYKMBVDH", np.uint8)] = np.frombuffer(b"TGCAAYRMKVBHD", np.uint8)  # N S W: self


class FastaFormatError(ValueError):
    """Malformed FASTA input; the message names the file and line (also ``.path`` and ``.line``)."""

    def __init__(self, path: Path, line: int, problem: str):
        self.path, self.line = path, line
        super().__init__(f"{path}: line {line}: {problem}")


def default_corpus(include_lambda: bool = False) -> list[Path]:
    """The embedded default pretraining corpus: E. coli K-12 MG1655 (and phage lambda if asked)."""
    folder = Path(__file__).resolve().parent / "genomes"
    return [folder / "ecoli_k12_mg1655.fa.gz"] + ([folder / "lambda_NC_001416.fa.gz"] if include_lambda else [])


def fasta_files(paths: str | Path | list[str | Path]) -> list[Path]:
    """Expand folders into their FASTA(.gz) files (sorted); refuse paths that do not exist or hold none."""
    files: list[Path] = []
    for path in map(Path, [paths] if isinstance(paths, (str, Path)) else paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(FASTA_SUFFIXES))
            if not found:
                raise FileNotFoundError(f"{path}: folder holds no FASTA files ({', '.join(FASTA_SUFFIXES)})")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such FASTA file or folder")
    if not files:
        raise ValueError("no FASTA paths given")
    return files


@dataclass
class Genome:
    """All records of some FASTA files, concatenated: record ``i`` is ``sequence[starts[i] : starts[i] + lengths[i]]``
    (upper-case ASCII, uint8). ``record_files[i]`` indexes ``files``; empty records are listed in
    ``skipped_records`` as ``"file:name"``."""

    sequence: np.ndarray
    names: list[str]
    starts: np.ndarray
    lengths: np.ndarray
    files: list[Path]
    record_files: list[int]
    skipped_records: list[str] = field(default_factory=list)

    @property
    def num_bases(self) -> int:
        return int(self.sequence.size)

    def tensor(self) -> torch.Tensor:
        """The bases as one torch uint8 tensor over the same memory, shared by all datasets of this genome (so
        that moving it to shared memory for spawned workers happens once)."""
        if getattr(self, "_tensor", None) is None:
            self._tensor = torch.from_numpy(self.sequence)
        return self._tensor

    def record(self, name: str) -> str:
        """One record's bases as text (for inspection and tests; windows never build strings)."""
        index = self.names.index(name)
        start = int(self.starts[index])
        return self.sequence[start : start + int(self.lengths[index])].tobytes().decode("ascii")


def _open(path: Path) -> IO[bytes]:
    with open(path, "rb") as handle:
        magic = handle.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _last_decodable_line(path: Path) -> int:
    """Line count of the part of a broken gzip file that does decompress (error path only). Fed to zlib in small
    compressed steps, so a truncated file loses nothing (``gzip``'s reader drops the whole last read) and a corrupt
    one at most the output of one step."""
    lines, decoder = 0, zlib.decompressobj(wbits=31)
    with open(path, "rb") as handle:
        try:
            while piece := handle.read(1 << 12):
                while piece:
                    lines += decoder.decompress(piece).count(b"\n")
                    if not decoder.eof:
                        break
                    piece, decoder = decoder.unused_data, zlib.decompressobj(wbits=31)  # next gzip member
        except zlib.error:
            pass
    return lines


class _FastaReader:
    """Appends one file's bases to ``out`` chunk by chunk, tracking the line number for error messages.

    State across chunks: whether the next byte starts a line, and a header line cut by a chunk boundary."""

    def __init__(self, path: Path, out: bytearray):
        self.path, self.out = path, out
        self.records: list[tuple[str, int, int]] = []  # (name, header line, start in out)
        self.line = 1
        self.at_line_start = True
        self.header: bytearray | None = None
        self.header_line = 0

    def read(self, max_bases: int | None = None) -> list[tuple[str, int, int, int]]:
        """(name, header line, start in ``out``, length) per record, empty records included. Stops reading once
        ``out`` holds ``max_bases`` bases (the caller trims the excess of the last chunk)."""
        with _open(self.path) as handle:
            while max_bases is None or len(self.out) < max_bases:
                try:
                    chunk = handle.read(_CHUNK_BYTES)
                except (EOFError, OSError, zlib.error) as error:
                    raise FastaFormatError(self.path, _last_decodable_line(self.path) + 1,
                                           f"unreadable data: truncated or corrupt gzip? ({error})") from error
                if not chunk:
                    break
                self._feed(chunk)
        if self.header is not None:  # the file ends on a header line without a newline
            self._start_record()
        if not self.records:
            raise FastaFormatError(self.path, 1, "empty file: no '>' header line, no sequence")
        ends = [start for _, _, start in self.records[1:]] + [len(self.out)]
        return [(name, line, start, end - start) for (name, line, start), end in zip(self.records, ends)]

    def _feed(self, data: bytes) -> None:
        pos, size, at_line_start = 0, len(data), self.at_line_start
        if self.header is not None:  # a header line continued from the previous chunk
            eol = data.find(b"\n")
            self.header += data[: size if eol < 0 else eol]
            if eol < 0:
                return
            self._start_record()
            self.line += 1
            pos, at_line_start = eol + 1, True
        while pos < size:
            if at_line_start and data[pos] == 62:  # '>' starting a line
                header = pos
            else:
                header = data.find(b"\n>", pos)
                header = -1 if header < 0 else header + 1
            end = size if header < 0 else header
            if end > pos:
                self._sequence(data[pos:end])
            if header < 0:
                break
            self.header_line = self.line
            eol = data.find(b"\n", header)
            self.header = bytearray(data[header + 1 : size if eol < 0 else eol])
            if eol < 0:
                break
            self._start_record()
            self.line += 1
            pos, at_line_start = eol + 1, True
        self.at_line_start = data.endswith(b"\n")

    def _sequence(self, piece: bytes) -> None:
        bases = piece.translate(_CLEAN, _WHITESPACE)
        if bases:
            if not self.records:
                first = len(piece) - len(piece.lstrip(_WHITESPACE))
                raise FastaFormatError(self.path, self.line + piece.count(b"\n", 0, first),
                                       "sequence before the first '>' header line (or not a FASTA file)")
            if 0 in bases:
                self._invalid(piece)
            self.out += bases
        self.line += piece.count(b"\n")

    def _invalid(self, piece: bytes) -> None:
        offset = int(np.flatnonzero(~_ALLOWED[np.frombuffer(piece, np.uint8)])[0])
        byte = piece[offset]
        shown = repr(chr(byte)) if 32 < byte < 127 else f"byte 0x{byte:02x}"
        raise FastaFormatError(self.path, self.line + piece.count(b"\n", 0, offset),
                               f"invalid character {shown} in record {self.records[-1][0]!r} "
                               f"(allowed: IUPAC nucleotide codes {IUPAC.decode()}, either case)")

    def _start_record(self) -> None:
        words = self.header.decode("utf-8", errors="replace").split(maxsplit=1)
        if not words:
            raise FastaFormatError(self.path, self.header_line, "header line '>' without a record name")
        self.records.append((words[0], self.header_line, len(self.out)))
        self.header = None


def read_genome(paths: str | Path | list[str | Path], max_bases: int | None = None) -> Genome:
    """Read FASTA(.gz) files and folders of them into one ``Genome``; record names must be unique across all.

    ``max_bases`` keeps only the first bases (files in order, the last record cut): for tools that need a sample
    of a genome, not all of it in memory; what lies beyond is not read, so not checked either."""
    files = fasta_files(paths)
    out = bytearray()
    names, starts, lengths, record_files, skipped, seen = [], [], [], [], [], {}
    for file_index, path in enumerate(files):
        if max_bases is not None and len(out) >= max_bases:
            break
        for name, line, start, length in _FastaReader(path, out).read(max_bases):
            if max_bases is not None:
                if start >= max_bases:  # read with the last chunk, beyond the sample
                    break
                length = min(length, max_bases - start)
            if name in seen:
                raise FastaFormatError(path, line, f"record name {name!r} already used at {seen[name]}")
            seen[name] = f"{path}: line {line}"
            if not length:
                logger.warning("%s: line %d: record %r has no sequence; skipped", path, line, name)
                skipped.append(f"{path.name}:{name}")
                continue
            names.append(name)
            starts.append(start)
            lengths.append(length)
            record_files.append(file_index)
    if not names:
        raise FastaFormatError(files[-1], 1, "no record with sequence in the input files")
    if max_bases is not None:
        del out[max_bases:]
    sequence = np.frombuffer(out, dtype=np.uint8)  # no copy: the bytearray is the storage
    return Genome(sequence, names, np.array(starts, dtype=np.int64), np.array(lengths, dtype=np.int64), files,
                  record_files, skipped)


@dataclass
class GenomeDataConfig:
    """How genome windows are made; see the module docstring for each policy.

    Args:
        paths: FASTA(.gz) files or folders of them (a single path is accepted).
        max_length: tokens per window including [CLS] and [SEP]; the window's bases follow from the tokenizer.
        seed: drives the validation blocks, the per-epoch offsets and the reverse-complement draws.
        val_fraction: share of the genome's blocks held out for validation (at least one block; 0 disables).
        val_block: validation block size in bases (smaller for small genomes, never below 4 windows).
        min_gap: runs of at least this many non-ACGT bases are assembly gaps: windows never overlap them.
        max_n_fraction: a window slot holding more than this fraction of non-ACGT bases is skipped.
        random_offsets: shift the training grid by a per-epoch random offset (else fixed tiles).
        reverse_complement: reverse-complement half of the training windows (drawn per seed, epoch, index).
    """

    paths: list[str | Path]
    max_length: int = 512
    seed: int = 0
    val_fraction: float = 0.01
    val_block: int = 100_000
    min_gap: int = 50
    max_n_fraction: float = 0.1
    random_offsets: bool = True
    reverse_complement: bool = True

    def __post_init__(self):
        if isinstance(self.paths, (str, Path)):
            self.paths = [self.paths]
        checks = {"max_length >= 3": self.max_length >= 3, "0 <= val_fraction <= 0.5": 0 <= self.val_fraction <= 0.5,
                  "val_block >= 1": self.val_block >= 1, "min_gap >= 1": self.min_gap >= 1,
                  "0 <= max_n_fraction <= 1": 0 <= self.max_n_fraction <= 1}
        failed = [rule for rule, ok in checks.items() if not ok]
        if failed:
            raise ValueError(f"GenomeDataConfig: need {', '.join(failed)} (got {asdict(self)})")


# ---- intervals [start, end) over the concatenated genome: numpy arrays, never a mask per base ----------------

def _mix(values) -> np.ndarray:
    """splitmix64 finaliser: a well-spread 64-bit hash of each value (wrapping uint64 arithmetic)."""
    x = np.asarray(values).astype(np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _hash(*parts) -> np.ndarray:
    """Hash of a tuple of integers (the last may be an array): stable across numpy/torch versions and platforms."""
    value = _mix(np.uint64(0))
    for part in parts:
        value = _mix(value ^ _mix(np.asarray(part).astype(np.int64).astype(np.uint64)))
    return value


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
        acgt = _IS_ACGT[genome.sequence[first : first + _SCAN_BASES]].view(np.int8)
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
    chosen = np.sort(usable[np.argsort(_hash(config.seed, 0x56414C, usable), kind="stable")[:draw]])
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
        self._key = _hash(self.seed, 0x45504F4348, self.epoch)
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
        return torch.from_numpy((_hash(self._key, indices.numpy()) >> np.uint64(63)).astype(bool))

    def bases(self, indices) -> torch.Tensor:
        """The windows' bases, uint8 ASCII ``[B, window]`` (reverse-complemented where drawn).

        Cut with numpy (rows of a strided view: one copy per window, single-threaded): torch's multi-threaded
        gather was 50x slower on a loaded 2-core machine (threads waiting for a busy core)."""
        indices = self._indices(indices)
        rows = sliding_window_view(self.sequence.numpy(), self.window)
        windows = rows[self.window_starts(indices).numpy()]
        flip = self.reversed(indices).numpy()
        if flip.any():
            windows[flip] = _COMPLEMENT[windows[flip, ::-1]]
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


def build_genome_datasets(config: GenomeDataConfig, tokenizer, genome: Genome | None = None
                          ) -> tuple[GenomeWindowDataset, GenomeWindowDataset, dict]:
    """Train and validation window datasets for ``tokenizer``'s k-mers, and the figures a model card reports.

    ``genome`` (already read) overrides ``config.paths``. Raises ``ValueError`` when no training window (or no
    validation window while ``val_fraction > 0``) is left."""
    genome = read_genome(config.paths) if genome is None else genome
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
                         f"{int(runs.before[-1]):,} non-ACGT)")
    per_file = np.bincount(genome.record_files, weights=genome.lengths, minlength=len(genome.files))
    stats = {
        "genomes": [{"name": path.name, "bases": int(bases)} for path, bases in zip(genome.files, per_file)],
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
