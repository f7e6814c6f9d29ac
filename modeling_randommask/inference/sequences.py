"""DNA to run a model on, from any of the inputs users have: FASTA(.gz) files (any number of records), a task
CSV/TSV(.gz) file with a ``sequence`` column, or Python strings; all held as ``data.fasta.Sequences`` (a FASTA input
is the ``Genome`` read from it, as it is).

Rules are the package's: FASTA under ``data.fasta`` (lower case read as upper case, IUPAC codes kept, empty records
skipped with a warning; errors name the file and line), tables under ``data.tasks`` (errors name the line; their
other columns, e.g. labels, are kept for table outputs), strings must be ASCII letters (errors name the item).
Record names: FASTA names, ``<file>:<line>`` for table rows, ``"0"``, ``"1"``, ... for strings.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.fasta import COMPLEMENT, Sequences, read_genome
from ..data.options import InputError
from ..data.tasks import read_sequence_file

TABLE_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")


class SequenceError(InputError, ValueError):
    """Sequences that cannot be run as given (none, or one shorter than a k-mer); the message names them."""


def from_strings(sequences: Sequence[str], names: Sequence[str] | None = None) -> Sequences:
    """Strings of bases (any case; IUPAC letters become [UNK] k-mers); refuses anything but ASCII letters."""
    if isinstance(sequences, str):
        raise TypeError("expected a list of DNA strings, got one str (wrap it in a list)")
    for index, sequence in enumerate(sequences):
        if not isinstance(sequence, str):
            raise TypeError(f"sequence {index} is {type(sequence).__name__}, expected a DNA string")
        if not (sequence.isascii() and sequence.isalpha()):
            raise ValueError(f"sequence {index} holds characters other than ASCII letters: {sequence!r:.60}")
    names = [str(i) for i in range(len(sequences))] if names is None else [str(i) for i in names]
    if len(names) != len(sequences):
        raise ValueError(f"{len(names)} names for {len(sequences)} sequences")
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    bases = np.frombuffer("".join(sequences).upper().encode("ascii"), dtype=np.uint8)
    return Sequences(bases, names, np.cumsum(lengths) - lengths, lengths)


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
    return read_genome(path)


def reverse_complement(bases: np.ndarray) -> np.ndarray:
    """Reverse complement of uint8 ASCII bases along the last axis (IUPAC aware; N stays N)."""
    return COMPLEMENT[bases[..., ::-1]]
