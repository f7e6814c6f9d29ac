"""Genome FASTA -> model-sized windows of k-mer ids, with a validation split held out by genomic region.

Storage is one uint8 array of upper-case ASCII bases for all records (1 byte per base: a 3.1 Gbp human genome
fits in RAM), parsed with numpy, never per character in Python. Policies, each logged where it applies:

* lower-case (soft-masked repeats) is read as upper-case; the soft-mask is not used;
* IUPAC codes (N, R, Y, ...) and U are kept; the k-mers holding them become [UNK];
* runs of ``min_gap`` or more non-ACGT bases (assembly gaps) are cut out: windows never overlap them; shorter
  runs stay inside windows as [UNK] k-mers;
* an empty record is skipped with a warning; any other malformed input raises ``FastaFormatError`` naming the
  file and line.

Windows never cross a record, a gap or a validation region. The validation split is a seeded set of whole blocks
of the genome (``val_fraction`` of them, at least one), so no training window overlaps a validation base.
Training windows tile each free segment from a per-epoch random offset (or from 0 with ``random_offsets=False``):
within an epoch they never overlap, and the number of windows is the same every epoch.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

logger = logging.getLogger(__name__)

FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz")
IUPAC = b"ACGTUNRYKMSWBDHV"
_UPPER = np.arange(256, dtype=np.uint8)
_UPPER[np.frombuffer(IUPAC.lower(), np.uint8)] = np.frombuffer(IUPAC, np.uint8)
_VALID = np.zeros(256, dtype=bool)
_VALID[np.frombuffer(IUPAC + IUPAC.lower(), np.uint8)] = True
_IS_ACGT = np.zeros(256, dtype=bool)
_IS_ACGT[np.frombuffer(b"ACGT", np.uint8)] = True
_COMPLEMENT = torch.arange(256, dtype=torch.uint8)
_COMPLEMENT[list(b"ACGTRYKMBDHV")] = torch.tensor(list(b"TGCAYRMKVHDB"), dtype=torch.uint8)


class FastaFormatError(ValueError):
    """Malformed FASTA input; the message names the file and line."""

    def __init__(self, path: Path, line: int | None, problem: str):
        self.path, self.line = path, line
        super().__init__(f"{path}{'' if line is None else f': line {line}'}: {problem}")


def default_corpus() -> list[Path]:
    """The embedded default pretraining corpus: the E. coli K-12 MG1655 genome shipped with the package."""
    return [Path(__file__).resolve().parent / "genomes" / "ecoli_k12_mg1655.fa.gz"]


def fasta_files(paths: list[str | Path]) -> list[Path]:
    """Expand folders into their FASTA(.gz) files (sorted); refuse paths that do not exist or hold none."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.name.lower().endswith(FASTA_SUFFIXES))
            if not found:
                raise FileNotFoundError(f"{path}: no FASTA files ({', '.join(FASTA_SUFFIXES)})")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such FASTA file or folder")
    return files


@dataclass
class Genome:
    """All records of some FASTA files, concatenated: ``sequence[starts[i] : starts[i] + lengths[i]]``."""

    sequence: np.ndarray
    names: list[str]
    starts: np.ndarray
    lengths: np.ndarray
    files: list[Path]
    record_files: list[int]
    skipped_records: list[str] = field(default_factory=list)

    @property
    def num_bases(self) -> int:
        return int(self.lengths.sum())


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            magic = handle.read(2)
        if magic == b"\x1f\x8b":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as error:
        raise FastaFormatError(path, None, f"cannot be read as (gzip) FASTA: {error}") from error


def _line_of(data: np.ndarray, offset: int) -> int:
    return int(np.count_nonzero(data[:offset] == ord("\n"))) + 1


