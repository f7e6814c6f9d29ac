"""Fine-tuning task folders (GUE layout) -> checked sequences and labels -> tokenized `datasets`.

A task folder holds ``train``, ``dev`` and ``test`` files, each ``.csv``, ``.tsv``, ``.csv.gz`` or ``.tsv.gz``
with a header row naming a ``sequence`` column and one or more label columns. Rules, all enforced with errors
that name the file and line:

* ``test`` is required. ``dev`` may be absent (the task then has no validation split). A missing ``train``
  is an error unless ``missing_train="use_dev"`` is passed: the dev file then becomes the training split and
  the task has no validation split left (GUE's EMP/H3 copy here ships only dev and test).
* Task kind (``kind="auto"``): several label columns -> regression; one column whose every training cell is a
  string of digits as long as its sequence (``0001100...``: one class per base) -> ``token`` (base-level
  classification with up to 10 classes, see ``base_labels``); one column of integers that are exactly 0..C-1 in
  the training split -> classification with C classes (``binary`` when C == 2, ``multiclass`` above); decimal
  numbers -> regression. Integers that are not 0..C-1 are an error (relabel them or pass ``kind="regression"``).
  An explicit ``kind`` overrides the detection.
* A class seen in dev/test but not in train is an error, as are empty sequences, non-numeric or non-finite
  labels and sequences holding anything but letters. Letters other than A/C/G/T/N (RNA's U, IUPAC codes, protein
  letters) are kept, but their k-mers become [UNK]: a warning (and a note in the task) gives their share per split.
* Fields have no size limit (Python's csv module stops at 131,072 characters by default).
* DNABERT's own TSV files store each sequence as space-separated overlapping k-mers. They are joined back
  into bases (first k-mer, then the last base of each following k-mer) after checking that every k-mer
  overlaps the next by k-1 bases; anything else with inner spaces is an error. Joining is lossless, so a
  DNABERT file and its plain-base twin load to the same task.

Sequences longer than the model (``too_long``): ``"truncate"`` (default, as DNABERT's fine-tuning scripts do)
keeps the first tokens and logs a warning with the count per split; ``"error"`` refuses.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from ..tokenization.tokenization_kmer import join_spaced_kmers
from .base_labels import token_labels
from .fasta import letter_counts, open_unzipped
from .options import InputError

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
ALL_COLUMNS = "all"
"""Pass as ``label_columns`` to use every column except the sequence column as a regression target."""

_DELIMITERS = {".csv": ",", ".tsv": "\t"}
_INTEGER = re.compile(r"[+-]?\d+")
_NO_LIMIT = int(1e12)  # transformers uses a huge integer for "model_max_length unknown"
_CSV_FIELD_LIMIT = 2**31 - 1  # csv's own limit is a C long; 131,072 by default
_PROTEIN_ONLY = set("EFIJLOPQXZ")  # letters of protein sequences that are no IUPAC nucleotide code

class TaskFileError(InputError, ValueError):
    """A task file (or folder) that breaks the rules above; the message names the file and, where one is at fault,
    the line."""


TaskKind = Literal["binary", "multiclass", "regression", "token"]
_KINDS = ("auto", *get_args(TaskKind))


@dataclass
class TaskData:
    """One task's checked splits. ``labels[split]`` is int64 ``[N]`` for classification, float32 ``[N]`` for
    one regression target, float32 ``[N, T]`` for several, and for ``token`` tasks int8 ``[bases]``: every
    sequence's per-base labels, concatenated in order. ``lines[split][i]`` is the file line of row i."""

    name: str
    path: Path
    kind: TaskKind
    label_names: list[str]
    sequences: dict[str, list[str]]
    labels: dict[str, np.ndarray]
    files: dict[str, Path]
    lines: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(s for s in SPLITS if s in self.sequences)

    @property
    def num_labels(self) -> int:
        """Classes for classification, targets for regression (the model head's output width)."""
        return len(self.label_names)

    @property
    def problem_type(self) -> str | None:
        """The value transformers expects in ``config.problem_type`` (None for token tasks: no such setting)."""
        return {"regression": "regression", "token": None}.get(self.kind, "single_label_classification")

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.label_names))

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.label_names)}

    @property
    def max_bases(self) -> int:
        return max(max(map(len, seqs)) for seqs in self.sequences.values())

    def where(self, split: str, index: int) -> str:
        """``file:line N`` of row ``index`` of ``split``, for messages."""
        return f"{self.files[split]}: line {int(self.lines[split][index])}"


