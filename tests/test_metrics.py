"""Metrics against hand-computed values (numpy, never the scikit-learn / scipy calls the metrics make)."""

import logging
import math

import numpy as np
import pytest
from transformers import EvalPrediction

from modeling_randommask.evaluation.metrics import (
    PRIMARY_METRIC,
    classification_metrics,
    compute_metrics,
    regression_metrics,
)


def _logits_for(preds: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes)[preds] * 4.0 - 2.0


def test_binary_hand_computed():
    # TP=3, FN=1, FP=1, TN=3.
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    preds = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    m = classification_metrics(labels, _logits_for(preds, 2))
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["mcc"] == pytest.approx((3 * 3 - 1 * 1) / math.sqrt(4 * 4 * 4 * 4))  # 0.5
    assert m["f1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 1))  # 0.75
    assert m["f1_macro"] == pytest.approx(0.75)


def test_binary_auc_hand_computed():
    # Scores (class-1 minus class-0 logit) rank positives over negatives in 3 of 4 pairs -> AUC 0.75.
    labels = np.array([0, 0, 1, 1])
    margin = np.array([0.1, 0.4, 0.35, 0.8])
    logits = np.stack([np.zeros(4), margin], axis=1)
    assert classification_metrics(labels, logits)["roc_auc"] == pytest.approx(0.75)


def test_perfect_and_inverted_predictions():
    labels = np.array([0, 1, 0, 1, 1])
    assert classification_metrics(labels, _logits_for(labels, 2))["mcc"] == pytest.approx(1.0)
    assert classification_metrics(labels, _logits_for(1 - labels, 2))["mcc"] == pytest.approx(-1.0)


def test_multiclass_metrics_match_their_definitions():
    """Against the definitions, not against scikit-learn (which computes them): Gorodkin's multi-class MCC from the
    confusion matrix, macro F1 per class, and one-vs-rest AUC as the share of (positive, negative) pairs ranked right."""
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 300)
    logits = rng.normal(size=(300, 4)) + 1.5 * np.eye(4)[labels]
    m = classification_metrics(labels, logits)
    preds = logits.argmax(1)
    confusion = np.zeros((4, 4))
    np.add.at(confusion, (labels, preds), 1)
    n, correct, true, predicted = confusion.sum(), np.trace(confusion), confusion.sum(1), confusion.sum(0)
    mcc = (correct * n - true @ predicted) / np.sqrt((n**2 - predicted @ predicted) * (n**2 - true @ true))
    f1 = np.mean(2 * np.diag(confusion) / (true + predicted))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    pairs = [(probs[labels == c, c][:, None] - probs[labels != c, c][None, :]) for c in range(4)]
    auc = np.mean([((d > 0) + 0.5 * (d == 0)).mean() for d in pairs])
    assert (m["mcc"], m["f1"], m["f1_macro"], m["roc_auc"]) == pytest.approx((mcc, f1, f1, auc))
    assert 0.4 < m["mcc"] < 1.0


def test_single_class_split_auc_is_nan_with_warning(caplog):
    labels = np.zeros(6, dtype=int)
    logits = np.random.default_rng(0).normal(size=(6, 2))
    with caplog.at_level(logging.WARNING, logger="modeling_randommask.evaluation.metrics"):
        m = classification_metrics(labels, logits)
    assert math.isnan(m["roc_auc"])
    assert "only class [0]" in caplog.text
    assert not math.isnan(m["mcc"]) and not math.isnan(m["accuracy"])


def test_multiclass_auc_skips_absent_class(caplog):
    labels = np.array([0, 0, 1, 1, 0, 1])  # class 2 never occurs
    logits = np.random.default_rng(2).normal(size=(6, 3))
    with caplog.at_level(logging.WARNING, logger="modeling_randommask.evaluation.metrics"):
        m = classification_metrics(labels, logits)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    pairs = [(probs[labels == c, c][:, None] - probs[labels != c, c][None, :]) for c in (0, 1)]  # by hand, not sklearn
    assert m["roc_auc"] == pytest.approx(np.mean([((d > 0) + 0.5 * (d == 0)).mean() for d in pairs]))
    assert "classes [2]" in caplog.text


def test_bad_logit_shape_is_an_error():
    with pytest.raises(ValueError, match="logits"):
        classification_metrics(np.array([0, 1]), np.array([0.2, 0.9]))


def test_regression_hand_computed():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([2.0, 4.0, 6.0, 8.0])  # perfectly linear
    m = regression_metrics(y, p)
    assert m["pearson"] == pytest.approx(1.0)
    assert m["spearman"] == pytest.approx(1.0)
    assert m["mse"] == pytest.approx((1 + 4 + 9 + 16) / 4)
    p2 = np.array([1.0, 3.0, 2.0, 4.0])  # one swapped pair: rho = 1 - 6*2/(4*15) = 0.8; r = 4 / sqrt(5 * 5) = 0.8
    assert regression_metrics(y, p2)["spearman"] == pytest.approx(0.8)
    assert regression_metrics(y, p2)["pearson"] == pytest.approx(0.8)


