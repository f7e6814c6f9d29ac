"""Bits per base and its Markov baseline: counts by hand, seeded held-out positions, the model's figure is the mean
-log2 P(true base) of its base-level predictions, and the pretrained card and analyze table report both."""

import itertools
import logging
import math

import numpy as np
import pytest
from conftest import LAMBDA
from test_base_probabilities import memorising_model

from modeling_randommask.analysis.diagnostics import diagnostics_table
from modeling_randommask.data import GenomeDataConfig, build_genome_datasets
from modeling_randommask.hub.model_card import render_pretrained_card
from modeling_randommask.inference import (
    HeldOutDNA,
    MarkovBaseline,
    StatisticUnavailable,
    base_probabilities,
    from_strings,
    held_out_bits_per_base,
    markov_bits_per_base,
    markov_position_scores,
    model_bits_per_base,
    model_position_scores,
    paired_difference,
    sample_positions,
    sample_stretches,
)
from modeling_randommask.inference.bits_per_base import MARKOV_FIT_PIECE
from modeling_randommask.tokenization import KmerTokenizer


def ascii(dna: str) -> np.ndarray:
    return np.frombuffer(dna.encode(), dtype=np.uint8)


def test_markov_probabilities_are_smoothed_counts_of_the_fitted_stretches():
    train = "ACGTTGCAACGGTACCAGTNNACGTACGATTGCA"
    stretches = (np.array([0, 22]), np.array([19, len(train)]))  # the N run and the bases around it left out
    markov = MarkovBaseline(order=2).fit(ascii(train), *stretches)
    counted = [train[s : e] for s, e in zip(*stretches)]
    trimers = [piece[i : i + 3] for piece in counted for i in range(len(piece) - 2)]
    assert markov.fitted_kmers == len(trimers)
    dna = "TTGACGTAGCA"
    positions = np.arange(2, len(dna) - 1)
    for context, before in (("left", 2), ("centred", 1)):
        log_probs = markov.log_probs(ascii(dna), positions, context).numpy()
        for row, p in zip(log_probs, positions):
            window = dna[p - before : p - before + 3]
            counts = [trimers.count(window[:before] + base + window[before + 1 :]) + 1 for base in "ACGT"]
            np.testing.assert_allclose(np.exp(row), np.array(counts) / sum(counts), rtol=1e-12)
    with pytest.raises(ValueError, match="not A/C/G/T"):
        markov.log_probs(ascii("ACNTA"), np.array([3]), "left")
    with pytest.raises(IndexError, match="runs past the sequence's ends"):
        markov.log_probs(ascii("ACGTA"), np.array([1]), "left")


def test_held_out_positions_are_seeded_distinct_and_have_acgt_neighbourhoods(caplog):
    rng = np.random.default_rng(1)
    dna = list(rng.choice(list("ACGT"), size=3000))
    dna[1000:1010] = "N" * 10
    sequences = from_strings(["".join(dna[:2000]), "".join(dna[2000:])], names=["one", "two"])
    held_out = HeldOutDNA(sequences, np.array([500, 1900]), np.array([1500, 2400]), "test DNA")
    positions = sample_positions(held_out, 300, seed=7, margin=5)
    assert np.array_equal(positions, sample_positions(held_out, 300, seed=7, margin=5))
    assert not np.array_equal(positions, sample_positions(held_out, 300, seed=8, margin=5))
    assert np.unique(positions).size == 300
    inside = ((positions >= 500) & (positions < 1500)) | ((positions >= 1900) & (positions < 2400))
    assert inside.all()
    bases = sequences.sequence
    assert all(set(bases[p - 5 : p + 6].tobytes().decode()) <= set("ACGT") for p in positions)
    assert not ((positions >= 1995) & (positions < 2005)).any()  # 5 bases from a record end: not sampled
    with caplog.at_level(logging.WARNING):
        everything = sample_positions(held_out, 5000, seed=7, margin=5)
    # all but the 20 within 5 bases of the N run and the 10 within 5 bases of the record end
    assert everything.size == 1000 + 500 - 20 - 10 and "asked for 5000" in caplog.text


def test_model_bits_are_the_mean_log2_probability_of_the_true_bases():
    rng = np.random.default_rng(0)
    dna = "".join(rng.choice(list("ACGT"), size=300))
    model, tokenizer = memorising_model(dna, 6, 1)
    held_out = HeldOutDNA(from_strings([dna]), np.array([0]), np.array([300]), "memorised DNA")
    positions = sample_positions(held_out, 100, seed=0, margin=5)
    scores = model_bits_per_base(model, tokenizer, held_out, positions, window_tokens=64)
    probs = base_probabilities(model, tokenizer, dna, positions, window_tokens=64)
    truth = np.array(["ACGT".index(dna[p]) for p in positions])
    assert scores["bits_per_base"] == pytest.approx(-np.log2(probs[np.arange(100), truth]).mean(), rel=1e-9)
    assert scores["accuracy"] == pytest.approx((probs.argmax(axis=1) == truth).mean())
    assert scores["bits_per_base"] < 0.5  # it knows the sequence
    markov = MarkovBaseline(order=5).fit(ascii(dna), np.array([0]), np.array([300]))
    baseline = markov_bits_per_base(markov, held_out, positions)
    assert set(baseline) == {"order", "fitted_kmers", "left", "centred"}
    assert baseline["left"]["label"] == "order-5 Markov, 5 bases before"
    assert baseline["centred"]["label"] == "order-5 Markov, 2 bases before and 3 after"
    assert 0 < baseline["centred"]["bits_per_base"] < 2

    # Paired: the mean difference is the difference of the means; its standard error is the differences' own.
    ours = model_position_scores(model, tokenizer, held_out, positions, window_tokens=64)
    reference = markov_position_scores(markov, held_out, positions, "centred")
    assert ours.summary() == pytest.approx(scores)
    paired = paired_difference(ours, reference)
    assert paired["difference"] == pytest.approx(scores["bits_per_base"] - baseline["centred"]["bits_per_base"])
    differences = ours.bits - reference.bits
    assert paired["standard_error"] == pytest.approx(differences.std(ddof=1) / 10)  # sqrt(100 positions)
    assert paired["difference"] < -3 * paired["standard_error"]  # memorised beats counting, beyond its error
    with pytest.raises(ValueError, match="same positions"):
        paired_difference(ours, markov_position_scores(markov, held_out, positions[:50], "centred"))