@dataclass
class _RawSplit:
    path: Path
    sequences: list[str]
    cells: list[list[str]]  # label cells per row, in label-column order
    lines: np.ndarray
    label_columns: list[str]


def find_split_file(folder: str | os.PathLike, split: str) -> Path | None:
    """The file holding ``split`` in ``folder`` (any supported suffix), None if absent, error if ambiguous."""
    folder = Path(folder)
    found = [folder / f"{split}{ext}{gz}" for ext in _DELIMITERS for gz in ("", ".gz")]
    found = [p for p in found if p.is_file()]
    if len(found) > 1:
        raise TaskFileError(f"{folder}: several files for split {split!r}: {[p.name for p in found]}; keep one")
    return found[0] if found else None


def _delimiter(path: Path) -> str:
    return _DELIMITERS[Path(path.name.removesuffix(".gz")).suffix]


def _unreadable(path: Path, error: Exception) -> TaskFileError:
    """Error path: re-read the raw lines to name the first that is not UTF-8 or where a gzip stream breaks."""
    line = 0
    try:
        with open_unzipped(path) as raw:
            for line, data in enumerate(raw, 1):
                data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return TaskFileError(f"{path}: line {line}: not UTF-8 text ({bad})")
    except (EOFError, OSError, zlib.error):
        pass
    return TaskFileError(f"{path}: line {line + 1}: unreadable data: truncated or corrupt gzip? ({error})")


def _rows(reader, path: Path):
    """``reader``'s rows; undecodable text or a broken gzip stream becomes an error naming the file and line."""
    try:
        yield from reader
    except (UnicodeDecodeError, EOFError, OSError, zlib.error) as error:
        raise _unreadable(path, error) from error


@contextmanager
def _csv_fields_unlimited() -> Iterator[None]:
    """Lift the csv module's process-wide field size limit while one file is read (a chromosome-sized sequence
    would stop at 131,072 characters), then restore it."""
    previous = csv.field_size_limit(_CSV_FIELD_LIMIT)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _read_split(path: Path, sequence_column: str, label_columns: str | Sequence[str],
                require_labels: bool = True) -> _RawSplit:
    delimiter = _delimiter(path)
    sequences: list[str] = []
    cells: list[list[str]] = []
    lines: list[int] = []
    joined_kmers = blank = 0
    with open_unzipped(path) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as handle, \
            _csv_fields_unlimited():
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(_rows(reader, path), None)
        if header is None:
            raise TaskFileError(f"{path}: file is empty (expected a header row naming {sequence_column!r})")
        header = [h.strip() for h in header]
        if len(set(header)) != len(header):
            raise TaskFileError(f"{path}: line 1: duplicate column names in header {header}")
        if sequence_column not in header:
            other, suffix = ("\t", ".tsv") if delimiter == "," else (",", ".csv")
            hint = f" (it looks {other!r}-separated: name the file {suffix})" if other in header[0] else ""
            raise TaskFileError(f"{path}: line 1: no {sequence_column!r} column in header {header}{hint}")
        if label_columns == ALL_COLUMNS:
            targets = [h for h in header if h != sequence_column]
        else:
            targets = [label_columns] if isinstance(label_columns, str) else list(label_columns)
        missing = [c for c in targets if c not in header]
        if missing or (require_labels and not targets):
            raise TaskFileError(f"{path}: line 1: label column(s) {missing or targets} not in header {header}")
        seq_at = header.index(sequence_column)
        label_at = [header.index(c) for c in targets]
        for row in _rows(reader, path):
            line = reader.line_num
            if not row:
                blank += 1
                continue
            if len(row) != len(header):
                raise TaskFileError(f"{path}: line {line}: {len(row)} fields, header has {len(header)}")
            seq = row[seq_at].strip()
            if not seq:
                raise TaskFileError(f"{path}: line {line}: empty sequence")
            if " " in seq or "\t" in seq:  # a sequence cell holds no whitespace, only DNABERT's k-mer format
                try:
                    seq = join_spaced_kmers(seq.split())
                except ValueError as error:
                    raise TaskFileError(f"{path}: line {line}: sequence holds {error}") from None
                joined_kmers += 1
            if not (seq.isascii() and seq.isalpha()):
                bad = next(c for c in seq if not (c.isascii() and c.isalpha()))
                raise TaskFileError(f"{path}: line {line}: sequence holds {bad!r}; expected letters (bases) only")
            sequences.append(seq)
            cells.append([row[i].strip() for i in label_at])
            lines.append(line)
    if not sequences:
        raise TaskFileError(f"{path}: no data rows after the header")
    if joined_kmers:
        logger.info("%s: %d sequences were space-separated overlapping k-mers (DNABERT format); joined back "
                    "into bases", path, joined_kmers)
    if blank:
        logger.info("%s: skipped %d blank line(s)", path, blank)
    return _RawSplit(path, sequences, cells, np.asarray(lines, dtype=np.int64), targets)


