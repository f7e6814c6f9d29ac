"""FASTA(.gz) files -> one ``Genome`` (``Sequences`` that know their files): all records' bases concatenated,
about 1 byte per base.

Files are streamed in chunks through ``bytes.translate`` (one C pass per chunk; a Python step per record, never per
base) into one growing ``bytearray`` of upper-case ASCII bases for all records (a 3.1 Gbp human genome needs about
3.1-3.5 GB), plus record names and offsets. Rules:

* lower-case (soft-masked repeats) is read as upper-case; the soft-mask is not used;
* IUPAC codes (``N R Y K M S W B D H V`` and ``U``) are stored as they are; the k-mers holding them become [UNK];
* spaces, tabs and CR (CRLF files) in sequence lines are ignored; old Mac files (CR-only line ends) are read
  line by line too; a UTF-8 byte-order mark is skipped; gzip (any number of members, as bgzip writes) is detected by
  its magic bytes, and read as a stream, so a pipe or process substitution (``<(zcat genome.fa.gz)``) works;
* a folder gives its ``*.fa``, ``*.fasta``, ``*.fna``, ``*.fas``, ``*.fsa`` files (optionally ``.gz``); everything
  else in it (other compressions, other suffixes, sub-folders) is listed in a warning, index files (``.fai``,
  ``.gzi``) and hidden files at INFO; a FASTA-named broken link is an error;
* a record with a header but no sequence is skipped with a warning (``Genome.skipped_records``); any other
  malformed input raises ``FastaFormatError`` naming the file and line: sequence before the first header, an empty
  file, a header without a name, a byte that is not an IUPAC letter (digits, ``*``, ``-``, binary data), a
  truncated or corrupt gzip stream, bzip2/xz/zstd/UTF-16 data, a record name used twice.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import torch

from .options import InputError

logger = logging.getLogger(__name__)

EMBEDDED_GENOMES = Path(__file__).resolve().parent / "genomes"
"""The genomes shipped with the package (E. coli K-12 MG1655, phage lambda; see PROVENANCE.md there)."""
_EMBEDDED_SOURCES = {
    "ecoli_k12_mg1655.fa.gz": "E. coli K-12 MG1655, NCBI NC_000913 (Debian ragout-examples)",
    "lambda_NC_001416.fa.gz": "phage lambda, NCBI NC_001416 (Debian bowtie2-examples)",
}

FASTA_SUFFIXES = tuple(suffix + gz for suffix in (".fa", ".fasta", ".fna", ".fas", ".fsa") for gz in ("", ".gz"))
COMPANION_SUFFIXES = (".fai", ".gzi")  # samtools/bgzip indexes that sit beside FASTA files
GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
# Data a FASTA reader cannot read as text: the first bytes, and what to do.
UNREADABLE_STARTS = {
    b"BZh": "bzip2-compressed: decompress it, or recompress it with gzip",
    b"\xfd7zXZ\x00": "xz-compressed: decompress it, or recompress it with gzip",
    b"\x28\xb5\x2f\xfd": "zstd-compressed: decompress it, or recompress it with gzip",
    b"\xff\xfe": "UTF-16 text: save it as ASCII (or UTF-8)",
    b"\xfe\xff": "UTF-16 text: save it as ASCII (or UTF-8)",
}
IUPAC = b"ACGTUNRYKMSWBDHV"
_WHITESPACE = b" \t\r\n"
_CHUNK_BYTES = 1 << 24  # at most this many bytes of (decompressed) FASTA per parsing step
_SCAN_BASES = 1 << 24  # bases per step when scanning or hashing a genome
_SNIFF_BYTES = 8  # first bytes looked at: the longest of UNREADABLE_STARTS and BOM


# bytes.translate table: an IUPAC letter (either case) -> its upper case; any other byte -> 0 (found afterwards)
_CLEAN = bytearray(256)
for _code in IUPAC:
    _CLEAN[_code] = _CLEAN[_code + 32] = _code
_CLEAN = bytes(_CLEAN)
_ALLOWED = np.zeros(256, dtype=bool)
_ALLOWED[np.frombuffer(IUPAC + IUPAC.lower() + _WHITESPACE, np.uint8)] = True
# Byte -> index of an (upper-case, as stored) A, C, G or T in that order: the column of base probabilities
# (``pipeline_randommask.BASES``); -1 for any other byte.
BASE_INDEX = np.full(256, -1, dtype=np.int64)
BASE_INDEX[np.frombuffer(b"ACGT", np.uint8)] = np.arange(4)
IS_ACGT = BASE_INDEX >= 0
# Base -> its complement (IUPAC aware); any other byte maps to itself.
COMPLEMENT = np.arange(256, dtype=np.uint8)
COMPLEMENT[np.frombuffer(b"ACGTURYKMBVDH", np.uint8)] = np.frombuffer(b"TGCAAYRMKVBHD", np.uint8)  # N S W: self


class FastaFormatError(ValueError, InputError):
    """Malformed FASTA input; the message names the file and line (also ``.path`` and ``.line``)."""

    def __init__(self, path: Path, line: int, problem: str):
        self.path, self.line = path, line
        super().__init__(f"{path}: line {line}: {problem}")


def letter_counts(codes: np.ndarray) -> list[tuple[int, str]]:
    """``(count, letter)`` of the byte codes in ``codes``, commonest first: what error messages and notes list."""
    letters, counts = np.unique(codes, return_counts=True)
    return sorted(zip(counts.tolist(), map(chr, letters.tolist())), reverse=True)


def default_corpus(include_lambda: bool = False) -> list[Path]:
    """The embedded default pretraining corpus: E. coli K-12 MG1655 (and phage lambda if asked)."""
    return [EMBEDDED_GENOMES / "ecoli_k12_mg1655.fa.gz"] + (
        [EMBEDDED_GENOMES / "lambda_NC_001416.fa.gz"] if include_lambda else [])


class HashingReader(io.RawIOBase):
    """A file that takes the SHA-256 (``sha256``) and the size (``size``) of every byte read from it: the digest of a
    pipe, which can be read only once, taken while it is parsed."""

    def __init__(self, path: str | Path):
        self.raw = open(path, "rb", buffering=0)  # noqa: SIM115 (closed with the reader, by open_unzipped)
        self.sha256, self.size = hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int | None:
        count = self.raw.readinto(buffer)
        if count:
            self.sha256.update(memoryview(buffer)[:count])
            self.size += count
        return count

    def close(self) -> None:
        self.raw.close()
        super().close()


@contextmanager
def open_unzipped(path: str | Path, hashing: HashingReader | None = None) -> Iterator[IO[bytes]]:
    """The file's bytes, gunzipped when they start with gzip's magic bytes (any number of members, as bgzip writes):
    how every reader here tells gzip apart, whatever the file is named. The first bytes are peeked, not read, and
    the file is opened once, so a pipe (``<(zcat genome.fa.gz)``) works; ``hashing`` (opened on ``path``) is read
    instead, to digest the bytes as they go by. A broken gzip stream raises ``EOFError``, ``OSError`` or
    ``zlib.error`` while it is read."""
    with open(path, "rb") if hashing is None else io.BufferedReader(hashing) as handle:
        if handle.peek(len(GZIP_MAGIC)).startswith(GZIP_MAGIC):
            with gzip.GzipFile(fileobj=handle, mode="rb") as unzipped:
                yield unzipped
        else:
            yield handle


def fasta_files(paths: str | Path | list[str | Path]) -> list[Path]:
    """Expand folders into their FASTA(.gz) files (sorted), saying what else they hold and was not read; refuse
    paths that do not exist, folders with no FASTA file and FASTA-named broken links. A path that is not a folder
    is read whatever its name, so a pipe (``<(zcat x.fa.gz)``, a FIFO) works."""
    files: list[Path] = []
    for path in map(Path, [paths] if isinstance(paths, (str, Path)) else paths):
        if path.is_dir():
            found = _folder_fasta_files(path)
            if not found:
                raise FileNotFoundError(f"{path}: folder holds no FASTA files ({', '.join(FASTA_SUFFIXES)})")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such FASTA file or folder")
    if not files:
        raise ValueError("no FASTA paths given")
    return files


def _folder_fasta_files(folder: Path) -> list[Path]:
    found, skipped, quiet = [], [], []
    for entry in sorted(folder.iterdir()):
        name = entry.name.lower()
        if name.endswith(FASTA_SUFFIXES) and not entry.is_dir():
            if not entry.exists():
                raise FileNotFoundError(f"{entry}: broken link (it points to {entry.readlink()}, which does not exist)")
            found.append(entry)
        elif name.startswith(".") or name.endswith(COMPANION_SUFFIXES):
            quiet.append(entry.name)
        elif entry.is_dir():
            skipped.append(f"{entry.name}/ (sub-folders are not searched: give it as a path of its own)")
        elif not entry.exists():
            skipped.append(f"{entry.name} (broken link)")
        elif name.endswith((".bz2", ".xz", ".zst")):
            skipped.append(f"{entry.name} (only gzip is read: decompress it, or recompress it with gzip)")
        else:
            skipped.append(f"{entry.name} (not a FASTA suffix: {', '.join(FASTA_SUFFIXES)})")
    if skipped:
        logger.warning("%s: %d entries not read: %s", folder, len(skipped), "; ".join(skipped))
    if quiet:
        logger.info("%s: index and hidden files not read: %s", folder, ", ".join(quiet))
    return found


@dataclass
class Sequences:
    """Named DNA records, concatenated: record ``i``, named ``names[i]``, is ``sequence[starts[i] : starts[i] +
    lengths[i]]`` (upper-case ASCII, uint8). One type for DNA from anywhere, so that whatever reads a genome
    (``Genome``), a table or strings (``inference.read_sequences``) hands it to the models without a conversion.
    ``columns`` holds extra per-record values of a table input (column name -> one string per record)."""

    sequence: np.ndarray
    names: list[str]
    starts: np.ndarray
    lengths: np.ndarray
    columns: dict[str, list[str]] = field(default_factory=dict, kw_only=True)

    def __len__(self) -> int:
        return len(self.names)

    def bases(self, index: int) -> np.ndarray:
        """Record ``index``'s bases (a view)."""
        return self.sequence[self.starts[index] : self.starts[index] + self.lengths[index]]

    def record(self, name: str) -> str:
        """One record's bases as text (for inspection and tests; windows never build strings)."""
        return self.bases(self.names.index(name)).tobytes().decode("ascii")


