"""Embedding files written as results stream in, so outputs larger than memory never need to be held whole.

The output's suffix picks the format:

- ``.npy``: one float32 array, ``[sequences, hidden]`` or per base ``[total bases, hidden]`` (records' rows one after
  another), written through a memory map; beside it ``<output>.ids.tsv`` (id, length, first row).
- ``.safetensors``: tensor ``embeddings`` ``[sequences, hidden]``, or per base one ``[length, hidden]`` tensor per
  record named by its id; the header is written first (every shape is known in advance), then the data through a
  memory map; the same ``.ids.tsv`` beside it. Loads with ``safetensors.torch.load_file``.
- ``.parquet``: a table (``datasets.Dataset.from_parquet`` or pandas read it) with ``id`` and ``embedding``
  (fixed-size list of float32) and, per base, ``position`` (0-based) and ``base``; a table input's other columns
  (e.g. labels) are kept in the per-sequence table. Written in row groups.

Every file is written under a unique partial name and appears only when complete (``data.output_files``). Record ids
and table columns that would take one of the format's own names are refused (``check_names``).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

from ..data.options import InputError, OptionError
from ..data.output_files import PartialFile, check_new_outputs, written_error
from .sequences import Sequences

OUTPUT_SUFFIXES = (".npy", ".safetensors", ".parquet")
_ROW_GROUP = 65_536


def ids_file(output: str | os.PathLike) -> Path:
    """``<output>.ids.tsv``: the record ids beside a ``.npy`` or ``.safetensors`` output."""
    return Path(f"{output}.ids.tsv")


def check_suffix(output: str | os.PathLike) -> None:
    """Refuse an output whose suffix names no format (``ValueError``: a usage error of ``--output``)."""
    if Path(output).suffix not in OUTPUT_SUFFIXES:
        raise OptionError(f"--output {output}: the output suffix must be one of {', '.join(OUTPUT_SUFFIXES)} (it picks the "
                         "format)")


def output_files(output: str | os.PathLike) -> list[Path]:
    """Every file an output writes: itself, and beside a ``.npy`` or ``.safetensors`` its ids file."""
    path = Path(output)
    return [path] if path.suffix == ".parquet" else [path, ids_file(path)]


def check_output(output: str | os.PathLike, overwrite: bool, inputs: tuple[str | os.PathLike, ...] = ()) -> Path:
    """Before anything runs: refuse an unknown suffix, an output that is an input, a missing folder, or (unless
    ``overwrite``) an output or ids file that exists."""
    check_suffix(output)
    check_new_outputs(output_files(output), overwrite, inputs)
    return Path(output)


class NameCollisionError(InputError, ValueError):
    """A record id or table column would take the name of one of the output format's own entries."""


def check_names(output: str | os.PathLike, sequences: Sequences, per_base: bool) -> None:
    """Refuse record ids or table columns the output could not hold apart from its own entries: per-base
    ``.safetensors`` tensors are named by record id (``__metadata__`` is the header's entry; ids must differ); a
    per-sequence ``.parquet`` table's own columns are ``id`` and ``embedding``."""
    path = Path(output)
    if path.suffix == ".safetensors" and per_base:
        taken = {"__metadata__"} & set(sequences.names)
        if taken or len(set(sequences.names)) < len(sequences.names):
            what = "record id '__metadata__' is the safetensors header's key" if taken else "record ids repeat"
            raise NameCollisionError(f"{path}: per-base tensors are named by record id, and {what}: rename the "
                                     "record(s), or write .npy or .parquet")
    clash = [name for name in sequences.columns if name in ("id", "embedding")]
    if path.suffix == ".parquet" and not per_base and clash:  # per-base tables keep no input columns
        raise NameCollisionError(f"{path}: the input table's column(s) {clash} would take the name of the "
                                 "output's own column (id: the record, <file>:<line>; embedding): rename them in "
                                 "the table")


class _Writer:
    """Base: rows arrive as ``write(record, first_base, rows)`` in record order; ``files`` lists what is written.
    Every file is written under a unique partial name and moved into place only when the ``with`` block ends
    without error (``data.output_files``): an interrupted run leaves no output, and no zeros that look like one."""

    def __init__(self, path: Path, sequences: Sequences, dim: int, per_base: bool, overwrite: bool):
        self.sequences, self.dim, self.per_base = sequences, dim, per_base
        self.row_counts = sequences.lengths if per_base else np.ones(len(sequences), dtype=np.int64)
        self.first_rows = np.cumsum(self.row_counts) - self.row_counts
        self.rows = 0
        self.files = output_files(path)
        self.partials = [PartialFile(file, overwrite) for file in self.files]
        self.path = self.partials[0].temp  # where the rows go until the end
        try:
            self._open(path.suffix)
        except BaseException as error:  # e.g. a full disk or a file-size limit while sizing: no partial file stays
            self._discard()
            if isinstance(error, OSError):
                raise written_error(path, error) from None
            raise

    def _open(self, suffix: str) -> None:
        """Create the partial files (the writer is ready for ``write``)."""

    def _discard(self) -> None:
        for partial in self.partials:
            partial.discard()

    def __enter__(self):
        return self

    def __exit__(self, error_type, error, _) -> None:
        try:
            self.close()
            if isinstance(error, OSError):
                raise error
            if error_type is None:
                for partial in self.partials:
                    partial.commit()
        except OSError as failed:
            converted = written_error(self.files[0], failed)
            if converted is not failed:
                raise converted from None
            raise
        finally:
            self._discard()

    def close(self) -> None:
        pass

    def _write_ids(self) -> None:
        lines = ["id\tlength\tfirst_row"] + [f"{i}\t{n}\t{r}" for i, n, r in
                                             zip(self.sequences.names, self.sequences.lengths, self.first_rows)]
        self.partials[1].temp.write_text("\n".join(lines) + "\n", encoding="utf-8")


