"""A small labelled task built from the embedded genomes, so fine-tuning runs on a fresh clone without GUE.

Phage or host: is a 100 bp fragment from phage lambda (label 1) or from its host, E. coli K-12 (label 0)? Each split
draws its fragments from its own stretch of both genomes (the first 80% for train, the next 10% for dev, the last 10%
for test), so no test base was seen in training; half of the fragments are reverse-complemented, so the strand is no
cue. It is a demonstration of the fine-tuning pipeline, not a benchmark: the default pretraining corpus is this very
E. coli genome. It is not trivial either: a phage's composition follows its host's, and a logistic regression on 3- to
6-mer counts reaches test MCC 0.09-0.21 (C chosen from 0.01-1).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from .fasta import COMPLEMENT, IS_ACGT, default_corpus, read_genome
from .options import check_output_folder
from .output_files import partial_file

SPLITS = {"train": (0.0, 0.8), "dev": (0.8, 0.9), "test": (0.9, 1.0)}


def _fragments(sequence: np.ndarray, share: tuple[float, float], count: int, length: int,
               rng: np.random.Generator) -> np.ndarray:
    """``count`` distinct ACGT-only fragments (uint8 ``[count, length]``) from ``sequence[share]``, half of them
    reverse-complemented."""
    first, last = (int(f * sequence.size) for f in share)
    stretch = sequence[first:last]
    windows = np.lib.stride_tricks.sliding_window_view(stretch, length)
    non_acgt_before = np.concatenate(([0], np.cumsum(~IS_ACGT[stretch])))  # not a [windows, length] grid
    clean = np.flatnonzero(non_acgt_before[length:] == non_acgt_before[:-length])
    if clean.size < count:
        raise ValueError(f"only {clean.size} clean {length} bp fragments in bases {first:,}-{last:,}; asked for {count}")
    picked = windows[np.sort(rng.choice(clean, size=count, replace=False))].copy()
    flip = rng.random(count) < 0.5
    picked[flip] = COMPLEMENT[picked[flip, ::-1]]
    return picked


def write_phage_host_task(out_dir: str | Path, per_class: tuple[int, int, int] = (1000, 150, 150),
                          length: int = 100, seed: int = 0, overwrite: bool = False) -> Path:
    """Write ``train/dev/test.csv.gz`` (``sequence,label``; lambda 1, E. coli 0) into ``out_dir``; return it.
    ``per_class`` is the number of fragments of each class in train, dev and test. Split files already in
    ``out_dir`` (perhaps the user's own task) are refused unless ``overwrite``; each file appears whole."""
    out = check_output_folder(out_dir)
    files = [out / f"{split}.csv.gz" for split in SPLITS]
    existing = [file.name for file in files if file.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"--output_dir {out} already holds {', '.join(existing)} (a task of yours?): pass "
                              "--overwrite_output_dir to replace them")
    ecoli, phage = (read_genome(path).sequence for path in default_corpus(include_lambda=True))
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    for file, share, count in zip(files, SPLITS.values(), per_class):
        rows = [(fragment, 0) for fragment in _fragments(ecoli, share, count, length, rng)]
        rows += [(fragment, 1) for fragment in _fragments(phage, share, count, length, rng)]
        order = rng.permutation(len(rows))
        lines = ["sequence,label"] + [f"{rows[i][0].tobytes().decode('ascii')},{rows[i][1]}" for i in order]
        with partial_file(file, overwrite) as partial, gzip.open(partial, "wt", encoding="ascii") as handle:
            handle.write("\n".join(lines) + "\n")
    return out