@dataclass
class Genome(Sequences):
    """All records of some FASTA files (``sequence`` a ``np.memmap`` when mapped from a prepared corpus), and where
    they came from: ``record_files[i]`` indexes ``files``; empty records are listed in ``skipped_records`` as
    ``"file:name"``. ``runs`` and ``sha256`` are computed on first use unless given (a prepared corpus stores
    both); ``file_sha256`` is each file's SHA-256 as read (None when not read whole), which names the file whose
    content changed."""

    files: list[Path]
    record_files: list[int]
    skipped_records: list[str] = field(default_factory=list)
    runs: tuple[np.ndarray, np.ndarray] | None = None
    sha256: str | None = None
    file_sha256: list[str] | None = None

    @property
    def num_bases(self) -> int:
        return int(self.sequence.size)

    def tensor(self) -> torch.Tensor:
        """The bases as one torch uint8 tensor over the same memory, shared by all datasets of this genome (so
        that moving it to shared memory for spawned workers happens once)."""
        if getattr(self, "_tensor", None) is None:
            self._tensor = torch.from_numpy(self.sequence)
        return self._tensor

    def non_acgt_runs(self) -> tuple[np.ndarray, np.ndarray]:
        """(starts, ends) of the maximal runs of non-ACGT bases within records: gaps, IUPAC codes."""
        if self.runs is None:
            self.runs = non_acgt_runs(self.sequence, self.starts)
        return self.runs

    def content_hash(self) -> str:
        """SHA-256 of the bases and the record table: the genome's content, whatever the files are called (a resume
        compares it, so changed bases under the same file names are refused)."""
        if self.sha256 is None:
            digest = hashlib.sha256()
            for first in range(0, self.num_bases, _SCAN_BASES):
                digest.update(self.sequence[first : first + _SCAN_BASES])
            self.sha256 = finish_content_hash(digest, self.names, self.lengths)
        return self.sha256

    def source(self, file_index: int) -> str:
        """Where file ``file_index`` came from, for model cards: an embedded genome's provenance, else the path as
        given and its first record's name."""
        path = self.files[file_index]
        if path.resolve().parent == EMBEDDED_GENOMES and path.name in _EMBEDDED_SOURCES:
            return _EMBEDDED_SOURCES[path.name]
        first = self.record_files.index(file_index) if file_index in self.record_files else None
        return str(path) + (f" (first record {self.names[first]})" if first is not None else "")


