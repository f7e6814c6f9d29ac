"""A prepared corpus: FASTA files parsed once into a folder that every later run memory-maps instead of reading.

Why: reading a genome costs about 1 byte of RAM per base in every process (8 ranks on hg38: about 25 GB) and a
parse at every start. A store is parsed once; its bases file is mapped read-only by every rank of every run, so a
node holds one copy in the page cache whatever the number of ranks, and a start takes seconds.

Format: plain files that numpy maps directly (chosen over Arrow/``datasets``: the windows slice one flat byte array
at arbitrary offsets, which a ``np.memmap`` gives with no copy and no chunk bookkeeping):

* ``bases.u8``: every record's bases, concatenated, upper-case ASCII (one uint8 per base, as ``read_genome`` holds
  them, so windows cut from the store are the windows cut in RAM, byte for byte);
* ``runs.npy``: the non-ACGT runs (``int64 [2, n]`` starts and ends), from which gaps, validation blocks and the
  N-fraction of every window slot follow without scanning the bases again;
* ``corpus.json``: the record table, the bases' SHA-256 (``Genome.content_hash``) and the input files' digests.

Key: the store's folder name is a hash of the format version and the SHA-256 of each input file's bytes, in order
(the parsing rules have no options). A file's digest is cached under ``digests/`` against its path, size, mtime and
inode, so an unchanged corpus is not re-read at each start (as git's index does). Atomic: a store is written into a
temporary folder, fsynced and renamed to its key, under a lock (``filelock``) so that concurrent preparers (ranks,
jobs, nodes on shared storage) build it once; a crash leaves only a temporary folder, which the next preparer
removes. Pipes (``<(zcat x.fa.gz)``) cannot be keyed before they are read: they are read into RAM as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from filelock import FileLock
from tqdm.auto import tqdm

from .fasta import (
    Genome,
    RecordTable,
    _FastaReader,
    default_corpus,
    fasta_files,
    finish_content_hash,
    join_runs,
    runs_in_block,
)
from .options import InputError, check_output_folder

if TYPE_CHECKING:
    from typing import Self  # Python 3.11+; annotations are not evaluated at run time

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
BASES_FILE, RUNS_FILE, INFO_FILE = "bases.u8", "runs.npy", "corpus.json"
_FLUSH_BYTES = 1 << 26  # bases held in RAM before they are written out while preparing


class CorpusStoreError(ValueError, InputError):
    """A prepared corpus that cannot be used; the message names its folder and what to do."""


def default_corpus_dir() -> Path:
    """``$RANDOMMASK_CORPUS_DIR``, else ``$XDG_CACHE_HOME/randommask/corpora`` (``~/.cache/randommask/corpora``)."""
    if os.environ.get("RANDOMMASK_CORPUS_DIR"):
        return Path(os.environ["RANDOMMASK_CORPUS_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "randommask" / "corpora"


@dataclass
class CorpusArguments:
    """The options of ``examples/prepare_corpus.py``."""

    paths: list[str] = field(default_factory=list, metadata={
        "aliases": ["--genome"], "help": "FASTA(.gz) files or folders of them, in the order pretraining will give them "
                                         "(default: the embedded E. coli genome)"})
    corpus_dir: str | None = field(default=None, metadata={
        "help": "where prepared corpora live; on shared storage for a multi-node run (default: "
                "$RANDOMMASK_CORPUS_DIR, else ~/.cache/randommask/corpora)"})


def _file_digest(path: Path, corpus_dir: Path) -> str:
    """SHA-256 of a file's bytes, cached against its identity (path, size, mtime, inode)."""
    stat = path.stat()
    identity = json.dumps([str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_dev])
    cached = corpus_dir / "digests" / (hashlib.sha256(identity.encode()).hexdigest()[:32] + ".json")
    if cached.is_file():
        try:
            return json.loads(cached.read_text())["sha256"]
        except (ValueError, KeyError):
            pass  # a damaged cache entry: hash again
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            digest.update(chunk)
    try:  # best effort: a store on read-only shared storage is still found, by hashing again
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(f".{socket.gethostname()}-{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"path": str(path.resolve()), "sha256": digest.hexdigest()}))
        os.replace(temporary, cached)
    except OSError as error:
        logger.info("%s: digest not cached (%s)", path, error)
    return digest.hexdigest()


class FastaSource:
    """A FASTA(.gz) file as an input of a store. Other inputs (``sequence_sources``: text, tables, datasets) have
    the same three members: ``path`` (what the corpus calls the input: its mix weight and card row), ``digest``
    (its content, for the store's key) and ``read`` (append its bases to ``out``; give ``(name, line or row, start,
    length)`` per record, empty ones included)."""

    unit = "line"

    def __init__(self, path: Path):
        self.path = path

    @property
    def keyable(self) -> bool:
        """Whether its content can be keyed before it is read (not a pipe)."""
        return self.path.is_file()

    def digest(self, corpus_dir: Path) -> str:
        return _file_digest(self.path, corpus_dir)

    def read(self, out) -> list[tuple[str, int, int, int]]:
        return _FastaReader(self.path, out).read()


def corpus_key(sources: list, corpus_dir: Path) -> str:
    """The store's name: the format version and the inputs' contents, in order (a FASTA file's digest is the
    SHA-256 of its bytes, so stores prepared before other inputs existed keep their names)."""
    digests = [source.digest(corpus_dir) for source in sources]
    return hashlib.sha256(json.dumps({"format": FORMAT_VERSION, "files": digests}).encode()).hexdigest()[:32]


class _SpillingBases:
    """What ``_FastaReader`` appends to: holds up to ``_FLUSH_BYTES`` bases, then writes them to ``handle``, hashes
    them and finds their non-ACGT runs, so preparing never holds (or re-reads) the corpus. ``len()`` counts every
    base appended."""

    def __init__(self, handle, progress: tqdm):
        self.handle, self.pending, self.written, self.progress = handle, bytearray(), 0, progress
        self.digest = hashlib.sha256()
        self.run_starts: list[np.ndarray] = []
        self.run_ends: list[np.ndarray] = []

    def __len__(self) -> int:
        return self.written + len(self.pending)

    def __iadd__(self, bases: bytes) -> Self:
        self.pending += bases
        if len(self.pending) >= _FLUSH_BYTES:
            self.flush()
        return self

    def flush(self) -> None:
        self.handle.write(self.pending)
        self.digest.update(self.pending)
        starts, ends = runs_in_block(np.frombuffer(self.pending, np.uint8), self.written)
        self.run_starts.append(starts)
        self.run_ends.append(ends)
        self.written += len(self.pending)
        self.progress.update(len(self.pending))
        self.pending = bytearray()


def _write_store(sources: list, folder: Path) -> dict:
    """Parse ``sources`` into ``folder`` (streaming); return what ``corpus.json`` holds. Same rules as
    ``read_genome``: empty records are skipped (and listed), record names must be unique."""
    records = RecordTable()
    files = [source.path for source in sources]
    with open(folder / BASES_FILE, "wb") as handle, tqdm(desc="preparing corpus", unit="bp", unit_scale=True) as bar:
        out = _SpillingBases(handle, bar)
        for file_index, source in enumerate(sources):
            logger.info("preparing corpus: reading %s", source.path)
            for name, line, start, length in source.read(out):
                records.add(source.path, file_index, name, line, start, length, unit=source.unit)
        out.flush()
        handle.flush()
        os.fsync(handle.fileno())
    records.check_not_empty(files)
    sha256 = finish_content_hash(out.digest, records.names, np.array(records.lengths, dtype=np.int64))
    runs = np.stack(join_runs(out.run_starts, out.run_ends, np.array(records.starts, dtype=np.int64)))
    with open(folder / RUNS_FILE, "wb") as handle:
        np.save(handle, runs)
        handle.flush()
        os.fsync(handle.fileno())
    return {"format": FORMAT_VERSION, "bases": len(out), "sha256": sha256, "names": records.names,
            "starts": records.starts, "lengths": records.lengths, "record_files": records.record_files,
            "skipped_records": records.skipped,
            "files": [{"name": path.name, "bytes": path.stat().st_size if path.is_file() else None} for path in files]}


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def prepare_corpus(paths: str | Path | list[str | Path], corpus_dir: str | Path | None = None) -> Path:
    """The store of these FASTA files under ``corpus_dir``, built unless a complete one exists; its folder."""
    return prepare_store([FastaSource(path) for path in fasta_files(paths)], corpus_dir)


def prepare_store(sources: list, corpus_dir: str | Path | None = None) -> Path:
    """The store of these inputs (``FastaSource`` or ``sequence_sources``) under ``corpus_dir``, built unless a
    complete one exists; its folder.

    Safe to call from every rank at once: one builds it under the lock, the others wait and then find it."""
    files = [source.path for source in sources]
    corpus_dir = check_output_folder(corpus_dir or default_corpus_dir(), "--corpus_dir")
    store = corpus_dir / corpus_key(sources, corpus_dir)
    if (store / INFO_FILE).is_file():
        return store
    corpus_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(store) + ".lock"):
        if (store / INFO_FILE).is_file():  # built by another process while this one waited
            return store
        for stale in corpus_dir.glob(f".tmp-{store.name}-*"):  # left by a crashed preparer (we hold the lock)
            logger.warning("removing %s, an unfinished store left by an interrupted preparation", stale)
            shutil.rmtree(stale)
        temporary = corpus_dir / f".tmp-{store.name}-{socket.gethostname()}-{os.getpid()}"
        temporary.mkdir()
        clock = time.perf_counter()
        try:
            info = _write_store(sources, temporary)
            info_file = temporary / INFO_FILE
            info_file.write_text(json.dumps(info))
            with open(info_file, "rb+") as handle:
                os.fsync(handle.fileno())
            _fsync_folder(temporary)
            if store.exists():  # an incomplete folder under the final name (not written by this module): replace
                shutil.rmtree(store)
            os.replace(temporary, store)
            _fsync_folder(corpus_dir)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        logger.info("prepared corpus %s: %s bases from %d files in %.1f s", store, f"{info['bases']:,}", len(files),
                    time.perf_counter() - clock)
    return store


