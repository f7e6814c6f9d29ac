"""Pretraining corpora beyond FASTA: text files, task tables and Hugging Face datasets, as named records for the
corpus store (``corpus_store.prepare_store``) or for RAM (``--no_corpus_store``).

Each input is read once, streamed (a Python step per record, never per base), under FASTA's rules: lower case
(soft-masked) read as upper case, IUPAC codes and U kept (their k-mers become [UNK]), spaces ignored, records
without bases listed and skipped, anything else an error naming the file and its line or row, or the dataset and
its row. What each input is:

* ``--train_file`` text (``.txt``, ``.seq``, optionally ``.gz``): one sequence per line (DNABERT-2's format);
  record ``reads.txt:12`` is line 12;
* ``--train_file`` tables (``.csv``, ``.tsv``, optionally ``.gz``, and ``.parquet``), or a task folder (its ``train``
  file, never dev or test): only the ``--sequence_column`` is read as DNA; labels and other columns are never
  used. DNABERT's space-separated k-mers are joined back into bases, as fine-tuning does;
* ``--train_file`` FASTA suffixes: read as ``--genome`` files are;
* ``--dataset_name``: a ``save_to_disk`` folder, a local folder of data files (a Hub dataset's layout), or a Hub
  id, with ``--dataset_config_name``, ``--dataset_split`` and ``--dataset_revision``; the split's sequence column
  is streamed (a Hub dataset is never downloaded whole), by the one process that prepares the store.

Each input is one "genome" of the mix (``--genome_weights``): FASTA files first, then the train files, then the
dataset. The store's key covers each input's content: a file's bytes, every file of a dataset folder, a Hub
dataset's resolved commit (and the column, config and split), so a changed input is a new store and a resume
from a run on the old one is refused.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..tokenization.tokenization_kmer import join_spaced_kmers
from .corpus_store import FastaSource, _file_digest
from .fasta import _CLEAN, _WHITESPACE, FASTA_SUFFIXES, IUPAC, HashingReader, fasta_files, open_unzipped
from .options import InputError
from .tasks import _csv_fields_unlimited, _delimiter, _rows, find_split_file

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = tuple(suffix + gz for suffix in (".txt", ".seq") for gz in ("", ".gz"))
TABLE_SUFFIXES = tuple(suffix + gz for suffix in (".csv", ".tsv") for gz in ("", ".gz"))
PARQUET_SUFFIX = ".parquet"
_BATCH_ROWS = 8192  # rows per batch read from a parquet file or a dataset


class SequenceSourceError(InputError, ValueError):
    """An input that cannot be read as sequences; the message names it and the line or row."""


def clean_bases(text: bytes, where: str) -> bytes:
    """``text``'s bases as FASTA stores them (upper case, whitespace dropped), or an error naming ``where`` and the
    first byte that is not an IUPAC code."""
    bases = text.translate(_CLEAN, _WHITESPACE)
    if 0 in bases:
        kept = text.translate(None, _WHITESPACE)
        byte = kept[bases.index(0)]
        shown = repr(chr(byte)) if 32 < byte < 127 else f"byte 0x{byte:02x}"
        raise SequenceSourceError(f"{where}: invalid character {shown} (allowed: IUPAC nucleotide codes "
                                  f"{IUPAC.decode()}, either case)")
    return bases


class _Source:
    """What the store needs of an input (see ``corpus_store.FastaSource``); subclasses yield (number, bytes) and
    set ``key_digest`` when ``digest`` is called (a file read as a stream digests its bytes as they go by)."""

    unit = "line"
    keyable = True

    def __init__(self, path: Path, label: str):
        self.path, self.label = path, label
        self.key_digest: str | None = None

    def entry(self) -> dict:
        """``corpus.json``'s record of this input, once read: the digest its key was made of."""
        return {"name": self.path.name, "bytes": None, "sha256": self.key_digest}

    def where(self, number: int) -> str:
        return f"{self.path}: {self.unit} {number}"

    def sequences(self) -> Iterator[tuple[int, bytes]]:
        raise NotImplementedError

    def read(self, out) -> Iterator[tuple[str, int, int, int]]:
        """Append each record's bases to ``out``; yield ``(name, line or row, start, length)`` as it goes (a list of
        millions of records is never held here)."""
        records = 0
        for number, text in self.sequences():
            start = len(out)
            out += clean_bases(text, self.where(number))
            records += 1
            yield f"{self.label}:{number}", number, start, len(out) - start
        if not records:
            raise SequenceSourceError(f"{self.path}: no sequences")