def test_the_pretraining_split_feeds_the_card_and_the_table():
    tokenizer = KmerTokenizer(k=6)
    model, _ = memorising_model("ACGT" * 20, 6, 1)
    train, val, _ = build_genome_datasets(GenomeDataConfig(genome=[str(LAMBDA)], max_length=40, val_fraction=0.05),
                                          tokenizer)
    bits = held_out_bits_per_base(model, tokenizer, train, val, window_tokens=40, num_positions=300)
    assert bits["positions"] == 300 and bits["window_tokens"] == 40 and bits["rule"] == "mean"
    assert bits["held_out"] == f"the pretraining validation regions ({sum(e - s for s, e in zip(*val.segments)):,} bases)"
    assert bits["markov"]["fitted_kmers"] == sum(e - s - 5 for s, e in zip(*train.segments))
    assert math.isfinite(bits["model"]["bits_per_base"]) and 0 <= bits["model"]["accuracy"] <= 1

    info = {"model_name": "m", "architecture": {"layers": 2}, "masking_schedule": {"total_steps": 10},
            "training_data": {"genomes": [{"name": "lambda", "bases": 48502}]},
            "training": {"steps": 10, "final_train_loss": 8.0}}
    card = render_pretrained_card({**info, "bits_per_base": bits}).text
    assert "## Bits per base on held-out DNA" in card and "At 300 seeded positions" in card
    assert f"| this checkpoint (rule `mean`) | {bits['model']['bits_per_base']:.4f} |" in card
    assert f"| order-5 Markov, 2 bases before and 3 after | {bits['markov']['centred']['bits_per_base']:.4f} |" in card
    assert "Bits per base" not in render_pretrained_card({**info, "bits_per_base": None}).text
    no_validation = build_genome_datasets(GenomeDataConfig(genome=[str(LAMBDA)], max_length=40, val_fraction=0),
                                          tokenizer)
    assert held_out_bits_per_base(model, tokenizer, *no_validation[:2]) is None

    attention = {"cls_mass_per_layer": [0.5], "entropy_per_layer": [1.0], "uniform_cls_mass": 0.1,
                 "uniform_entropy": 2.0}
    embeddings = {"n_neighbors": 10, "knn_purity": 0.9, "chance_purity": 0.0623, "silhouette_cosine": 0.4}
    result = {"loss_by_phase": None, "attention": attention, "embeddings": embeddings,
              "bits_per_base": {"positions": 300, "markov": bits["markov"],
                                "rules": {"mean": bits["model"], "product": {"bits_per_base": 2.5, "accuracy": 0.3}}}}
    lines = diagnostics_table({"m": result}).splitlines()
    assert lines[-8:-6] == [f"| bits per base, rule {rule} (300 held-out positions) | {value:.4f} |" for rule, value
                            in (("mean", bits["model"]["bits_per_base"]), ("product", 2.5))]
    assert lines[-4].startswith("| order-5 Markov, 5 bases before: bits per base |")
    assert list(itertools.islice((line.split("|")[1].strip() for line in lines[-2:]), 2)) == \
        ["order-5 Markov, 5 bases before: accuracy", "order-5 Markov, 2 bases before and 3 after: accuracy"]


def test_the_markov_fit_sample_is_bounded_seeded_and_inside_the_training_stretches():
    starts, ends = np.array([0, 300_000, 1_000_000]), np.array([200_000, 900_000, 1_000_010])
    assert all(np.array_equal(a, b) for a, b in zip(sample_stretches((starts, ends), 800_010, 0), (starts, ends)))
    picked = sample_stretches((starts, ends), 4 * MARKOV_FIT_PIECE, seed=1)
    assert np.array_equal(picked[0], sample_stretches((starts, ends), 4 * MARKOV_FIT_PIECE, seed=1)[0])
    assert not np.array_equal(picked[0], sample_stretches((starts, ends), 4 * MARKOV_FIT_PIECE, seed=2)[0])
    lengths = picked[1] - picked[0]
    assert picked[0].size == 4 and (lengths <= MARKOV_FIT_PIECE).all() and (lengths > 0).all()
    assert (np.diff(picked[0]) >= MARKOV_FIT_PIECE).all()  # distinct, sorted pieces
    stretch = np.searchsorted(starts, picked[0], side="right") - 1
    assert (picked[1] <= ends[stretch]).all() and ((picked[0] - starts[stretch]) % MARKOV_FIT_PIECE == 0).all()


def test_positions_in_dna_without_an_acgt_neighbourhood_are_unavailable_not_a_crash():
    dna = np.frombuffer(b"ACGTA" * 400, np.uint8).copy()
    dna[5::6] = ord("N")
    held_out = HeldOutDNA(from_strings([dna.tobytes().decode()]), np.array([0]), np.array([dna.size]), "N-rich DNA")
    with pytest.raises(StatisticUnavailable, match="N-rich DNA: no A/C/G/T base with 5 A/C/G/T bases on either side"):
        sample_positions(held_out, 10, seed=0, margin=5)