class _MemmapWriter(_Writer):
    """``.npy`` and ``.safetensors``: rows go to their place in one ``[total rows, dim]`` float32 memory map."""

    def _open(self, suffix: str) -> None:
        total = int(self.row_counts.sum())
        if suffix == ".npy":
            self.array = np.lib.format.open_memmap(self.path, mode="w+", dtype=np.float32, shape=(total, self.dim))
        else:
            self.array = self._safetensors(total)
        self.partials[0].reserve()
        self._write_ids()

    def _safetensors(self, total: int) -> np.memmap:
        """Write the header (tensor names, shapes and byte ranges) and size the file; map its data section."""
        row_bytes = 4 * self.dim
        if self.per_base:
            ends = np.cumsum(self.row_counts) * row_bytes
            tensors = {name: {"dtype": "F32", "shape": [int(n), self.dim], "data_offsets": [int(e - n * row_bytes), int(e)]}
                       for name, n, e in zip(self.sequences.names, self.row_counts, ends)}
        else:
            tensors = {"embeddings": {"dtype": "F32", "shape": [total, self.dim], "data_offsets": [0, total * row_bytes]}}
        header = json.dumps({"__metadata__": {"format": "pt"}, **tensors}).encode("utf-8")
        header += b" " * (-len(header) % 8)  # the data section starts 8-byte aligned
        with open(self.path, "wb") as handle:
            handle.write(struct.pack("<Q", len(header)) + header)
            handle.truncate(8 + len(header) + total * row_bytes)
        return np.memmap(self.path, dtype=np.float32, mode="r+", offset=8 + len(header), shape=(total, self.dim))

    def write(self, record: int, first_base: int, rows: np.ndarray) -> None:
        start = int(self.first_rows[record]) + first_base
        self.array[start : start + len(rows)] = rows
        self.rows += len(rows)

    def close(self) -> None:
        self.array.flush()
        del self.array


class _ParquetWriter(_Writer):
    """``.parquet``: rows buffered into row groups, in record order."""

    def _open(self, suffix: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        fields = [pa.field("id", pa.string())]
        fields += [pa.field("position", pa.int64()), pa.field("base", pa.string())] if self.per_base else \
            [pa.field(name, pa.string()) for name in self.sequences.columns]
        self.schema = pa.schema([*fields, pa.field("embedding", pa.list_(pa.float32(), self.dim))])
        self.writer = pq.ParquetWriter(self.path, self.schema)
        self.buffer: list[tuple[int, int, np.ndarray]] = []
        self.buffered = 0

    def write(self, record: int, first_base: int, rows: np.ndarray) -> None:
        self.buffer.append((record, first_base, rows))
        self.buffered += len(rows)
        self.rows += len(rows)
        if self.buffered >= _ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if not self.buffer:
            return
        pa = self.pa
        records = np.concatenate([np.full(len(rows), record) for record, _, rows in self.buffer])
        rows = np.concatenate([rows for _, _, rows in self.buffer]).astype(np.float32, copy=False)
        columns = {"id": pa.array([self.sequences.names[r] for r in records.tolist()], pa.string())}
        if self.per_base:
            positions = np.concatenate([np.arange(first, first + len(rows)) for _, first, rows in self.buffer])
            bases = self.sequences.sequence[self.sequences.starts[records] + positions]
            columns["position"] = pa.array(positions, pa.int64())
            columns["base"] = pa.array(bases.view("S1").astype(str), pa.string())
        else:
            for name, values in self.sequences.columns.items():
                columns[name] = pa.array([values[r] for r in records.tolist()], pa.string())
        columns["embedding"] = pa.FixedSizeListArray.from_arrays(pa.array(rows.reshape(-1)), self.dim)
        self.writer.write_table(pa.table(columns, schema=self.schema))
        self.buffer, self.buffered = [], 0

    def close(self) -> None:
        try:
            self._flush()
        finally:
            self.writer.close()  # also after a failed write: the file is closed (a full disk is freed)


def open_writer(output: str | os.PathLike, sequences: Sequences, dim: int, per_base: bool, overwrite: bool = False
                ) -> _Writer:
    """A writer for ``output`` (format by suffix, module docstring); use it as a context manager: the files appear
    when it ends without error (an existing one is replaced only with ``overwrite``)."""
    check_names(output, sequences, per_base)
    path = Path(output)
    writer = _ParquetWriter if path.suffix == ".parquet" else _MemmapWriter
    return writer(path, sequences, dim, per_base, overwrite)