class _FileSource(_Source):
    """A text or table file: keyed by its bytes (and what is read of them), digested again while it is read, so a
    pipe works and a file changed after keying is caught."""

    kind = "text"

    def __init__(self, path: Path, label: str, column: str | None = None):
        super().__init__(path, label)
        self.column, self.reader = column, None

    @property
    def keyable(self) -> bool:
        return self.path.is_file()

    def digest(self, corpus_dir: Path) -> str:
        self.key_digest = _digest(self.kind, _file_digest(self.path, corpus_dir), self.column)
        return self.key_digest

    def entry(self) -> dict:
        return {"name": self.path.name, "bytes": self.reader.size,
                "sha256": _digest(self.kind, self.reader.sha256.hexdigest(), self.column)}

    def opened(self):
        self.reader = HashingReader(self.path)
        return open_unzipped(self.path, self.reader)


class TextSource(_FileSource):
    """One sequence per line."""

    def sequences(self) -> Iterator[tuple[int, bytes]]:
        with self.opened() as handle:
            for number, line in enumerate(handle, 1):
                if line.startswith(b">"):
                    raise SequenceSourceError(f"{self.where(number)}: a FASTA header line: give FASTA files with "
                                              "--genome")
                yield number, line


class TableSource(_FileSource):
    """The sequence column of a CSV/TSV(.gz) file with a header row; lines are the file's."""

    kind = "table"

    def sequences(self) -> Iterator[tuple[int, bytes]]:
        with self.opened() as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as handle, \
                _csv_fields_unlimited():
            reader = csv.reader(handle, delimiter=_delimiter(self.path))
            header = [name.strip() for name in next(_rows(reader, self.path), [])]
            if self.column not in header:
                raise SequenceSourceError(f"{self.where(1)}: no column {self.column!r} in the header {header}: name "
                                          "the sequence column with --sequence_column")
            at = header.index(self.column)
            for row in _rows(reader, self.path):
                if not row:
                    continue
                if len(row) != len(header):
                    raise SequenceSourceError(f"{self.where(reader.line_num)}: {len(row)} fields, the header has "
                                              f"{len(header)}")
                yield reader.line_num, _joined_kmers(row[at], self.where(reader.line_num)).encode("utf-8")


class ParquetSource(_Source):
    """The sequence column of a parquet file; rows count from 0."""

    unit = "row"

    def __init__(self, path: Path, label: str, column: str):
        super().__init__(path, label)
        self.column = column

    def digest(self, corpus_dir: Path) -> str:
        self.key_digest = _digest("parquet", _file_digest(self.path, corpus_dir), self.column)
        return self.key_digest

    def sequences(self) -> Iterator[tuple[int, bytes]]:
        from pyarrow import parquet

        try:
            table = parquet.ParquetFile(self.path)
        except Exception as error:  # noqa: BLE001 - pyarrow raises several types for a file that is not parquet
            raise SequenceSourceError(f"{self.path}: not a readable parquet file ({error})") from None
        names = table.schema_arrow.names
        if self.column not in names:
            raise SequenceSourceError(f"{self.path}: no column {self.column!r} among {names}: name the sequence "
                                      "column with --sequence_column")
        number = 0
        for batch in table.iter_batches(batch_size=_BATCH_ROWS, columns=[self.column]):
            yield from _cells(batch.column(0).to_pylist(), number, self.where)
            number += batch.num_rows


