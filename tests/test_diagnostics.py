"""Diagnostics: loss by phase from a hand-written log, attention statistics against hand computations and engineered
models (uniform attention, a [CLS] sink), k-mer clustering numbers on random and constructed embeddings, figures,
and compare mode through examples/analyze.py. Tiny models on real DNA from ../shared/data."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ECOLI, REPO, tiny_model
from transformers import BertConfig, BertForMaskedLM

from modeling_randommask import RandomMaskForMaskedLM
from modeling_randommask.analysis.diagnostics import (
    DINUCLEOTIDES,
    attention_statistics,
    central_dinucleotide_labels,
    diagnostics_table,
    embedding_clustering,
    kmer_embedding_statistics,
    kmer_embeddings,
    loss_by_phase,
    plot_attention,
    plot_kmer_tsne,
    plot_loss_by_phase,
    read_fasta_windows,
)
from modeling_randommask.hub.checkpoint import load_masked_lm
from modeling_randommask.tokenization import KmerTokenizer, kmer_vocab
from modeling_randommask.training.run_log import read_training_log

TOKENIZER = KmerTokenizer(k=6)


@pytest.fixture(scope="module")
def dna() -> list[str]:
    """Six clean E. coli windows plus two shorter pieces, so batches hold padding."""
    windows = read_fasta_windows(ECOLI, 6, 131, seed=1)
    return windows + [windows[0][:40], windows[1][:75]]


# ---- loss by phase -------------------------------------------------------------------------------------------

HAND_LOG = """\
{"step": 0, "event": "start", "schedule": {"total_steps": 100, "num_phases": 4, "min_span": 6, "max_span_start": 6, "span_increment": 2}, "data": {"window_bases": 40}}
{"step": 1, "loss": 8.0, "lr": 0.001, "phase": 0}
{"step": 11, "loss": 7.0, "lr": 0.001, "phase": 0}
{"step": 20, "val_loss": 7.5, "phase": 0, "phase_end": false}
{"step": 21, "loss": 6.0, "phase": 0}