def _parse_fasta(path: Path) -> list[tuple[str, int, np.ndarray]]:
    """(name, header line, upper-case sequence bytes) per record of one file."""
    data = np.frombuffer(_read_bytes(path), dtype=np.uint8)
    if not data.size or not data[~np.isin(data, (9, 10, 13, 32))].size:
        raise FastaFormatError(path, None, "empty file: no FASTA records")
    line_starts = np.concatenate(([0], np.flatnonzero(data == ord("\n")) + 1))
    line_starts = line_starts[line_starts < data.size]
    headers = line_starts[data[line_starts] == ord(">")]
    first_text = np.flatnonzero(~np.isin(data, (9, 10, 13, 32)))[0]
    if not headers.size or first_text < headers[0]:
        raise FastaFormatError(path, _line_of(data, int(first_text)), "sequence before the first '>' header line")
    newlines = np.flatnonzero(data == ord("\n"))
    records = []
    ends = np.append(headers[1:], data.size)
    for header, end in zip(headers.tolist(), ends.tolist()):
        after = np.searchsorted(newlines, header)
        eol = min(int(newlines[after]) if after < newlines.size else end, end)
        title = bytes(data[header + 1 : eol]).decode("ascii", errors="replace").strip()
        line = _line_of(data, header)
        if not title:
            raise FastaFormatError(path, line, "header line without a record name")
        body = data[eol:end]
        body = body[~np.isin(body, (9, 10, 13, 32))]
        invalid = np.flatnonzero(~_VALID[body])
        if invalid.size:
            bad = int(body[invalid[0]])
            offset = eol + int(np.flatnonzero(data[eol:end] == bad)[0])
            shown = chr(bad) if 32 < bad < 127 else f"byte 0x{bad:02x}"
            raise FastaFormatError(path, _line_of(data, offset), f"invalid character {shown!r} in record "
                                   f"{title.split()[0]!r} (allowed: IUPAC nucleotide codes {IUPAC.decode()})")
        records.append((title.split()[0], line, _UPPER[body]))
    return records