def open_corpus(store: str | Path, files: list[Path] | None = None) -> Genome:
    """The ``Genome`` of a prepared store, its bases memory-mapped (never read into RAM). ``files`` are the paths
    this run gave (a store is keyed by content, so it may have been prepared from files elsewhere)."""
    store = Path(store)
    try:
        info = json.loads((store / INFO_FILE).read_text())
        # copy-on-write mapping of a read-only file: pages are the page cache's (shared by every process that maps
        # them); torch wants a writable array, and nothing ever writes to it
        sequence = np.memmap(store / BASES_FILE, dtype=np.uint8, mode="c")
        runs = np.load(store / RUNS_FILE)
    except (OSError, ValueError) as error:
        raise CorpusStoreError(f"{store}: not a complete prepared corpus ({error}); delete it and prepare again") \
            from None
    if info.get("format") != FORMAT_VERSION or sequence.size != info["bases"]:
        raise CorpusStoreError(f"{store}: format {info.get('format')} with {sequence.size:,} bases, expected format "
                               f"{FORMAT_VERSION} with {info['bases']:,}: delete it and prepare again")
    files = files if files is not None else [Path(entry["name"]) for entry in info["files"]]
    return Genome(sequence, info["names"], np.array(info["starts"], dtype=np.int64),
                  np.array(info["lengths"], dtype=np.int64), files, info["record_files"], info["skipped_records"],
                  runs=(runs[0], runs[1]), sha256=info["sha256"])


