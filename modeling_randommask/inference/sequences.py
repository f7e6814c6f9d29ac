"""DNA to run a model on, from any of the inputs users have: FASTA(.gz) files (any number of records), a task
CSV/TSV(.gz) file with a ``sequence`` column, or Python strings; held as one uint8 array of upper-case bases.

Rules are the package's: FASTA under ``data.fasta`` (lower case read as upper case, IUPAC codes kept, empty records
skipped with a warning; errors name the file and line), tables under ``data.tasks`` (errors name the line; their
other columns, e.g. labels, are kept for table outputs), strings must be ASCII letters (errors name the item).
Record ids: FASTA names, ``<file>:<line>`` for table rows, ``"0"``, ``"1"``, ... for strings.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.fasta import COMPLEMENT, read_genome
from ..data.options import InputError
from ..data.tasks import read_sequence_file

TABLE_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")


class SequenceError(InputError, ValueError):
    """Sequences that cannot be run as given (none, or one shorter than a k-mer); the message names them."""


@dataclass
class Sequences:
    """Records ``ids[i]`` = ``bases[starts[i] : starts[i] + lengths[i]]`` (upper-case ASCII, uint8); ``columns``
    holds extra per-record values from a table input (column name -> one string per record)."""

    ids: list[str]
    bases: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    columns: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def record(self, index: int) -> np.ndarray:
        return self.bases[self.starts[index] : self.starts[index] + self.lengths[index]]


def from_strings(sequences: Sequence[str], ids: Sequence[str] | None = None) -> Sequences:
    """Strings of bases (any case; IUPAC letters become [UNK] k-mers); refuses anything but ASCII letters."""
    if isinstance(sequences, str):
        raise TypeError("expected a list of DNA strings, got one str (wrap it in a list)")
    for index, sequence in enumerate(sequences):
        if not isinstance(sequence, str):
            raise TypeError(f"sequence {index} is {type(sequence).__name__}, expected a DNA string")
        if not (sequence.isascii() and sequence.isalpha()):
            raise ValueError(f"sequence {index} holds characters other than ASCII letters: {sequence!r:.60}")
    ids = [str(i) for i in range(len(sequences))] if ids is None else [str(i) for i in ids]
    if len(ids) != len(sequences):
        raise ValueError(f"{len(ids)} ids for {len(sequences)} sequences")
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    bases = np.frombuffer("".join(sequences).upper().encode("ascii"), dtype=np.uint8)
    return Sequences(ids, bases, np.cumsum(lengths) - lengths, lengths)


def read_sequences(source: str | os.PathLike | Sequence[str], sequence_column: str = "sequence") -> Sequences:
    """``source``: a FASTA(.gz) file or folder, a CSV/TSV(.gz) table (``sequence_column`` holds the DNA), or a
    list of DNA strings."""
    if not isinstance(source, (str, os.PathLike)):
        return from_strings(source)
    path = Path(source)
    if path.name.lower().endswith(TABLE_SUFFIXES):
        sequences, lines, columns = read_sequence_file(path, sequence_column)
        table = from_strings(sequences, [f"{path.name}:{line}" for line in lines])
        table.columns = columns
        return table
    genome = read_genome(path)
    return Sequences(list(genome.names), genome.sequence, genome.starts, genome.lengths)


def reverse_complement(bases: np.ndarray) -> np.ndarray:
    """Reverse complement of uint8 ASCII bases along the last axis (IUPAC aware; N stays N)."""
    return COMPLEMENT[bases[..., ::-1]]
