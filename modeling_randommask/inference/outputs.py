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
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

from .sequences import Sequences

OUTPUT_SUFFIXES = (".npy", ".safetensors", ".parquet")
_ROW_GROUP = 65_536


def ids_file(output: str | os.PathLike) -> Path:
    """``<output>.ids.tsv``: the record ids beside a ``.npy`` or ``.safetensors`` output."""
    return Path(f"{output}.ids.tsv")


def check_output(output: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse an unknown suffix, or (unless ``overwrite``) an output or ids file that exists; before anything runs."""
    path = Path(output)
    if path.suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f"{path}: output suffix must be one of {', '.join(OUTPUT_SUFFIXES)} (it picks the format)")
    existing = [p for p in (path, ids_file(path)) if p.exists() and (p == path or path.suffix != ".parquet")]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} exists: pass --overwrite to replace it")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path.parent}: output folder does not exist")
    return path


class _Writer:
    """Base: rows arrive as ``write(record, first_base, rows)`` in record order; ``files`` lists what was written."""

    def __init__(self, path: Path, sequences: Sequences, dim: int, per_base: bool):
        self.path, self.sequences, self.dim, self.per_base = path, sequences, dim, per_base
        self.row_counts = sequences.lengths if per_base else np.ones(len(sequences), dtype=np.int64)
        self.first_rows = np.cumsum(self.row_counts) - self.row_counts
        self.rows = 0
        self.files = [path]

    def __enter__(self):
        return self

    def __exit__(self, *error) -> None:
        self.close()

    def close(self) -> None:
        pass

    def _write_ids(self) -> None:
        lines = ["id\tlength\tfirst_row"] + [f"{i}\t{n}\t{r}" for i, n, r in
                                             zip(self.sequences.ids, self.sequences.lengths, self.first_rows)]
        ids_file(self.path).write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.files.append(ids_file(self.path))


class _MemmapWriter(_Writer):
    """``.npy`` and ``.safetensors``: rows go to their place in one ``[total rows, dim]`` float32 memory map."""

    def __init__(self, path: Path, sequences: Sequences, dim: int, per_base: bool):
        super().__init__(path, sequences, dim, per_base)
        total = int(self.row_counts.sum())
        if path.suffix == ".npy":
            self.array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(total, dim))
        else:
            self.array = self._safetensors(total)
        self._write_ids()

    def _safetensors(self, total: int) -> np.memmap:
        """Write the header (tensor names, shapes and byte ranges) and size the file; map its data section."""
        row_bytes = 4 * self.dim
        if self.per_base:
            ends = np.cumsum(self.row_counts) * row_bytes
            tensors = {name: {"dtype": "F32", "shape": [int(n), self.dim], "data_offsets": [int(e - n * row_bytes), int(e)]}
                       for name, n, e in zip(self.sequences.ids, self.row_counts, ends)}
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

    def __init__(self, path: Path, sequences: Sequences, dim: int, per_base: bool):
        import pyarrow as pa
        import pyarrow.parquet as pq

        super().__init__(path, sequences, dim, per_base)
        self.pa = pa
        fields = [pa.field("id", pa.string())]
        fields += [pa.field("position", pa.int64()), pa.field("base", pa.string())] if per_base else \
            [pa.field(name, pa.string()) for name in sequences.columns]
        self.schema = pa.schema([*fields, pa.field("embedding", pa.list_(pa.float32(), dim))])
        self.writer = pq.ParquetWriter(path, self.schema)
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
        columns = {"id": pa.array([self.sequences.ids[r] for r in records.tolist()], pa.string())}
        if self.per_base:
            positions = np.concatenate([np.arange(first, first + len(rows)) for _, first, rows in self.buffer])
            bases = self.sequences.bases[self.sequences.starts[records] + positions]
            columns["position"] = pa.array(positions, pa.int64())
            columns["base"] = pa.array(bases.view("S1").astype(str), pa.string())
        else:
            for name, values in self.sequences.columns.items():
                columns[name] = pa.array([values[r] for r in records.tolist()], pa.string())
        columns["embedding"] = pa.FixedSizeListArray.from_arrays(pa.array(rows.reshape(-1)), self.dim)
        self.writer.write_table(pa.table(columns, schema=self.schema))
        self.buffer, self.buffered = [], 0

    def close(self) -> None:
        self._flush()
        self.writer.close()


def open_writer(output: str | os.PathLike, sequences: Sequences, dim: int, per_base: bool) -> _Writer:
    """A writer for ``output`` (format by suffix, module docstring); use it as a context manager."""
    path = Path(output)
    writer = _ParquetWriter if path.suffix == ".parquet" else _MemmapWriter
    return writer(path, sequences, dim, per_base)