def read_genome(paths: list[str | Path]) -> Genome:
    """Read FASTA(.gz) files and folders of them into one ``Genome``; record names must be unique."""
    files = fasta_files(paths)
    names, chunks, record_files, skipped, seen = [], [], [], [], {}
    for file_index, path in enumerate(files):
        for name, line, sequence in _parse_fasta(path):
            if name in seen:
                raise FastaFormatError(path, line, f"record name {name!r} already used in {seen[name]}")
            seen[name] = f"{path}: line {line}"
            if not sequence.size:
                logger.warning("%s: line %d: record %r has no sequence; skipped", path, line, name)
                skipped.append(f"{path.name}:{name}")
                continue
            names.append(name)
            chunks.append(sequence)
            record_files.append(file_index)
    if not chunks:
        raise FastaFormatError(files[0], None, "no record with sequence in the input files")
    lengths = np.array([c.size for c in chunks], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    return Genome(np.concatenate(chunks), names, starts, lengths, files, record_files, skipped)


@dataclass
class GenomeDataConfig:
    """How genome windows are made (see the module docstring for the policies)."""

    paths: list[str]
    max_length: int = 512
    seed: int = 0
    val_fraction: float = 0.01
    val_block: int = 100_000
    min_gap: int = 50
    random_offsets: bool = True
    reverse_complement: bool = True


def _segments(genome: Genome, blocked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, length) of every maximal stretch of unblocked bases that stays inside one record."""
    starts, lengths = [], []
    for start, length in zip(genome.starts.tolist(), genome.lengths.tolist()):
        free = np.concatenate(([False], ~blocked[start : start + length], [False])).astype(np.int8)
        edges = np.diff(free)
        begin, end = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        starts.append(begin + start)
        lengths.append(end - begin)
    return np.concatenate(starts), np.concatenate(lengths)


def _gaps(genome: Genome, min_gap: int) -> np.ndarray:
    """Boolean mask of runs of at least ``min_gap`` non-ACGT bases."""
    bad = np.concatenate(([False], ~_IS_ACGT[genome.sequence], [False])).astype(np.int8)
    edges = np.diff(bad)
    begin, end = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    long = (end - begin) >= min_gap
    gap = np.zeros(genome.sequence.size, dtype=bool)
    for first, last in zip(begin[long].tolist(), end[long].tolist()):  # one slice per gap, not per base
        gap[first:last] = True
    return gap


def _validation_blocks(genome: Genome, config: GenomeDataConfig, window: int) -> np.ndarray:
    """Boolean mask of the held-out blocks: seeded choice of ``val_fraction`` of equal blocks, at least one."""
    block = max(min(config.val_block, genome.num_bases // 100), 4 * window)
    count = -(-genome.num_bases // block)
    chosen = np.random.default_rng(config.seed).permutation(count)[: max(1, round(config.val_fraction * count))]
    held = np.zeros(genome.sequence.size, dtype=bool)
    for index in np.sort(chosen).tolist():
        held[index * block : (index + 1) * block] = True
    return held


class GenomeWindowDataset(Dataset):
    """Map-style windows over ``segments``; item ``i`` is ``{"input_ids": [CLS] k-mer ids [SEP]}``.

    Being map-style, its indices are sharded by the sampler (``ShardedBatchSampler``, or accelerate's) so ranks and
    DataLoader workers never read the same window. ``__getitems__`` cuts and tokenizes a whole batch at once.
    """

    def __init__(self, genome: Genome, segment_starts: np.ndarray, segment_lengths: np.ndarray, window: int,
                 tokenizer, seed: int, random_offsets: bool, reverse_complement: bool):
        self.sequence = torch.from_numpy(genome.sequence)
        self.window, self.tokenizer, self.seed = window, tokenizer, seed
        self.random_offsets, self.reverse_complement = random_offsets, reverse_complement
        spare = 1 if random_offsets else 0  # leave room for an offset of up to window - 1
        counts = np.maximum((segment_lengths - window) // window + 1 - spare, 0)
        keep = counts > 0
        self.segment_starts = torch.from_numpy(segment_starts[keep])
        self.first_index = torch.from_numpy(np.concatenate(([0], np.cumsum(counts[keep]))))
        self.cls, self.sep = tokenizer.cls_token_id, tokenizer.sep_token_id
        self.set_epoch(0)

    def __len__(self) -> int:
        return int(self.first_index[-1])

    def set_epoch(self, epoch: int) -> None:
        """Choose this epoch's window offset and reverse-complement draws (a pure function of seed and epoch)."""
        digest = hashlib.blake2b(f"{self.seed}:{epoch}".encode(), digest_size=8).digest()
        generator = torch.Generator().manual_seed(int.from_bytes(digest, "little") & (2**63 - 1))
        self.offset = int(torch.randint(self.window, (1,), generator=generator)) if self.random_offsets else 0
        self.flip = (torch.rand(len(self), generator=generator) < 0.5) if self.reverse_complement else None

    def window_starts(self, indices: torch.Tensor) -> torch.Tensor:
        """Genome offset of each window index."""
        segment = torch.searchsorted(self.first_index, indices, right=True) - 1
        return self.segment_starts[segment] + self.offset + (indices - self.first_index[segment]) * self.window

    def bases(self, indices: list[int]) -> torch.Tensor:
        """The windows' bases as uint8 ASCII ``[B, window]`` (reverse-complemented where drawn)."""
        indices = torch.as_tensor(indices, dtype=torch.long)
        if indices.numel() and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"window index out of range 0..{len(self) - 1}")
        windows = self.sequence[self.window_starts(indices)[:, None] + torch.arange(self.window)]
        if self.flip is not None:
            flip = self.flip[indices]
            windows[flip] = _COMPLEMENT[windows[flip].flip(1).long()]
        return windows

    def __getitems__(self, indices: list[int]) -> list[dict[str, torch.Tensor]]:
        ids = self.tokenizer.ids_from_ascii(self.bases(indices))
        ends = torch.tensor([[self.cls, self.sep]]).expand(len(indices), 2)
        ids = torch.cat([ends[:, :1], ids, ends[:, 1:]], dim=1)
        return [{"input_ids": row} for row in ids]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([index])[0]


def build_genome_datasets(config: GenomeDataConfig, tokenizer) -> tuple[GenomeWindowDataset, GenomeWindowDataset, dict]:
    """Train and validation window datasets for ``tokenizer``'s k-mers, and the figures a model card reports."""
    genome = read_genome(config.paths)
    window = tokenizer.bases_for_tokens(config.max_length - 2)
    held_out = _validation_blocks(genome, config, window)
    gaps = _gaps(genome, config.min_gap)
    train_segments = _segments(genome, held_out | gaps)
    val_segments = _segments(genome, ~held_out | gaps)
    train = GenomeWindowDataset(genome, *train_segments, window, tokenizer, config.seed, config.random_offsets,
                                config.reverse_complement)
    val = GenomeWindowDataset(genome, *val_segments, window, tokenizer, config.seed, False, False)
    if not len(train) or not len(val):
        raise ValueError(f"{', '.join(map(str, genome.files))}: too little usable sequence for windows of {window} bp "
                         f"({len(train)} training, {len(val)} validation windows after holding out "
                         f"{config.val_fraction:.1%} and cutting {int(gaps.sum())} bases of gaps)")
    per_file = np.bincount(genome.record_files, weights=genome.lengths, minlength=len(genome.files))
    stats = {
        "genomes": [{"name": path.name, "bases": int(bases)} for path, bases in zip(genome.files, per_file)],
        "records": len(genome.names),
        "skipped_empty_records": len(genome.skipped_records),
        "window_bases": window,
        "train_windows_per_epoch": len(train),
        "validation_windows": len(val),
        "validation_bases": int(held_out.sum()),
        "gap_bases_excluded": int(gaps.sum()),
        "reverse_complement": config.reverse_complement,
        "random_offsets": config.random_offsets,
    }
    logger.info("genome data: %s", stats)
    return train, val, stats