def _letters_note(raw: _RawSplit) -> str | None:
    """A note when the split holds letters other than A/C/G/T/N (counted in one vectorised pass), with their share
    of all bases and what they suggest: U is RNA, letters that are no nucleotide code are protein."""
    codes = np.frombuffer("".join(raw.sequences).upper().encode("ascii"), dtype=np.uint8)
    other = codes[~np.isin(codes, np.frombuffer(b"ACGTN", dtype=np.uint8))]
    if not other.size:
        return None
    found = letter_counts(other)
    chars = {char for _, char in found}
    hints = (["U: RNA? write T for U"] if "U" in chars else []) + (
        ["letters that are no nucleotide code: protein?"] if chars & _PROTEIN_ONLY else [])
    listed = ", ".join(f"{char} {count:,}" for count, char in found[:8])
    return (f"{raw.path.name}: {other.size / codes.size:.1%} of the bases are not A/C/G/T/N ({listed}); the k-mers "
            f"holding them become [UNK]" + (f" ({'; '.join(hints)})" if hints else ""))


def read_sequence_file(path: str | os.PathLike, sequence_column: str = "sequence"
                       ) -> tuple[list[str], np.ndarray, dict[str, list[str]]]:
    """One CSV/TSV(.gz) file read under the task-file rules (header row, DNABERT k-mers joined back, errors naming
    the line), with or without label columns: its sequences, their file lines, and every other column's cells."""
    raw = _read_split(Path(path), sequence_column, ALL_COLUMNS, require_labels=False)
    columns = {name: [row[i] for row in raw.cells] for i, name in enumerate(raw.label_columns)}
    return raw.sequences, raw.lines, columns


def _parse_numbers(raw: _RawSplit) -> np.ndarray:
    """Label cells as float64 ``[N, T]``; errors name the first empty, non-numeric or non-finite cell."""
    try:
        values = np.asarray(raw.cells, dtype=np.float64)
    except ValueError:
        values = None
    if values is None or not np.isfinite(values).all():
        for row, line in zip(raw.cells, raw.lines):
            for column, cell in zip(raw.label_columns, row):
                try:
                    number = float(cell)
                except ValueError:
                    number = None
                if number is None or not np.isfinite(number):
                    what = ("missing" if not cell else f"not a number ({cell!r}): labels are numbers, classes "
                            "written 0..C-1 (e.g. 0 for no, 1 for yes)" if number is None else f"not finite ({cell!r})")
                    raise TaskFileError(f"{raw.path}: line {line}: label {column!r} is {what}")
    return values