def test_regression_several_targets_per_target_and_mean():
    rng = np.random.default_rng(3)
    y = rng.normal(size=(80, 2))
    p = y + rng.normal(scale=[0.3, 1.5], size=(80, 2))
    m = regression_metrics(y, p, ["Dev_log2_enrichment", "Hk_log2_enrichment"])
    dev, hk = (np.corrcoef(y[:, t], p[:, t])[0, 1] for t in (0, 1))  # numpy, not the scipy the metrics use
    assert m["pearson_Dev_log2_enrichment"] == pytest.approx(dev)
    assert m["pearson_Hk_log2_enrichment"] == pytest.approx(hk)
    assert m["pearson"] == pytest.approx((dev + hk) / 2)
    ranks = np.argsort(np.argsort(np.stack([y[:, 1], p[:, 1]]), axis=1), axis=1)  # no ties in normal draws
    assert m["spearman_Hk_log2_enrichment"] == pytest.approx(np.corrcoef(ranks)[0, 1])
    assert dev > hk


def test_constant_predictions_give_nan(caplog):
    with caplog.at_level(logging.WARNING, logger="modeling_randommask.evaluation.metrics"):
        m = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([5.0, 5.0, 5.0]))
    assert math.isnan(m["pearson"]) and math.isnan(m["spearman"])
    assert "predictions are constant" in caplog.text


def test_compute_metrics_for_trainer():
    labels = np.array([1, 0, 1, 1])
    logits = _logits_for(np.array([1, 0, 0, 1]), 2)
    hidden = np.zeros((4, 3, 8))
    out = compute_metrics("binary")(EvalPrediction(predictions=(logits, hidden), label_ids=labels))
    assert out == classification_metrics(labels, logits)
    assert PRIMARY_METRIC["binary"] in out

    y = np.array([[0.5], [1.5], [1.0]])
    reg = compute_metrics("regression", ["activity"])(EvalPrediction(predictions=y * 2, label_ids=y[:, 0]))
    assert reg["pearson"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="kind"):
        compute_metrics("ranking")


# --- the evaluate module (dna_metrics.py): the same numbers, loaded from the package, offline -----------------------


def test_the_evaluate_module_gives_the_functions_numbers():
    import evaluate

    from modeling_randommask.evaluation import DNA_METRICS

    rng = np.random.default_rng(4)
    for classes in (2, 4):
        labels = rng.integers(0, classes, 120)
        logits = (rng.normal(size=(120, classes)) + np.eye(classes)[labels]).astype(np.float32)
        module = evaluate.load(DNA_METRICS, "classification")
        assert module.compute(predictions=logits, references=labels) == classification_metrics(labels, logits)
    y = rng.normal(size=(60, 2)).astype(np.float32)
    p = (y + rng.normal(size=(60, 2))).astype(np.float32)
    module = evaluate.load(DNA_METRICS, "regression")
    assert module.compute(predictions=p, references=y, target_names=["dev", "hk"]) == regression_metrics(
        y, p, ["dev", "hk"])
    assert module.compute(predictions=p[:, 0], references=y[:, 0]) == regression_metrics(y[:, 0], p[:, 0])
    with pytest.raises(KeyError, match="classification"):
        evaluate.load(DNA_METRICS, "ranking")


def test_compute_metrics_scores_token_tasks_per_base():
    from modeling_randommask.data.base_labels import BaseAlignment

    base_labels = np.array([0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0], dtype=np.int8)  # two sequences of 6 bases
    bases = BaseAlignment.from_lengths([6, 6], k=3, stride=1, base_labels=base_labels)  # 4 tokens each, centre 1
    token_logits = np.zeros((2, 6, 2), dtype=np.float32)
    token_logits[0, 1:5, 1] = [-1, 1, 1, -1]  # predicts bases 1..4 of sequence 0 as 0, 1, 1, 0
    token_logits[1, 1:5, 1] = [-1, -1, 1, 1]
    out = compute_metrics("token", bases=bases)(EvalPrediction(predictions=token_logits, label_ids=None))
    predicted = np.array([[-1, -1, 1, 1, -1, -1], [-1, -1, -1, 1, 1, 1]]).reshape(-1)  # edges copy their neighbour
    true, positive = base_labels == 1, predicted > 0
    tp, tn, fp, fn = (true & positive).sum(), (~true & ~positive).sum(), (~true & positive).sum(), (true & ~positive).sum()
    assert out["mcc"] == pytest.approx((tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
    assert out["accuracy"] == pytest.approx(np.mean(base_labels == (predicted > 0)))
    with pytest.raises(ValueError, match="token task needs bases"):
        compute_metrics("token")