def load_genome(paths: str | Path | list[str | Path], corpus_dir: str | Path | None = None,
                use_store: bool = True) -> Genome:
    """The genome of these FASTA files: mapped from its prepared store (built on first use), or read into RAM when
    ``use_store`` is off or an input is not a regular file (a pipe cannot be keyed before it is read)."""
    return load_sources([FastaSource(path) for path in fasta_files(paths)], corpus_dir, use_store)


def load_sources(sources: list, corpus_dir: str | Path | None = None, use_store: bool = True) -> Genome:
    """The genome of these inputs: mapped from their prepared store (built on first use), or read into RAM when
    ``use_store`` is off or an input cannot be keyed before it is read (a pipe)."""
    files = [source.path for source in sources]
    unkeyable = [str(source.path) for source in sources if not source.keyable]
    if unkeyable and use_store:
        logger.info("reading %s into RAM: not regular files, so no prepared corpus", ", ".join(unkeyable))
    if not use_store or unkeyable:
        return read_sources(sources)
    return open_corpus(prepare_store(sources, corpus_dir), files)


def read_sources(sources: list) -> Genome:
    """The inputs read into RAM (``--no_corpus_store``), under the store's rules."""
    out, records = bytearray(), RecordTable()
    for file_index, source in enumerate(sources):
        for name, line, start, length in source.read(out):
            records.add(source.path, file_index, name, line, start, length, unit=source.unit)
    files = [source.path for source in sources]
    records.check_not_empty(files)
    return Genome(np.frombuffer(out, dtype=np.uint8), records.names, np.array(records.starts, dtype=np.int64),
                  np.array(records.lengths, dtype=np.int64), files, records.record_files, records.skipped)


def prepare(args: CorpusArguments, options=None) -> str:
    """``examples/prepare_corpus.py``: prepare the store; return the line saying where it is and what to run next.
    ``options`` (``sequence_sources.SequenceSourceOptions``): text files, tables and a dataset besides the FASTA."""
    paths = args.paths or ([] if options is not None and options.given() else [str(p) for p in default_corpus()])
    sources = options.sources(paths) if options is not None else [FastaSource(p) for p in fasta_files(paths)]
    store = prepare_store(sources, args.corpus_dir)
    genome = open_corpus(store)
    size = sum(path.stat().st_size for path in store.iterdir()) / 1e9
    given = " ".join(filter(None, [f"--genome {' '.join(paths)}" if paths else "",
                                   options.command_line() if options is not None else "",
                                   f"--corpus_dir {args.corpus_dir}" if args.corpus_dir else ""]))
    return (f"prepared corpus {store}: {genome.num_bases:,} bases in {len(genome.names):,} records from "
            f"{len(genome.files)} files, {size:.2f} GB on disk. Next: accelerate launch examples/pretrain.py "
            f"{given} (every rank maps this store)")