class DatasetSource(_Source):
    """The sequence column of one split of a Hugging Face dataset: a ``save_to_disk`` folder, a local folder of
    data files or a Hub id (streamed). Rows count from 0."""

    unit = "row"

    def __init__(self, name: str, config: str | None, split: str, column: str, revision: str | None):
        super().__init__(Path(name), Path(name).name)
        self.name, self.config, self.split, self.column, self.revision = name, config, split, column, revision
        self.folder = Path(name).expanduser()
        self.saved = (self.folder / "dataset_dict.json").is_file() or (self.folder / "state.json").is_file()
        self.commit: str | None = None

    def where(self, number: int) -> str:
        return f"dataset {self.name} (split {self.split}): row {number}"

    def digest(self, corpus_dir: Path) -> str:
        what = ("dataset", self.config, self.split, self.column)
        if self.folder.is_dir():  # every file, by content: a changed dataset is a new store
            files = sorted(path for path in self.folder.rglob("*") if path.is_file()
                           and not any(part.startswith(".") for part in path.relative_to(self.folder).parts))
            self.key_digest = _digest(*what, *(f"{path.relative_to(self.folder)}={_file_digest(path, corpus_dir)}"
                                               for path in files))
            return self.key_digest
        from huggingface_hub import HfApi

        try:
            self.commit = HfApi().dataset_info(self.name, revision=self.revision).sha
        except Exception as error:  # noqa: BLE001 - offline, unknown repo, gated: all mean "cannot be read"
            raise SequenceSourceError(f"--dataset_name {self.name}: no such local folder, and as a Hub dataset it "
                                      f"could not be resolved: {' '.join(str(error).split())}") from None
        self.key_digest = _digest(*what, "hub", self.name, self.commit)
        return self.key_digest

    def _rows(self):
        """The split, loaded (a saved folder) or streamed (data files, the Hub), with the sequence column only."""
        import datasets

        try:
            if self.saved:
                loaded = datasets.load_from_disk(str(self.folder))
            else:
                loaded = datasets.load_dataset(str(self.folder) if self.folder.is_dir() else self.name, self.config,
                                               split=self.split, streaming=True,
                                               revision=self.commit or self.revision)
        except (ValueError, FileNotFoundError, OSError) as error:
            raise SequenceSourceError(f"--dataset_name {self.name}: {' '.join(str(error).split())}") from None
        if isinstance(loaded, datasets.DatasetDict):
            if self.split not in loaded:
                raise SequenceSourceError(f"--dataset_name {self.name}: no split {self.split!r} (it has "
                                          f"{', '.join(loaded)}): choose one with --dataset_split")
            loaded = loaded[self.split]
        names = loaded.column_names or list(loaded.features or [])
        if self.column not in names:
            raise SequenceSourceError(f"--dataset_name {self.name}: split {self.split!r} has no column "
                                      f"{self.column!r} (columns: {names}): name it with --sequence_column")
        return loaded.select_columns([self.column])

    def sequences(self) -> Iterator[tuple[int, bytes]]:
        number = 0
        for batch in self._rows().iter(batch_size=_BATCH_ROWS):
            cells = batch[self.column]
            yield from _cells(cells, number, self.where)
            number += len(cells)


def _cells(cells: list, first: int, where) -> Iterator[tuple[int, bytes]]:
    """(row, bytes) of a column's cells from row ``first``: a missing value is an empty record (listed), text is
    encoded, anything else is an error naming the row."""
    for number, cell in enumerate(cells, first):
        if cell is None:
            yield number, b""
        elif isinstance(cell, str):
            yield number, _joined_kmers(cell, where(number)).encode("utf-8")
        else:
            raise SequenceSourceError(f"{where(number)}: the sequence column holds {type(cell).__name__} "
                                      f"{str(cell)[:40]!r}, not text")


def _joined_kmers(cell: str, where: str) -> str:
    """A cell's bases: DNABERT's space-separated overlapping k-mers joined back (as task files are read)."""
    cell = cell.strip()
    if " " not in cell and "\t" not in cell:
        return cell
    try:
        return join_spaced_kmers(cell.split())
    except ValueError as error:
        raise SequenceSourceError(f"{where}: the sequence holds {error}") from None


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


SEQUENCE_COLUMN_HELP = "the column of a table (or a dataset) that holds the DNA"
"""``--sequence_column``'s help wherever a command reads tables (pretraining's corpus, embed's input)."""