def _is_integer_text(raw: _RawSplit) -> bool:
    return all(_INTEGER.fullmatch(row[0]) for row in raw.cells)


def _class_ids(raw: _RawSplit, values: np.ndarray) -> np.ndarray:
    ids = values[:, 0]
    fractional = np.flatnonzero(ids != np.round(ids))
    if fractional.size:
        i = fractional[0]
        raise TaskFileError(f"{raw.path}: line {raw.lines[i]}: class label {raw.cells[i][0]!r} is not a whole number")
    return ids.astype(np.int64)


def _detect_kind(train: _RawSplit, values: np.ndarray, kind: str) -> TaskKind:
    several = len(train.label_columns) > 1
    if kind == "auto":
        if several or not _is_integer_text(train):
            if not several and np.array_equal(values, np.round(values)):
                logger.warning("%s: every target is a whole number written as a decimal; treating the task as "
                               "regression (pass kind='binary' or 'multiclass' if these are classes)", train.path)
            return "regression"
        ids = _class_ids(train, values)
        classes = np.unique(ids)
        if not np.array_equal(classes, np.arange(classes.size)):
            raise TaskFileError(
                f"{train.path}: integer labels {classes.tolist()[:20]} are not 0..C-1 with every class present; "
                "relabel them to 0..C-1, or write them as decimals (1.0) if they are quantities: the task is then "
                "a regression"
            )
        kind = "binary" if classes.size == 2 else "multiclass"
    if kind != "regression":
        if several:
            raise TaskFileError(f"{train.path}: kind={kind!r} needs one label column, got {train.label_columns}")
        classes = np.unique(_class_ids(train, values))
        if classes.min() < 0 or classes.size < 2:
            raise TaskFileError(
                f"{train.path}: classification needs labels 0..C-1 with at least two classes in train, "
                f"got {classes.tolist()[:20]}"
            )
        if kind == "binary" and classes.max() > 1:
            raise TaskFileError(f"{train.path}: kind='binary' but train holds labels {classes.tolist()[:20]}")
    return kind


def _is_per_base(raw: _RawSplit) -> bool:
    """Every label cell is a digit string as long as its sequence (one class per base)."""
    return len(raw.label_columns) == 1 and all(
        len(row[0]) == len(seq) > 1 and row[0].isdigit() for row, seq in zip(raw.cells, raw.sequences))


def _base_labels(raw: _RawSplit) -> np.ndarray:
    """A split's per-base label strings as one int8 array (concatenated); errors name the first bad row."""
    cells = [row[0] for row in raw.cells]
    mismatch = np.flatnonzero(np.fromiter(map(len, cells), np.int64, len(cells))
                              != np.fromiter(map(len, raw.sequences), np.int64, len(cells)))
    if mismatch.size:
        i = mismatch[0]
        raise TaskFileError(f"{raw.path}: line {raw.lines[i]}: per-base label has {len(cells[i])} characters for a "
                         f"sequence of {len(raw.sequences[i])} bases")
    joined = "".join(cells)
    if not joined.isascii():
        bad = np.flatnonzero([not cell.isascii() for cell in cells])[0]
        raise TaskFileError(f"{raw.path}: line {raw.lines[bad]}: per-base label holds non-digit characters")
    codes = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).astype(np.int16) - ord("0")
    bad_bases = np.flatnonzero((codes < 0) | (codes > 9))
    if bad_bases.size:
        row = int(np.searchsorted(np.cumsum([len(c) for c in cells]), bad_bases[0], side="right"))
        raise TaskFileError(f"{raw.path}: line {raw.lines[row]}: per-base label holds "
                         f"{joined[bad_bases[0]]!r}; expected one digit (class 0-9) per base")
    return codes.astype(np.int8)


