"""The k-mer baseline: exact frequencies, and a linear model that finds what composition says and nothing more."""

from pathlib import Path

import numpy as np
import pytest
from conftest import ECOLI

from modeling_randommask.data.fasta import read_genome
from modeling_randommask.data.tasks import load_task
from modeling_randommask.evaluation.kmer_baseline import kmer_baseline, kmer_frequencies

MOTIF = "TATAAT"  # the -10 box


@pytest.fixture(scope="module")
def dna() -> list[str]:
    genome = read_genome(ECOLI).record("K-12-MG1655")
    pieces = [genome[start : start + 60] for start in range(0, 1_200 * 997, 997)]
    return [piece for piece in pieces if MOTIF not in piece]


def _write(folder: Path, splits: dict[str, list[tuple[str, str]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        (folder / f"{split}.csv").write_text("sequence,label\n" + "".join(f"{s},{y}\n" for s, y in rows))
    return folder


def _motif_task(dna: list[str], shuffle_labels: bool = False, dev: bool = True) -> dict:
    """Label 1: the motif planted at a random place; label 0: none (or labels shuffled, so there is nothing to learn)."""
    rng = np.random.default_rng(0)
    rows = []
    for i, piece in enumerate(dna):
        label = i % 2
        if label:
            at = rng.integers(0, len(piece) - len(MOTIF))
            piece = piece[:at] + MOTIF + piece[at + len(MOTIF):]
        rows.append((piece, label))
    if shuffle_labels:
        labels = rng.permutation([y for _, y in rows])
        rows = [(s, int(y)) for (s, _), y in zip(rows, labels)]
    n = len(rows)
    cut = {"train": rows[: int(0.7 * n)], "dev": rows[int(0.7 * n): int(0.85 * n)], "test": rows[int(0.85 * n):]}
    if not dev:
        del cut["dev"]
    return cut


def test_frequencies_count_every_overlapping_kmer_but_those_with_n():
    x = kmer_frequencies(["AAAAAAA", "ACGTNACGTACG", "ACG"], k=3).toarray()
    assert x.shape == (3, 64) and np.allclose(x[0], np.eye(64)[0])  # AAA is id 5 -> column 0
    # ACG CGT (GTN TNA NAC skipped) ACG CGT GTA TAC ACG: 7 known 3-mers; ACG three times.
    acg = 0 * 16 + 2 * 4 + 3  # bases are digits in ATCG order: A=0, C=2, G=3
    assert x[1].sum() == pytest.approx(1.0) and x[1, acg] == pytest.approx(3 / 7)
    assert x[2].sum() == pytest.approx(1.0)


def test_a_planted_motif_is_found_and_shuffled_labels_are_not(dna, tmp_path):
    found = kmer_baseline(load_task(_write(tmp_path / "motif", _motif_task(dna))))
    assert found["test"]["mcc"] > 0.8 and found["selection"]["on"] == "dev"
    chance = kmer_baseline(load_task(_write(tmp_path / "noise", _motif_task(dna, shuffle_labels=True))))
    assert abs(chance["test"]["mcc"]) < 0.25


def test_without_dev_it_chooses_on_held_out_train_and_takes_a_train_subset(dna, tmp_path):
    task = load_task(_write(tmp_path / "nodev", _motif_task(dna, dev=False)))
    result = kmer_baseline(task, train_indices=np.arange(200))
    assert result["selection"]["on"] == "10% of train held out" and "dev" not in result
    assert result["test"]["mcc"] > 0.5


def test_regression_targets_use_ridge(dna, tmp_path):
    rows = {split: [(s, f"{s.count('G') / len(s):.4f}") for s, _ in part]
            for split, part in _motif_task(dna).items()}
    result = kmer_baseline(load_task(_write(tmp_path / "gc", rows)), k=1)
    assert result["model"] == "1-mer ridge regression" and result["test"]["pearson"] > 0.95