@dataclass(kw_only=True)
class SequenceSourceOptions:
    """The inputs besides ``--genome``, as options of ``examples/pretrain.py`` (through ``GenomeDataConfig``) and
    ``examples/prepare_corpus.py``. Their content, not these names, is what a resume compares. Keyword-only, so
    that a subclass's own fields keep their positions (``GenomeDataConfig("genome.fa")``)."""

    train_file: list[str] = field(default_factory=list, metadata={
        "help": "sequence files, as run_mlm.py names them: text (.txt/.seq, one sequence per line), tables "
                "(.csv/.tsv/.parquet: only --sequence_column is read, labels never), a task folder (its train file "
                "only) or FASTA; optionally .gz"})
    dataset_name: str | None = field(default=None, metadata={
        "help": "a Hugging Face dataset: a save_to_disk folder, a local folder of data files, or a Hub id (its "
                "split is streamed into the prepared corpus)"})
    dataset_config_name: str | None = field(default=None, metadata={"help": "the dataset's configuration"})
    dataset_split: str = field(default="train", metadata={"help": "the dataset's split read as the corpus"})
    dataset_revision: str | None = field(default=None, metadata={"help": "the Hub dataset's branch, tag or commit"})
    sequence_column: str = field(default="sequence", metadata={"help": SEQUENCE_COLUMN_HELP})

    def __post_init__(self):
        self.train_file = [self.train_file] if isinstance(self.train_file, (str, Path)) else list(self.train_file)

    def given(self) -> bool:
        """Whether any input besides FASTA is given (else the embedded genome is the default corpus)."""
        return bool(self.train_file or self.dataset_name)

    def sources(self, genome_paths: list) -> list:
        """Every input, in mix order: ``genome_paths`` (FASTA), the train files, the dataset."""
        return corpus_sources(genome_paths, self.train_file, self.dataset_name, self.dataset_config_name,
                              self.dataset_split, self.dataset_revision, self.sequence_column)

    def command_line(self) -> str:
        """These options as they would be given again (for the next command a tool prints)."""
        defaults = SequenceSourceOptions()
        given = [f"--{name} {' '.join(value) if isinstance(value, list) else value}"
                 for name, value in vars(self).items() if value and value != getattr(defaults, name)]
        return " ".join(given)


def _train_file_sources(path: Path, label: str, column: str) -> list:
    """The source(s) of one ``--train_file``: by suffix, or a task folder's train file."""
    if path.is_dir():
        found = find_split_file(path, "train") or (path / "train.parquet" if (path / "train.parquet").is_file()
                                                   else None)
        if found is None:
            raise FileNotFoundError(f"--train_file {path}: the folder holds no train.csv, train.tsv(.gz) or "
                                    "train.parquet (only a task's training split is read, never dev or test)")
        path, label = found, f"{path.name}/{found.name}"
    elif not path.exists():
        raise FileNotFoundError(f"--train_file {path}: no such file or folder")
    name = path.name.lower()
    if name.endswith(TEXT_SUFFIXES):
        return [TextSource(path, label)]
    if name.endswith(TABLE_SUFFIXES):
        return [TableSource(path, label, column)]
    if name.endswith(PARQUET_SUFFIX):
        return [ParquetSource(path, label, column)]
    if name.endswith(FASTA_SUFFIXES):
        return [FastaSource(file) for file in fasta_files(path)]
    raise SequenceSourceError(f"--train_file {path}: unknown kind of file; give text ({', '.join(TEXT_SUFFIXES)}), "
                              f"a table ({', '.join(TABLE_SUFFIXES)}, {PARQUET_SUFFIX}), a task folder or FASTA")


def corpus_sources(genome_paths: list, train_files: list[str], dataset_name: str | None,
                   dataset_config_name: str | None = None, dataset_split: str = "train",
                   dataset_revision: str | None = None, sequence_column: str = "sequence") -> list:
    """Every input of a corpus, in mix order: FASTA files, train files, the dataset. Missing files are errors here,
    before anything is read."""
    sources: list = [FastaSource(path) for path in fasta_files(genome_paths)] if genome_paths else []
    labels: set[str] = set()
    for given in train_files:
        path = Path(given).expanduser()
        label = path.name if path.name not in labels else str(path)  # record names stay unique
        labels.add(label)
        sources += _train_file_sources(path, label, sequence_column)
    if dataset_name is not None:
        sources.append(DatasetSource(dataset_name, dataset_config_name, dataset_split, sequence_column,
                                     dataset_revision))
    return sources