def finish_content_hash(digest, names: list[str], lengths: np.ndarray) -> str:
    """``Genome.content_hash`` from a SHA-256 already fed with the bases: the record table goes in last, so a store
    can hash its bases while it writes them."""
    digest.update("\n".join(names).encode())
    digest.update(np.asarray(lengths, dtype="<i8").tobytes())
    return digest.hexdigest()


def split_at(starts: np.ndarray, ends: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut sorted disjoint intervals at the points that fall strictly inside them."""
    if not starts.size:
        return starts, ends
    after = np.searchsorted(ends, points, side="right")
    inside = after < starts.size
    inside[inside] = starts[after[inside]] < points[inside]
    cuts = points[inside]
    return np.sort(np.concatenate((starts, cuts))), np.sort(np.concatenate((ends, cuts)))


def runs_in_block(codes: np.ndarray, first: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the non-ACGT runs of one block of bases that begins at genome offset ``first``."""
    edges = np.diff(IS_ACGT[codes].view(np.int8), prepend=np.int8(1), append=np.int8(1))
    return np.flatnonzero(edges == -1) + first, np.flatnonzero(edges == 1) + first


def join_runs(starts: list[np.ndarray], ends: list[np.ndarray], record_starts: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """The runs of consecutive blocks (``runs_in_block``) as one list: runs continuing across a block boundary
    joined, then cut at record starts."""
    starts, ends = np.concatenate([np.zeros(0, np.int64), *starts]), np.concatenate([np.zeros(0, np.int64), *ends])
    if not starts.size:
        return starts, ends
    join = ends[:-1] == starts[1:]
    starts, ends = starts[np.concatenate(([True], ~join))], ends[np.concatenate((~join, [True]))]
    return split_at(starts, ends, np.asarray(record_starts[1:], dtype=np.int64))


def non_acgt_runs(sequence: np.ndarray, record_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximal runs of non-ACGT bases of ``sequence``, cut at record starts; scanned in blocks (a few block-sized
    temporaries)."""
    blocks = [runs_in_block(sequence[first : first + _SCAN_BASES], first)
              for first in range(0, sequence.size, _SCAN_BASES)]
    return join_runs([block[0] for block in blocks], [block[1] for block in blocks], record_starts)


class _FastaReader:
    """Appends one file's bases to ``out`` chunk by chunk, tracking the line number for error messages.

    State across chunks: whether the next byte starts a line, and a header line cut by a chunk boundary."""

    def __init__(self, path: Path, out: bytearray, hashing: HashingReader | None = None):
        self.path, self.out, self.hashing = path, out, hashing
        self.records: list[tuple[str, int, int]] = []  # (name, header line, start in out)
        self.line = 1
        self.at_line_start = True
        self.header: bytearray | None = None
        self.header_line = 0

    def read(self, max_bases: int | None = None) -> list[tuple[str, int, int, int]]:
        """(name, header line, start in ``out``, length) per record, empty records included. Stops reading once
        ``out`` holds ``max_bases`` bases (the caller trims the excess of the last chunk)."""
        with open_unzipped(self.path, self.hashing) as stream:
            head = self._head(stream)
            cr_only = b"\r" in head and b"\n" not in head  # old Mac line ends: CR, no LF, in the first bytes
            try:
                while max_bases is None or len(self.out) < max_bases:
                    # read1: what decoded before a broken gzip stream is fed first, so the error names its line
                    chunk = stream.read1(_CHUNK_BYTES)
                    if not chunk:
                        break
                    try:
                        self._feed(chunk.replace(b"\r", b"\n") if cr_only else chunk)
                    except FastaFormatError:
                        if isinstance(stream, gzip.GzipFile):
                            # A corrupt member can inflate to junk that only its checksum, at the member's end,
                            # gives away: read on, so that the corruption is what gets reported.
                            while stream.read1(_CHUNK_BYTES):
                                pass
                        raise
            except (EOFError, OSError, zlib.error) as error:
                raise FastaFormatError(self.path, self.line,
                                       f"unreadable data: truncated or corrupt gzip? ({error})") from error
        if self.header is not None:  # the file ends on a header line without a newline
            self._start_record()
        if not self.records:
            raise FastaFormatError(self.path, 1, "empty file: no '>' header line, no sequence")
        ends = [start for _, _, start in self.records[1:]] + [len(self.out)]
        return [(name, line, start, end - start) for (name, line, start), end in zip(self.records, ends)]

    def _head(self, stream: IO[bytes]) -> bytes:
        """The first bytes (peeked), after refusing other compressions and UTF-16 and skipping a UTF-8 BOM."""
        head = stream.peek(_SNIFF_BYTES)
        for start, problem in UNREADABLE_STARTS.items():
            if head.startswith(start):
                raise FastaFormatError(self.path, 1, f"{problem} (not FASTA text)")
        if head.startswith(BOM):
            stream.read(len(BOM))
            head = stream.peek(_SNIFF_BYTES)
        return head

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


class RecordTable:
    """The records a FASTA parse keeps, whether the bases go to memory (``read_genome``) or to a store
    (``corpus_store``): names must be unique across files, records without sequence are skipped and listed."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.starts: list[int] = []
        self.lengths: list[int] = []
        self.record_files: list[int] = []
        self.skipped: list[str] = []
        self._seen: dict[str, str] = {}

    def add(self, path: Path, file_index: int, name: str, line: int, start: int, length: int,
            unit: str = "line") -> None:
        """Record ``name`` at ``line`` (or row, as ``unit`` says, for tables and datasets) of ``path``."""
        if name in self._seen:
            raise FastaFormatError(path, line, f"record name {name!r} already used at {self._seen[name]}")
        self._seen[name] = f"{path}: {unit} {line}"
        if not length:
            logger.warning("%s: %s %d: record %r has no sequence; skipped", path, unit, line, name)
            self.skipped.append(f"{path.name}:{name}")
            return
        self.names.append(name)
        self.starts.append(start)
        self.lengths.append(length)
        self.record_files.append(file_index)

    def check_not_empty(self, files: list[Path]) -> None:
        if not self.names:
            raise FastaFormatError(files[-1], 1, "no record with sequence in the input files")


def read_genome(paths: str | Path | list[str | Path], max_bases: int | None = None) -> Genome:
    """Read FASTA(.gz) files and folders of them into one ``Genome``; record names must be unique across all.

    ``max_bases`` keeps only the first bases (files in order, the last record cut): for tools that need a sample
    of a genome, not all of it in memory; what lies beyond is not read, so not checked either."""
    files = fasta_files(paths)
    out = bytearray()
    records, read = RecordTable(), []
    for file_index, path in enumerate(files):
        if max_bases is not None and len(out) >= max_bases:
            break
        read.append(HashingReader(path))
        for name, line, start, length in _FastaReader(path, out, read[-1]).read(max_bases):
            if max_bases is not None:
                if start >= max_bases:  # read with the last chunk, beyond the sample
                    break
                length = min(length, max_bases - start)
            records.add(path, file_index, name, line, start, length)
    records.check_not_empty(files)
    if max_bases is not None:
        del out[max_bases:]
    sequence = np.frombuffer(out, dtype=np.uint8)  # no copy: the bytearray is the storage
    return Genome(sequence, records.names, np.array(records.starts, dtype=np.int64),
                  np.array(records.lengths, dtype=np.int64), files, records.record_files, records.skipped,
                  file_sha256=None if max_bases is not None else [reader.sha256.hexdigest() for reader in read])