def _token_task_labels(raw: dict[str, _RawSplit]) -> tuple[list[str], dict[str, np.ndarray]]:
    """Class names and per-base labels of a token task; classes must be 0..C-1 in train, C >= 2."""
    labels = {s: _base_labels(r) for s, r in raw.items()}
    classes = np.unique(labels["train"])
    if classes.size < 2 or not np.array_equal(classes, np.arange(classes.size)):
        raise TaskFileError(f"{raw['train'].path}: per-base labels {classes.tolist()} are not 0..C-1 with at least "
                         "two classes present in the training split")
    for split, values in labels.items():
        unseen = np.flatnonzero(values >= classes.size)
        if unseen.size:
            r = raw[split]
            row = int(np.searchsorted(np.cumsum([len(s) for s in r.sequences]), unseen[0], side="right"))
            raise TaskFileError(f"{r.path}: line {r.lines[row]}: per-base label {values[unseen[0]]} never occurs in "
                             f"the training split ({raw['train'].path.name}: {classes.tolist()})")
    return [str(c) for c in classes], labels


def task_folder(path: str | os.PathLike) -> Path:
    """``path`` as a task folder, or an error saying what it is instead (missing, or a file: give its folder)."""
    folder = Path(path)
    if folder.is_file():
        raise NotADirectoryError(f"task {folder} is a file: give the task folder that holds it ({folder.parent}), "
                                 "with its train/dev/test files")
    if not folder.is_dir():
        raise FileNotFoundError(f"task folder not found: {folder}")
    return folder


def load_task(
    path: str | os.PathLike,
    *,
    label_columns: str | Sequence[str] = "label",
    sequence_column: str = "sequence",
    kind: Literal["auto", "binary", "multiclass", "regression", "token"] = "auto",
    missing_train: Literal["error", "use_dev"] = "error",
    name: str | None = None,
) -> TaskData:
    """Read and check a task folder (module docstring: the rules). ``label_columns`` is a column name, a list
    of names (several regression targets, e.g. DeepSTARR's ``Dev_log2_enrichment``/``Hk_log2_enrichment``)
    or ``ALL_COLUMNS``. ``name`` defaults to the folder's last two path parts (``"tf/0"``, ``"EMP/H3"``)."""
    folder = task_folder(path)
    if missing_train not in ("error", "use_dev"):
        raise ValueError(f"missing_train must be 'error' or 'use_dev', got {missing_train!r}")
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {list(_KINDS)}, got {kind!r}")
    files = {s: find_split_file(folder, s) for s in SPLITS}
    notes: list[str] = []
    if files["test"] is None:
        raise FileNotFoundError(f"{folder}: no test split (expected test.csv, test.tsv or their .gz)")
    if files["train"] is None:
        if missing_train != "use_dev" or files["dev"] is None:
            raise FileNotFoundError(
                f"{folder}: no train split (expected train.csv, train.tsv or their .gz)"
                + ("; pass missing_train='use_dev' to train on the dev split" if files["dev"] else "")
            )
        files["train"], files["dev"] = files["dev"], None
        notes.append(f"no train file: training split read from {files['train'].name} (missing_train='use_dev'); "
                     "the task has no validation split")
    elif files["dev"] is None:
        notes.append("no dev file: the task has no validation split")
    for note in notes:
        logger.warning("%s: %s", folder, note)

    raw = {s: _read_split(p, sequence_column, label_columns) for s, p in files.items() if p is not None}
    for note in filter(None, map(_letters_note, raw.values())):
        notes.append(note)
        logger.warning("%s: %s", folder, note)
    train = raw["train"]
    for r in raw.values():
        if r.label_columns != train.label_columns:
            raise TaskFileError(f"{r.path}: label columns {r.label_columns} differ from train's {train.label_columns}")
    labels: dict[str, np.ndarray] = {}
    if kind == "token" or (kind == "auto" and _is_per_base(train)):
        task_kind = "token"
        if len(train.label_columns) != 1:
            raise TaskFileError(f"{train.path}: kind='token' needs one label column, got {train.label_columns}")
        label_names, labels = _token_task_labels(raw)
    else:
        values = {s: _parse_numbers(r) for s, r in raw.items()}
        task_kind = _detect_kind(train, values["train"], kind)
    if task_kind == "regression":
        label_names = list(train.label_columns)
        for s, v in values.items():
            labels[s] = v[:, 0].astype(np.float32) if v.shape[1] == 1 else v.astype(np.float32)
    elif task_kind != "token":
        classes = np.unique(_class_ids(train, values["train"]))
        label_names = [str(c) for c in range(int(classes.max()) + 1)]
        for s, r in raw.items():
            ids = _class_ids(r, values[s])
            unseen = np.flatnonzero(~np.isin(ids, classes))
            if unseen.size:
                i = unseen[0]
                raise TaskFileError(f"{r.path}: line {r.lines[i]}: label {ids[i]} never occurs in the training split "
                                 f"({train.path.name}: {classes.tolist()})")
            labels[s] = ids
        missing_classes = np.setdiff1d(np.arange(len(label_names)), classes)
        if missing_classes.size:
            notes.append(f"classes {missing_classes.tolist()} never occur in the training split")
            logger.warning("%s: %s", folder, notes[-1])

    seen_in_train = set(raw["train"].sequences)
    for split in ("dev", "test"):
        if split in raw:
            shared = sum(seq in seen_in_train for seq in raw[split].sequences)
            if shared:
                notes.append(f"{shared} {split} sequences also occur in the training split (kept, as published)")
                logger.info("%s: %s", folder, notes[-1])

    return TaskData(
        name=name if name is not None else "/".join(folder.resolve().parts[-2:]),
        path=folder,
        kind=task_kind,
        label_names=label_names,
        sequences={s: r.sequences for s, r in raw.items()},
        labels=labels,
        files={s: r.path for s, r in raw.items()},
        lines={s: r.lines for s, r in raw.items()},
        notes=notes,
    )


