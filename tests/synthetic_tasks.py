"""Small labelled tasks cut from the embedded E. coli genome, and a random tiny checkpoint, so that fine-tuning
tests run on a bare clone (no ../shared data) in seconds."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
from conftest import ECOLI, tiny_model

from modeling_randommask import save_checkpoint
from modeling_randommask.data.fasta import read_genome
from modeling_randommask.tokenization import KmerTokenizer

# Where each split's windows start in the genome: far apart, so no window occurs in two splits.
SPLIT_STARTS = {"train": 0, "dev": 2_000_000, "test": 3_000_000}


@functools.cache
def ecoli_dna() -> str:
    return read_genome(ECOLI).record("K-12-MG1655")


def _starts(split: str, count: int, length: int) -> range:
    """Where the split's ``count`` consecutive windows of ``length`` bases start."""
    return range(SPLIT_STARTS[split], SPLIT_STARTS[split] + count * length, length)


def _windows(split: str, count: int, length: int) -> list[str]:
    dna = ecoli_dna()
    return [dna[start: start + length] for start in _starts(split, count, length)]


def _write_task(folder: Path, rows: dict[str, list[str]]) -> Path:
    """``<split>.csv`` files of ``sequence,label`` rows in a new ``folder``."""
    folder.mkdir(parents=True)
    for split, lines in rows.items():
        (folder / f"{split}.csv").write_text("\n".join(["sequence,label", *lines]) + "\n")
    return folder


def write_gc_task(folder: Path, counts: dict[str, int], length: int = 60) -> Path:
    """Binary sequence task: label 1 when the window's GC content is above 50%."""
    return _write_task(folder, {split: [f"{seq},{int((seq.count('G') + seq.count('C')) / len(seq) > 0.5)}"
                                        for seq in _windows(split, count, length)]
                                for split, count in counts.items()})


def write_gc_fraction_task(folder: Path, counts: dict[str, int], length: int = 60) -> Path:
    """Regression task: the window's GC fraction."""
    return _write_task(folder, {split: [f"{seq},{(seq.count('G') + seq.count('C')) / len(seq):.4f}"
                                        for seq in _windows(split, count, length)]
                                for split, count in counts.items()})


def write_motif_task(folder: Path, counts: dict[str, int], motif: str = "TGC", length: int = 60) -> Path:
    """Token task: a per-base label string, 1 on the bases of every occurrence of ``motif`` (about 6% of bases for
    TGC), 0 elsewhere."""
    dna = ecoli_dna()
    digits = np.full(len(dna), ord("0"), dtype=np.uint8)  # genome-wide: an occurrence may straddle two windows
    for match in re.finditer(f"(?={motif})", dna):
        digits[match.start(): match.start() + len(motif)] = ord("1")
    return _write_task(folder, {split: [f"{dna[a: a + length]},{digits[a: a + length].tobytes().decode()}"
                                        for a in _starts(split, count, length)]
                                for split, count in counts.items()})


def tiny_checkpoint(folder: Path) -> Path:
    """A randomly initialised tiny masked-LM checkpoint (what a pretraining run saves), for fine-tuning; the same
    weights whatever ran before in the process."""
    model = tiny_model(dropout=True)  # fine-tuning trains it with the preset's dropout
    return save_checkpoint(model, KmerTokenizer(k=model.config.kmer_size), folder)
