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
* ``corpus.json``: the record table, the SHA-256 of the bases and record table (``Genome.content_hash``) and of
  ``runs.npy``'s array, and each input file's size and SHA-256.

Key: the store's folder name is a hash of the format version and the SHA-256 of each input file's bytes, in order
(the parsing rules have no options). A file's digest is cached under ``digests/`` against its path, size, mtime and
inode, so an unchanged corpus is not re-read at each start (as git's index does). Atomic: a store is written into a
temporary folder (``.tmp-<key>-<host>-<pid>``), fsynced and renamed to its key, under a lock (``filelock``) so that
concurrent preparers (ranks, jobs, nodes on shared storage) build it once; a crash leaves only a temporary folder,
which a later preparer on the same host removes once its process is gone. A pipe (``<(zcat x.fa.gz)``) can be read
once only: its digest is taken while it is parsed, and the store keyed afterwards.

Integrity (``check_structure``, ``verify_content``): every open checks, without reading the bases, that the files
agree (sizes, the record table tiling ``bases.u8`` exactly, the runs' digest); the content digest (bases and record
table: a SHA-256 pass, 0.9 s per Gbp on an idle core with the page cache warm) is verified after preparing, when
pretraining starts (so what its log, checkpoints and card record is what was read) and on request
(``prepare_corpus.py --verify``).
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
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from filelock import FileLock
from tqdm.auto import tqdm

from .fasta import (
    Genome,
    HashingReader,
    RecordTable,
    _FastaReader,
    default_corpus,
    fasta_files,
    finish_content_hash,
    join_runs,
    runs_in_block,
)
from .options import InputError, check_output_folder
from .output_files import replace_folder, write_whole

if TYPE_CHECKING:
    from typing import Self  # Python 3.11+; annotations are not evaluated at run time

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: runs.npy's digest and each input file's SHA-256 in corpus.json
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
class CorpusFiles:
    """The FASTA files of a corpus and where its prepared store lives: options of pretraining (through
    ``genome_windows.GenomeDataConfig``) and of ``examples/prepare_corpus.py`` alike."""

    RENAMED_OPTIONS: ClassVar[dict[str, str]] = {"--paths": "--genome"}  # docs/commands.md

    genome: list[str] = field(default_factory=list, metadata={
        "help": "FASTA(.gz) files or folders of them, in mix order (default: the embedded E. coli genome, unless "
                "--train_file or --dataset_name gives the corpus)"})
    corpus_dir: str | None = field(default=None, metadata={
        "help": "where prepared corpora live; on storage all nodes share for a multi-node run (default: "
                "$RANDOMMASK_CORPUS_DIR, else ~/.cache/randommask/corpora)"})

    def __post_init__(self):
        self.genome = [self.genome] if isinstance(self.genome, (str, Path)) else list(self.genome)
        if self.corpus_dir is not None:
            check_output_folder(self.corpus_dir, "--corpus_dir")


@dataclass
class CorpusArguments(CorpusFiles):
    """The options of ``examples/prepare_corpus.py`` (with ``sequence_sources.SequenceSourceOptions``)."""

    verify: bool = field(default=False, metadata={
        "help": "check the store's content against the SHA-256 recorded when it was prepared (a SHA-256 pass: about "
                "1 s per Gbp on an idle core, page cache warm; every open checks its structure only)"})


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
        write_whole(cached, json.dumps({"path": str(path.resolve()), "sha256": digest.hexdigest()}))
    except OSError as error:
        logger.info("%s: digest not cached (%s)", path, error)
    return digest.hexdigest()


def _key_of(digests: list[str]) -> str:
    return hashlib.sha256(json.dumps({"format": FORMAT_VERSION, "files": digests}).encode()).hexdigest()[:32]


class FastaSource:
    """A FASTA(.gz) file as an input of a store. Other inputs (``sequence_sources``: text, tables, datasets) have
    the same members: ``path`` (what the corpus calls the input: its mix weight and card row), ``unit`` (line or
    row, for messages), ``keyable`` (its content can be keyed before it is read: not a pipe), ``digest`` (its
    content, for the store's key), ``read`` (append its bases to ``out``; give ``(name, line or row, start, length)``
    per record, empty ones included) and, once read, ``entry`` (its name, size and the digest taken while reading,
    for ``corpus.json``)."""

    unit = "line"

    def __init__(self, path: Path):
        self.path = path
        self.reader: HashingReader | None = None

    @property
    def keyable(self) -> bool:
        return self.path.is_file()

    def digest(self, corpus_dir: Path) -> str:
        return _file_digest(self.path, corpus_dir)

    def read(self, out):
        self.reader = HashingReader(self.path)
        return _FastaReader(self.path, out, self.reader).read()

    def entry(self) -> dict:
        return {"name": self.path.name, "bytes": self.reader.size, "sha256": self.reader.sha256.hexdigest()}


def corpus_key(sources: list, corpus_dir: Path) -> str:
    """The store's name: the format version and the inputs' contents, in order (a FASTA file's digest is the
    SHA-256 of its bytes)."""
    return _key_of([source.digest(corpus_dir) for source in sources])


def _runs_digest(runs: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(runs, dtype="<i8").tobytes()).hexdigest()


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
    records, files = RecordTable(), [source.path for source in sources]
    with open(folder / BASES_FILE, "wb") as handle, tqdm(desc="preparing corpus", unit="bp", unit_scale=True) as bar:
        out = _SpillingBases(handle, bar)
        for file_index, source in enumerate(sources):
            logger.info("preparing corpus: reading %s", source.path)
            for name, line, start, length in source.read(out):
                records.add(source.path, file_index, name, line, start, length, unit=source.unit)
        out.flush()
    records.check_not_empty(files)
    sha256 = finish_content_hash(out.digest, records.names, np.array(records.lengths, dtype=np.int64))
    runs = np.stack(join_runs(out.run_starts, out.run_ends, np.array(records.starts, dtype=np.int64)))
    with open(folder / RUNS_FILE, "wb") as handle:
        np.save(handle, runs)
    return {"format": FORMAT_VERSION, "bases": len(out), "sha256": sha256, "runs_sha256": _runs_digest(runs),
            "names": records.names, "starts": records.starts, "lengths": records.lengths,
            "record_files": records.record_files, "skipped_records": records.skipped,
            "files": [source.entry() for source in sources]}


def _owner(temporary: Path) -> tuple[str, int] | None:
    """(host, pid) of the preparer that named a temporary store ``.tmp-<key>-<host>-<pid>``."""
    _, _, owner = temporary.name.removeprefix(".tmp-").partition("-")
    host, _, pid = owner.rpartition("-")
    return (host, int(pid)) if host and pid.isdigit() else None


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process
        return False
    return False


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def remove_orphaned_temporaries(corpus_dir: Path) -> list[str]:
    """Remove the temporary stores (of any key) whose preparer ran on this host and is gone (a crash, ``kill -9``);
    return a line for each one left by another host, whose preparer may still run (it cannot be told from here)."""
    here, foreign = socket.gethostname(), []
    for temporary in sorted(corpus_dir.glob(".tmp-*")):
        owner = _owner(temporary)
        if owner is None or not temporary.is_dir():
            continue
        size = _folder_bytes(temporary)
        if owner[0] != here:
            foreign.append(f"{temporary} ({size:,} bytes; its preparer ran on {owner[0]}, pid {owner[1]}: delete it "
                           "if that has ended)")
        elif _process_gone(owner[1]):
            shutil.rmtree(temporary, ignore_errors=True)
            logger.warning("removed %s (%s bytes), an unfinished store whose preparer (pid %d) is gone", temporary,
                           f"{size:,}", owner[1])
    return foreign


def _build(sources: list, corpus_dir: Path, key: str | None) -> tuple[Path, str]:
    """Prepare ``sources`` into a temporary folder, its content verified as written; return it and its key (the
    digests taken while reading: ``key``, when known before, must match, or the files changed meanwhile)."""
    files = [source.path for source in sources]
    temporary = corpus_dir / f".tmp-{key or 'unkeyed'}-{socket.gethostname()}-{os.getpid()}"
    temporary.mkdir()
    clock = time.perf_counter()
    try:
        info = _write_store(sources, temporary)
        read_key = _key_of([entry["sha256"] for entry in info["files"]])
        if key is not None and read_key != key:
            raise CorpusStoreError(f"{', '.join(map(str, files))}: changed while being prepared: prepare again")
        (temporary / INFO_FILE).write_text(json.dumps(info))
        open_corpus(temporary, verify=True)  # what was written reads back as what was parsed
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    logger.info("prepared corpus: %s bases from %d files in %.1f s", f"{info['bases']:,}", len(files),
                time.perf_counter() - clock)
    return temporary, read_key


def _publish(temporary: Path, store: Path) -> None:
    """Move a complete temporary store, flushed to disk, to its key (the caller holds the key's lock)."""
    if (store / INFO_FILE).is_file():  # the same content, prepared meanwhile (a pipe is keyed only once read)
        shutil.rmtree(temporary)
        return
    replace_folder(temporary, store)  # an incomplete folder under the final name (not written here) is replaced


def prepare_corpus(paths: str | Path | list[str | Path], corpus_dir: str | Path | None = None) -> Path:
    """The store of these FASTA files under ``corpus_dir``, built unless a complete one exists; its folder."""
    return prepare_store([FastaSource(path) for path in fasta_files(paths)], corpus_dir)


def prepare_store(sources: list, corpus_dir: str | Path | None = None) -> Path:
    """The store of these inputs (``FastaSource`` or ``sequence_sources``) under ``corpus_dir``, built unless a
    complete one exists; its folder.

    Safe to call from every rank at once: one builds it under the lock, the others wait and then find it. Pipes
    are read once: parsed and digested together, and keyed afterwards."""
    corpus_dir = check_output_folder(corpus_dir or default_corpus_dir(), "--corpus_dir")
    corpus_dir.mkdir(parents=True, exist_ok=True)
    remove_orphaned_temporaries(corpus_dir)
    if not all(source.keyable for source in sources):
        for source in sources:  # inputs read other than as a stream (parquet, datasets) are keyed beforehand
            if source.keyable:
                source.digest(corpus_dir)
        temporary, key = _build(sources, corpus_dir, None)
        store = corpus_dir / key
        with FileLock(str(store) + ".lock"):
            _publish(temporary, store)
        return store
    store = corpus_dir / corpus_key(sources, corpus_dir)
    if (store / INFO_FILE).is_file():
        return store
    with FileLock(str(store) + ".lock"):
        if (store / INFO_FILE).is_file():  # built by another process while this one waited
            return store
        for stale in corpus_dir.glob(f".tmp-{store.name}-*"):  # left by a crashed preparer (we hold the lock)
            logger.warning("removing %s, an unfinished store left by an interrupted preparation", stale)
            shutil.rmtree(stale)
        _publish(_build(sources, corpus_dir, store.name)[0], store)
    return store


_INFO_TYPES = {"format": int, "bases": int, "sha256": str, "runs_sha256": str, "names": list, "starts": list,
               "lengths": list, "record_files": list, "skipped_records": list, "files": list}


def _damaged(path: Path, problem: str) -> CorpusStoreError:
    return CorpusStoreError(f"{path}: {problem}: the prepared corpus is damaged; delete {path.parent} and prepare "
                            "again")


def _read_info(store: Path) -> dict:
    path = store / INFO_FILE
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise CorpusStoreError(f"{store}: not a complete prepared corpus (no {INFO_FILE}); delete it and prepare "
                               "again") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise _damaged(path, f"not valid JSON ({error})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT_VERSION:
        found = info.get("format") if isinstance(info, dict) else type(info).__name__
        raise _damaged(path, f"format {found!r}, expected {FORMAT_VERSION}")
    wrong = [f"{key!r} ({kind.__name__})" for key, kind in _INFO_TYPES.items() if not isinstance(info.get(key), kind)]
    if wrong:
        raise _damaged(path, f"missing or mistyped {', '.join(wrong)}")
    return info


def check_structure(store: Path, info: dict, sequence: np.ndarray, runs: np.ndarray) -> None:
    """The checks of every open, none reading the bases: ``bases.u8`` holds the bases ``corpus.json`` records, the
    record table tiles it exactly (record after record, none empty, none past its end; files in order) and
    ``runs.npy`` is the array that was prepared (its digest)."""
    if sequence.size != info["bases"]:
        raise _damaged(store / BASES_FILE, f"{sequence.size:,} bases, corpus.json records {info['bases']:,}")
    lengths, starts = np.asarray(info["lengths"]), np.asarray(info["starts"])
    record_files = np.asarray(info["record_files"])
    counts = {len(info["names"]), lengths.size, starts.size, record_files.size}
    tiled = (len(counts) == 1 and lengths.size > 0 and lengths.dtype.kind == starts.dtype.kind == "i"
             and record_files.dtype.kind == "i" and (lengths > 0).all()
             and np.array_equal(starts, np.cumsum(lengths) - lengths) and int(lengths.sum()) == sequence.size
             and (np.diff(record_files) >= 0).all() and 0 <= record_files[0] and record_files[-1] < len(info["files"]))
    if not tiled:
        raise _damaged(store / INFO_FILE, f"its record table ({len(info['names'])} names, {starts.size} starts, "
                                          f"{lengths.size} lengths adding up to {int(lengths.sum()):,} bases) does not "
                                          f"tile the {sequence.size:,} bases of {BASES_FILE}")
    if runs.ndim != 2 or runs.shape[0] != 2 or runs.dtype != np.int64 or _runs_digest(runs) != info["runs_sha256"]:
        raise _damaged(store / RUNS_FILE, "the non-ACGT runs differ from what was prepared")


def verify_content(store: Path, genome: Genome, recorded: str) -> None:
    """Hash the bases and the record table again and compare with the digest recorded when they were prepared."""
    genome.sha256 = None
    if genome.content_hash() != recorded:
        raise _damaged(store / BASES_FILE, f"content differs from what was prepared (SHA-256 of the bases and record "
                                           f"table {genome.sha256[:16]}..., {recorded[:16]}... recorded in {INFO_FILE}"
                                           "; edited, or the storage corrupted it)")


def open_corpus(store: str | Path, files: list[Path] | None = None, verify: bool = False) -> Genome:
    """The ``Genome`` of a prepared store, its bases memory-mapped (never read into RAM), its structure checked
    (``check_structure``) and, with ``verify``, its content (``verify_content``). ``files`` are the paths this run
    gave (a store is keyed by content, so it may have been prepared from files elsewhere)."""
    store = Path(store)
    info = _read_info(store)
    try:
        # copy-on-write mapping of a read-only file: pages are the page cache's (shared by every process that maps
        # them); torch wants a writable array, and nothing ever writes to it
        sequence = np.memmap(store / BASES_FILE, dtype=np.uint8, mode="c")
    except (OSError, ValueError) as error:
        raise _damaged(store / BASES_FILE, f"cannot be mapped ({error})") from None
    try:
        runs = np.load(store / RUNS_FILE, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise _damaged(store / RUNS_FILE, f"not a numpy array ({error})") from None
    check_structure(store, info, sequence, runs)
    files = files if files is not None else [Path(entry["name"]) for entry in info["files"]]
    genome = Genome(sequence, info["names"], np.array(info["starts"], dtype=np.int64),
                    np.array(info["lengths"], dtype=np.int64), files, info["record_files"], info["skipped_records"],
                    runs=(runs[0], runs[1]), sha256=info["sha256"],
                    file_sha256=[entry.get("sha256") for entry in info["files"]])
    if verify:
        verify_content(store, genome, info["sha256"])
    return genome


def load_genome(paths: str | Path | list[str | Path], corpus_dir: str | Path | None = None,
                use_store: bool = True, verify: bool = False) -> Genome:
    """The genome of these FASTA files (``load_sources``)."""
    return load_sources([FastaSource(path) for path in fasta_files(paths)], corpus_dir, use_store, verify)


def load_sources(sources: list, corpus_dir: str | Path | None = None, use_store: bool = True,
                 verify: bool = False) -> Genome:
    """The genome of these inputs: mapped from their prepared store (built on first use; its content checked with
    ``verify``), or read into RAM when ``use_store`` is off or an input is not a regular file (a pipe can be read
    once, and each rank of a run would need it)."""
    unkeyable = [str(source.path) for source in sources if not source.keyable]
    if unkeyable and use_store:
        logger.info("reading %s into RAM: not regular files, so no prepared corpus", ", ".join(unkeyable))
    if not use_store or unkeyable:
        return read_sources(sources)
    return open_corpus(prepare_store(sources, corpus_dir), [source.path for source in sources], verify=verify)


def read_sources(sources: list) -> Genome:
    """The inputs read into RAM (``--no_corpus_store``), under the store's rules."""
    out, records = bytearray(), RecordTable()
    for file_index, source in enumerate(sources):
        for name, line, start, length in source.read(out):
            records.add(source.path, file_index, name, line, start, length, unit=source.unit)
    files = [source.path for source in sources]
    records.check_not_empty(files)
    return Genome(np.frombuffer(out, dtype=np.uint8), records.names, np.array(records.starts, dtype=np.int64),
                  np.array(records.lengths, dtype=np.int64), files, records.record_files, records.skipped,
                  file_sha256=[source.entry()["sha256"] for source in sources])


def prepare(args: CorpusArguments, options=None) -> str:
    """``examples/prepare_corpus.py``: prepare the store; return the line saying where it is and what to run next.
    ``options`` (``sequence_sources.SequenceSourceOptions``): text files, tables and a dataset besides the FASTA."""
    paths = args.genome or ([] if options is not None and options.given() else [str(p) for p in default_corpus()])
    piped = [path for path in paths if not (Path(path).is_file() or Path(path).is_dir())]
    sources = options.sources(paths) if options is not None else [FastaSource(p) for p in fasta_files(paths)]
    store = prepare_store(sources, args.corpus_dir)
    clock = time.perf_counter()
    genome = open_corpus(store, verify=args.verify)
    seconds = time.perf_counter() - clock
    size = sum(path.stat().st_size for path in store.iterdir()) / 1e9
    where = f" --corpus_dir {args.corpus_dir}" if args.corpus_dir else ""
    verified = (f"; content verified (SHA-256 of {genome.num_bases:,} bases) in {seconds:.2f} s"
                if args.verify else "")
    foreign = remove_orphaned_temporaries(store.parent)
    left = f". Unfinished stores of other hosts: {'; '.join(foreign)}" if foreign else ""
    given = " ".join(filter(None, [
        ("--genome " + ("<the same data as files>" if piped else " ".join(paths))) if paths else "",
        options.command_line() if options is not None else ""]))
    note = ("every rank maps this store; pretraining reads a pipe into RAM, so give the data it held as files"
            if piped else "every rank maps this store")
    return (f"prepared corpus {store}: {genome.num_bases:,} bases in {len(genome.names):,} records from "
            f"{len(genome.files)} files, {size:.2f} GB on disk{verified}. Next: accelerate launch "
            f"examples/pretrain.py {given}{where} ({note}){left}")