def token_lengths(sequences: Sequence[str], tokenizer: Any) -> np.ndarray:
    """Tokens per sequence, special tokens excluded. Uses the tokenizer's exact ``tokens_for_bases`` rule when it
    has one (k-mer tokenizers: cheap), else tokenizes every sequence once."""
    if hasattr(tokenizer, "tokens_for_bases"):
        return tokenizer.tokens_for_bases(np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences)))
    encoded = tokenizer(list(sequences), add_special_tokens=False, truncation=False)["input_ids"]
    return np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))


def _model_limit(tokenizer: Any, model_max_length: int | None) -> int | None:
    if model_max_length is not None:
        return int(model_max_length)
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if limit is not None and limit < _NO_LIMIT else None


def _check_too_long(
    task: TaskData, lengths: dict[str, np.ndarray], limit: int, specials: int, too_long: str
) -> None:
    if too_long not in ("truncate", "error"):
        raise ValueError(f"too_long must be 'truncate' or 'error', got {too_long!r}")
    over = {s: np.flatnonzero(n + specials > limit) for s, n in lengths.items()}
    over = {s: idx for s, idx in over.items() if idx.size}
    if not over:
        return
    counts = ", ".join(f"{s}: {idx.size} of {lengths[s].size}" for s, idx in over.items())
    split, idx = next(iter(over.items()))
    first = f"first at {task.where(split, idx[0])} ({lengths[split][idx[0]] + specials} tokens)"
    message = f"task {task.name}: sequences longer than {limit} tokens with specials ({counts}); {first}"
    if too_long == "error":
        raise TaskFileError(message + "; pass too_long='truncate' to keep their first tokens")
    logger.warning("%s; truncating them to their first %d tokens", message, limit)