{"step": 25, "val_loss": 6.5, "phase": 0, "phase_end": true}
{"step": 26, "loss": 5.0, "phase": 1}
{"step": 30, "event": "skipped_non_finite", "loss": NaN}
{"step": 31, "loss": NaN, "phase": 1}
{"step": 36, "loss": 4.0, "phase": 1}
{"note": "no step: ignored"}
{"step": 50, "val_loss": 4.5, "phase": 1, "phase_end": true}
{"step": 51, "loss": 3.0}
{"step": 60, "loss": 2.0}
"""


def write_log(folder: Path, text: str = HAND_LOG) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "training_log.jsonl"
    path.write_text(text)
    return path


def test_loss_by_phase_on_a_hand_written_log(tmp_path):
    rows = loss_by_phase(write_log(tmp_path))
    assert [r["start_step"] for r in rows] == [0, 25, 50, 75]
    assert rows[0] == {"phase": 0, "start_step": 0, "train_records": 3, "non_finite": 0, "mean_loss": 7.0,
                       "first_loss": 8.0, "last_loss": 6.0, "last_val_loss": 6.5}
    # The NaN is counted, not averaged; the skipped-step event record is not a training point.
    assert rows[1] == {"phase": 1, "start_step": 25, "train_records": 3, "non_finite": 1, "mean_loss": 4.5,
                       "first_loss": 5.0, "last_loss": 4.0, "last_val_loss": 4.5}
    # No phase field: step 51 holds update 50, the first of phase 2.
    assert rows[2]["train_records"] == 2 and rows[2]["mean_loss"] == 2.5 and rows[2]["last_val_loss"] is None
    assert rows[3]["train_records"] == 0 and rows[3]["mean_loss"] is None  # never reached
    curve = read_training_log(tmp_path)  # the checkpoint folder works as well as the file
    assert curve.steps.tolist() == [1, 11, 21, 26, 31, 36, 51, 60]
    assert curve.start["data"]["window_bases"] == 40


def test_training_log_errors_name_file_and_line(tmp_path):
    broken = write_log(tmp_path / "a", HAND_LOG.replace('{"step": 36, "loss": 4.0', '{"step": 36 "loss": 4.0'))
    with pytest.raises(ValueError, match=rf"{broken}, line 11: not a JSON record"):
        loss_by_phase(broken)
    resumed = HAND_LOG + HAND_LOG.splitlines()[0].replace('"num_phases": 4', '"num_phases": 5') + "\n"
    with pytest.raises(ValueError, match="line 16: the run was resumed with another schedule"):
        loss_by_phase(write_log(tmp_path / "b", resumed))


def test_log_without_schedule_uses_logged_phases(tmp_path):
    rows = loss_by_phase(write_log(tmp_path, "\n".join(HAND_LOG.splitlines()[1:])))
    assert len(rows) == 2 and rows[0]["start_step"] is None  # phases 0 and 1 as logged; unlabelled lines -> 0
    assert rows[0]["train_records"] == 5 and rows[1]["train_records"] == 3


# ---- genome windows ------------------------------------------------------------------------------------------


def test_fasta_windows_are_clean_disjoint_and_seeded(tmp_path, shared_genomes):
    chr22 = shared_genomes / "human_chr22_20-21M.fa.gz"  # holds a 100 kb run of N
    windows = read_fasta_windows(chr22, 50, 515, seed=3)
    assert len(windows) == 50 and all(len(w) == 515 and set(w) <= set("ACGT") for w in windows)
    assert len(set(windows)) == 50
    assert windows == read_fasta_windows(chr22, 50, 515, seed=3) != read_fasta_windows(chr22, 50, 515, seed=4)
    # Soft-masked lowercase is read; N, IUPAC codes and record boundaries never enter a window.
    fasta = tmp_path / "messy.fa"
    fasta.write_bytes(b">r1 first\r\nacgtACGTAC\r\nGTNACGTACG\r\n>r2\nTTTTTTRAAAAAA\n>r3\n\nGGGGG\n")
    # Each record tiled on its own: r1 ACGTA CGTAC GTNAC GTACG, r2 TTTTT TRAAA (AAA left over), r3 GGGGG.
    assert read_fasta_windows(fasta, 5, 5) == ["ACGTA", "CGTAC", "GTACG", "TTTTT", "GGGGG"]
    with pytest.raises(ValueError, match="only 5 windows of 5 bases"):
        read_fasta_windows(fasta, 6, 5)
    # Only the first max_bases are read: r1 and r2's first 2 bases (the rest of the file is not even parsed).
    assert read_fasta_windows(fasta, 3, 5, max_bases=22) == ["ACGTA", "CGTAC", "GTACG"]
    headless = tmp_path / "headless.fa"
    headless.write_text("\nACGT\n")
    with pytest.raises(ValueError, match=rf"{headless}: line 2: sequence before the first '>' header"):
        read_fasta_windows(headless, 1, 2)


# ---- attention -----------------------------------------------------------------------------------------------


def hand_statistics(model, sequences):
    """Mean [CLS] mass and entropy per (layer, head) from output_attentions, with explicit loops over real tokens
    of one unpadded sequence at a time."""
    mass, entropy, count = None, None, 0
    for sequence in sequences:
        ids = TOKENIZER([sequence], return_tensors="pt")["input_ids"]
        maps = torch.stack(model.bert(input_ids=ids, output_attentions=True).attentions)[:, 0].double()  # L H Q K
        n = ids.shape[1]
        m = torch.zeros(maps.shape[:2], dtype=torch.float64)
        e = torch.zeros(maps.shape[:2], dtype=torch.float64)
        for q in range(n):
            row = maps[:, :, q, :]
            m += row[..., 0]
            e -= (row * row.log()).sum(-1)
        mass = m if mass is None else mass + m
        entropy = e if entropy is None else entropy + e
        count += n
    return mass / count, entropy / count


def test_attention_statistics_bounds_and_hand_computation(dna):
    model = tiny_model()
    with torch.no_grad():
        stats = attention_statistics(model, TOKENIZER, dna, batch_size=3)  # batches mixing lengths: padding
        mass, entropy = hand_statistics(model, dna)
    cls = np.array(stats["cls_mass_per_head"])
    ent = np.array(stats["entropy_per_head"])
    assert cls.shape == ent.shape == (2, 2)
    assert ((cls >= 0) & (cls <= 1)).all()
    assert ((ent >= 0) & (ent <= stats["uniform_entropy"] + 1e-9)).all() and stats["uniform_entropy"] <= math.log(128)
    assert stats["num_query_tokens"] == sum(len(TOKENIZER(s)["input_ids"]) for s in dna)
    np.testing.assert_allclose(cls, mass.numpy(), rtol=1e-5)
    np.testing.assert_allclose(ent, entropy.numpy(), rtol=1e-5)
    np.testing.assert_allclose(stats["cls_mass_per_layer"], cls.mean(axis=1))
    assert model.training is False


def test_uniform_attention_gives_the_uniform_references(dna):
    model = tiny_model()
    for layer in model.bert.encoder.layer:  # keys all zero: every score 0, attention uniform over real keys
        layer.attention.self.key.weight.data.zero_()
        layer.attention.self.key.bias.data.zero_()
    stats = attention_statistics(model, TOKENIZER, dna, batch_size=4)
    lengths = np.array([len(TOKENIZER(s)["input_ids"]) for s in dna])
    assert stats["uniform_cls_mass"] == pytest.approx(len(dna) / lengths.sum())
    assert stats["uniform_entropy"] == pytest.approx((lengths * np.log(lengths)).sum() / lengths.sum())
    np.testing.assert_allclose(stats["cls_mass_per_head"], stats["uniform_cls_mass"], rtol=1e-5)
    np.testing.assert_allclose(stats["entropy_per_head"], stats["uniform_entropy"], rtol=1e-5)


def cls_sink(model: RandomMaskForMaskedLM) -> RandomMaskForMaskedLM:
    """Every head of every layer attends to [CLS]: embedding dimension 0 is large only for [CLS], every query is
    the unit vector of that dimension, every key reads it; attention/FFN outputs are zeroed, so each layer passes
    its input through unchanged (LayerNorm of a LayerNorm output) and the same trick holds in every layer."""
    emb = model.bert.embeddings
    with torch.no_grad():
        for table in (emb.word_embeddings, emb.position_embeddings, emb.token_type_embeddings):
            table.weight[:, 0] = 0.0
        emb.word_embeddings.weight[TOKENIZER.cls_token_id, 0] = 10.0
        head_dim = model.config.hidden_size // model.config.num_attention_heads
        firsts = torch.arange(0, model.config.hidden_size, head_dim)
        for layer in model.bert.encoder.layer:
            attention = layer.attention.self
            attention.query.weight.zero_()
            attention.query.bias.zero_()
            attention.query.bias[firsts] = 1.0
            attention.key.weight.zero_()
            attention.key.bias.zero_()
            attention.key.weight[firsts, 0] = 10.0
            for dense in (layer.attention.output.dense, layer.output.dense):
                dense.weight.zero_()
                dense.bias.zero_()
    return model


def test_a_cls_sink_model_is_detected(dna):
    random_stats = attention_statistics(tiny_model(), TOKENIZER, dna)
    sink_stats = attention_statistics(cls_sink(tiny_model()), TOKENIZER, dna)
    assert max(random_stats["cls_mass_per_layer"]) < 0.1
    assert min(sink_stats["cls_mass_per_layer"]) > 0.95
    assert max(sink_stats["entropy_per_layer"]) < 0.3 < min(random_stats["entropy_per_layer"])


def test_too_long_windows_are_refused():
    model = tiny_model(max_position_embeddings=64)
    with pytest.raises(ValueError, match="more than the model's 64 positions"):
        attention_statistics(model, TOKENIZER, ["ACGT" * 30])


# ---- k-mer embeddings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 4, 6])
def test_central_dinucleotide_labels_match_the_vocabulary(k):
    first = (k - 2) // 2
    expected = [DINUCLEOTIDES.index(kmer[first : first + 2]) for kmer in kmer_vocab(k)[5:]]
    assert central_dinucleotide_labels(k).tolist() == expected
    if k == 6:
        assert kmer_vocab(6)[5 + int(np.flatnonzero(central_dinucleotide_labels(6) == 7)[0])][2:4] == "TG"


def test_random_embeddings_cluster_at_chance():
    stats = kmer_embedding_statistics(tiny_model())
    assert stats["num_kmers"] == 4096 and stats["chance_purity"] == pytest.approx(1 / 16, abs=0.001)
    assert abs(stats["knn_purity"] - stats["chance_purity"]) < 0.02
    assert abs(stats["silhouette_cosine"]) < 0.05


def test_embeddings_built_to_cluster_by_central_dinucleotide_score_high():
    model = tiny_model()
    generator = torch.Generator().manual_seed(0)
    centroids = torch.randn(16, 64, generator=generator)
    labels = torch.as_tensor(central_dinucleotide_labels(6))
    with torch.no_grad():
        model.bert.embeddings.word_embeddings.weight[5:] = centroids[labels] + 0.3 * torch.randn(4096, 64,
                                                                                                 generator=generator)
    stats = kmer_embedding_statistics(model)
    assert stats["knn_purity"] > 0.95 and stats["silhouette_cosine"] > 0.5
    # Clustered by the first two bases instead: the central-dinucleotide numbers stay at chance.
    first_pair = torch.arange(4096) // 4**4
    by_first = centroids[first_pair] + 0.3 * torch.randn(4096, 64, generator=generator)
    assert embedding_clustering(by_first.numpy())["knn_purity"] < 0.1


# ---- figures, checkpoints, compare mode ----------------------------------------------------------------------


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5_000


def test_figures_are_written(tmp_path, dna):
    first, second = write_log(tmp_path / "run-a"), write_log(tmp_path / "run-b", HAND_LOG.replace("8.0", "9.0"))
    assert_png(plot_loss_by_phase([first, second], tmp_path / "loss.png", labels=["a", "b"]))
    stats = attention_statistics(tiny_model(), TOKENIZER, dna[:2])
    assert_png(plot_attention({"a": stats, "b": stats}, tmp_path / "attention.png"))
    embeddings = {"k3": kmer_embeddings(tiny_model(kmer_size=3)), "k4": kmer_embeddings(tiny_model(kmer_size=4))}
    assert_png(plot_kmer_tsne(embeddings, tmp_path / "tsne.png", max_iter=250))
    with pytest.raises(ValueError, match="got 1 labels for 2"):
        plot_loss_by_phase([first, second], tmp_path / "x.png", labels=["a"])


def test_load_checkpoint_converts_dnabert(tmp_path):
    config = BertConfig(vocab_size=5 + 4**3, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64)
    BertForMaskedLM(config).save_pretrained(tmp_path)
    model, tokenizer = load_masked_lm(tmp_path)
    assert model.config.model_type == "randommask" and tokenizer.k == 3 and not model.training


@pytest.mark.slow
def test_compare_mode_through_the_script(tmp_path):
    overlapping = tiny_model(kmer_size=3)
    overlapping.save_pretrained(tmp_path / "ovl")
    write_log(tmp_path / "ovl")
    tiny_model(seed=1, kmer_size=3, kmer_stride=3).save_pretrained(tmp_path / "nonovl")  # no training log
    out = tmp_path / "analysis"
    command = [sys.executable, str(REPO / "examples" / "analyze.py"), "--model", str(tmp_path / "ovl"),
               str(tmp_path / "nonovl"), "--labels", "overlapping", "non-overlapping", "--genome", str(ECOLI),
               "--num_windows", "4", "--tsne_max_iter", "250", "--bits_positions", "100", "--output_dir", str(out)]
    run = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert "| diagnostic | overlapping | non-overlapping |" in run.stdout
    report = json.loads((out / "diagnostics.json").read_text())
    assert report["windows"]["window_bases"] == 40  # the training window from ovl's log
    assert list(report["models"]) == ["overlapping", "non-overlapping"]
    assert report["models"]["non-overlapping"]["loss_by_phase"] is None
    assert report["models"]["overlapping"]["loss_by_phase"][1]["mean_loss"] == 4.5
    for name in ("loss_by_phase.png", "attention.png", "kmer_tsne.png"):
        assert_png(out / name)
    table = (out / "diagnostics.md").read_text().splitlines()
    assert table[0] == "| diagnostic | overlapping | non-overlapping |"
    row = next(line for line in table if line.startswith("| attention on [CLS], layer 2 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == 3 and all(0 <= float(c) <= 1 for c in cells[1:])
    phase_row = next(line for line in table if line.startswith("| phase 1 train loss"))
    assert phase_row.rstrip().endswith("|  |")  # blank for the model without a log
    assert diagnostics_table(report["models"]) == report["table"]
    bits = report["models"]["non-overlapping"]["bits_per_base"]
    assert bits["positions"] == 100 and bits["held_out"].startswith("the pretraining validation regions")
    assert bits["markov"] == report["models"]["overlapping"]["bits_per_base"]["markov"]  # same positions
    assert next(line for line in table if line.startswith("| bits per base, rule mean (100 held-out positions) |"))


def test_table_orders_rows_by_diagnostic_whatever_the_models():
    def result(layers, phases):
        attention = {"cls_mass_per_layer": [0.5] * layers, "entropy_per_layer": [1.0] * layers,
                     "uniform_cls_mass": 0.1, "uniform_entropy": 2.0}
        embeddings = {"n_neighbors": 10, "knn_purity": 0.9, "chance_purity": 0.0623, "silhouette_cosine": 0.4}
        loss = [{"phase": p, "mean_loss": 2.0, "first_loss": 3.0, "last_loss": 1.0, "last_val_loss": None}
                for p in range(phases)]
        return {"loss_by_phase": loss or None, "attention": attention, "embeddings": embeddings}

    lines = diagnostics_table({"no-log": result(2, 0), "deeper": result(3, 2)}).splitlines()
    names = [line.split("|")[1].strip() for line in lines[2:]]
    assert names[:4] == ["phase 0 train loss: mean (first -> last)", "phase 0 val loss (last)",
                         "phase 1 train loss: mean (first -> last)", "phase 1 val loss (last)"]
    assert names[4:8] == [f"attention on [CLS], layer {i}" for i in (1, 2, 3)] + ["attention on [CLS], uniform reference"]
    assert lines[2] == "| phase 0 train loss: mean (first -> last) |  | 2.000 (3.000 -> 1.000) |"
    assert lines[2 + names.index("attention entropy (nats), layer 3")].endswith("|  | 1.000 |")
