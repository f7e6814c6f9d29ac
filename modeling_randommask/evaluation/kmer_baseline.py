"""The simplest honest baseline for a DNA task: a linear model on k-mer frequencies, measured on the same splits.

A fine-tuned language model that loses to it has learned nothing the k-mer composition does not already say.
Features are the frequencies of the 4**k overlapping k-mers of each sequence (k-mers holding N or other non-ACGT
letters are left out), a sparse ``[sequences, 4**k]`` matrix. Classification: L2 logistic regression; regression:
ridge, one model for all targets. The regularisation strength is chosen on dev by the task's primary metric (MCC or
Pearson r); a task without dev chooses on a seeded 10% of train held out for it, then refits on all of train.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from ..data.tasks import TaskData
from ..tokenization import NUM_SPECIAL_TOKENS, KmerTokenizer
from .metrics import PRIMARY_METRIC, classification_metrics, regression_metrics

logger = logging.getLogger(__name__)

STRENGTHS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
"""Grid of inverse regularisation strengths (C for logistic regression, 1/alpha for ridge)."""


def kmer_frequencies(sequences: Sequence[str], k: int = 6) -> sparse.csr_matrix:
    """``[len(sequences), 4**k]`` overlapping k-mer frequencies (k-mer ids as in ``KmerTokenizer``, minus specials)."""
    tokenizer = KmerTokenizer(k=k)
    ids = tokenizer(list(sequences), add_special_tokens=False)["input_ids"]
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    columns = np.concatenate([np.asarray(row, dtype=np.int64) for row in ids]) if ids else np.zeros(0, np.int64)
    rows = np.repeat(np.arange(len(ids)), lengths)
    known = columns >= NUM_SPECIAL_TOKENS  # [UNK] (a k-mer with N) and the other specials are not features
    counts = sparse.csr_matrix((np.ones(known.sum()), (rows[known], columns[known] - NUM_SPECIAL_TOKENS)),
                               shape=(len(ids), 4**k))
    totals = np.asarray(counts.sum(axis=1)).ravel()
    return sparse.diags(1.0 / np.maximum(totals, 1.0)) @ counts


def _fit(kind: str, strength: float, features, labels, seed: int):
    from sklearn.linear_model import LogisticRegression, Ridge

    if kind == "regression":
        return Ridge(alpha=1.0 / strength).fit(features, labels)
    return LogisticRegression(C=strength, max_iter=5000, random_state=seed).fit(features, labels)


def _metrics(kind: str, model, features, labels, target_names: Sequence[str]) -> dict[str, float]:
    if kind == "regression":
        return regression_metrics(labels, model.predict(features), target_names if len(target_names) > 1 else None)
    probabilities = model.predict_proba(features)
    return classification_metrics(labels, np.log(np.clip(probabilities, 1e-12, None)))  # softmax(log p) = p


def kmer_baseline(task: TaskData, k: int = 6, train_indices: np.ndarray | None = None, seed: int = 0) -> dict:
    """Fit the k-mer baseline on ``task`` (optionally on the training rows ``train_indices``, the subset a
    fine-tuning run used) and return ``{"model", "k", "train_examples", "strength", "selection", "dev", "test"}``: the chosen
    regularisation, the metric it was chosen by, and the metrics on dev (when present) and test."""
    kind, primary = task.kind, PRIMARY_METRIC[task.kind]
    features = {split: kmer_frequencies(seqs, k) for split, seqs in task.sequences.items()}
    labels = dict(task.labels)
    if train_indices is not None:
        features["train"], labels["train"] = features["train"][train_indices], labels["train"][train_indices]
    if "dev" in features:
        fit_x, fit_y, pick_x, pick_y, selection = features["train"], labels["train"], features["dev"], labels["dev"], "dev"
    else:
        order = np.random.default_rng(seed).permutation(features["train"].shape[0])
        held, kept = order[: max(1, len(order) // 10)], order[max(1, len(order) // 10):]
        fit_x, fit_y, pick_x, pick_y = features["train"][kept], labels["train"][kept], features["train"][held], \
            labels["train"][held]
        selection = "10% of train held out"
    scores = {}
    for strength in STRENGTHS:
        model = _fit(kind, strength, fit_x, fit_y, seed)
        scores[strength] = _metrics(kind, model, pick_x, pick_y, task.label_names)[primary]
    best = max(STRENGTHS, key=lambda s: -np.inf if np.isnan(scores[s]) else scores[s])
    model = _fit(kind, best, features["train"], labels["train"], seed)
    result = {"model": f"{k}-mer {'ridge' if kind == 'regression' else 'logistic'} regression", "k": k,
              "train_examples": features["train"].shape[0], "strength": best,
              "selection": {"on": selection, "metric": primary, "scores": scores}}
    for split in ("dev", "test"):
        if split in features:
            result[split] = _metrics(kind, model, features[split], labels[split], task.label_names)
    logger.info("%s: %s, strength %g chosen on %s: test %s %.4f", task.name, result["model"], best, selection, primary,
                result["test"][primary])
    return result