def max_length_for(
    task: TaskData,
    tokenizer: Any,
    *,
    model_max_length: int | None = None,
    too_long: Literal["truncate", "error"] = "truncate",
) -> int:
    """Padding/truncation length for ``task``: its longest sequence in tokens plus the special tokens, capped at
    the model's limit (``model_max_length``, else the tokenizer's when it states one), beyond which
    ``too_long`` applies."""
    specials = tokenizer.num_special_tokens_to_add(pair=False)
    lengths = {s: token_lengths(seqs, tokenizer) for s, seqs in task.sequences.items()}
    needed = int(max(n.max() for n in lengths.values())) + specials
    limit = _model_limit(tokenizer, model_max_length)
    if limit is None or needed <= limit:
        return needed
    _check_too_long(task, lengths, limit, specials, too_long)
    return limit


def build_datasets(
    task: TaskData,
    tokenizer: Any,
    *,
    max_length: int | None = None,
    model_max_length: int | None = None,
    too_long: Literal["truncate", "error"] = "truncate",
):
    """A ``datasets.DatasetDict`` (one Dataset per present split) with the tokenizer's outputs
    (``input_ids``, ``attention_mask``, ...) unpadded, plus ``labels`` (ClassLabel or float32; for token tasks
    one label per token, the k-mer's centre base's, -100 on specials: see ``base_labels``). Pad per batch with
    ``transformers.DataCollatorWithPadding`` (``DataCollatorForTokenClassification`` for token tasks).
    ``max_length`` defaults to ``max_length_for(task, ...)``; an explicit one is checked against the sequences
    like the model limit."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

    if max_length is None:
        max_length = max_length_for(task, tokenizer, model_max_length=model_max_length, too_long=too_long)
    else:
        specials = tokenizer.num_special_tokens_to_add(pair=False)
        lengths = {s: token_lengths(seqs, tokenizer) for s, seqs in task.sequences.items()}
        _check_too_long(task, lengths, int(max_length), specials, too_long)

    if task.kind == "regression":
        label_feature = Value("float32") if task.num_labels == 1 else List(Value("float32"), length=task.num_labels)
    elif task.kind == "token":
        label_feature = List(Value("int64"))
        if not hasattr(tokenizer, "kmer_stride"):
            raise ValueError(f"task {task.name}: per-base labels need a k-mer tokenizer (k, kmer_stride) to map "
                             f"bases to tokens, got {type(tokenizer).__name__}")
    else:
        label_feature = ClassLabel(names=task.label_names)
    out = {}
    for split in task.splits:
        encoded = dict(tokenizer(task.sequences[split], truncation=True, max_length=max_length))
        columns = {key: list(value) for key, value in encoded.items()}
        features = Features({key: List(Value("int64")) for key in columns} | {"labels": label_feature})
        if task.kind == "token":
            columns["labels"] = token_labels(task.labels[split], list(map(len, task.sequences[split])), tokenizer.k,
                                             tokenizer.kmer_stride, max_length)
        else:
            columns["labels"] = task.labels[split].tolist()
        out[split] = Dataset.from_dict(columns, features=features)
    return DatasetDict(out)


def task_folders(root: str | Path) -> list[Path]:
    """Every task folder under ``root`` (a folder holding a test split), sorted; ``root`` itself if it is one."""
    root = Path(root)
    found = sorted({p.parent for p in root.rglob("test.*") if p.name.startswith("test.")})
    if not found:
        raise FileNotFoundError(f"no task folder (with a test.csv/.tsv[.gz]) under {root}")
    return found


def train_subset(num_examples: int, max_samples: int | None, seed: int = 0) -> np.ndarray:
    """The training rows a capped run uses (``max_train_samples``): the first ``max_samples`` of a seeded
    permutation, all rows in order when uncapped. Fine-tuning and the baselines take the same rows."""
    if max_samples is None or max_samples >= num_examples:
        return np.arange(num_examples)
    return np.random.default_rng(seed).permutation(num_examples)[:max_samples]
