"""Fine-tuning metrics (scikit-learn / scipy), offline; ``dna_metrics.py`` serves them as an ``evaluate`` module.

Classification: MCC (the paper's headline metric, reported x100), accuracy, F1 (binary: of class 1; multi-class:
macro), macro F1, ROC AUC (binary: class-1 probability; multi-class: macro one-vs-rest over the classes present).
Regression: Pearson r (the paper's metric for enhancer activity) and Spearman rho per target and their means, MSE.
Values are plain floats in their natural scale (MCC in [-1, 1]). A metric that is undefined on the split (ROC AUC
with a single class present, a correlation with a constant vector) is NaN, and a warning says why. Token tasks
(a label per base) are scored per base with the classification metrics (see ``data.base_labels``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import special, stats
from sklearn import metrics as skm

if TYPE_CHECKING:
    import evaluate

    from ..data.base_labels import BaseAlignment

logger = logging.getLogger(__name__)

PRIMARY_METRIC = {"binary": "mcc", "multiclass": "mcc", "regression": "pearson", "token": "mcc"}
"""The paper's metric per task kind; use as ``TrainingArguments(metric_for_best_model=...)``."""

CLASSIFICATION_METRICS = ("mcc", "accuracy", "f1", "f1_macro", "roc_auc")
REGRESSION_METRICS = ("pearson", "spearman", "mse")


def metric_names(kind: str, target_names: Sequence[str] = ()) -> list[str]:
    """What an evaluation of a ``kind`` task reports (the loss beside its metrics; per target too with several
    regression targets): the names ``metric_for_best_model`` may give."""
    if kind != "regression":
        return ["loss", *CLASSIFICATION_METRICS]
    per_target = [f"{key}_{name}" for name in target_names for key in REGRESSION_METRICS] if len(target_names) > 1 else []
    return ["loss", *REGRESSION_METRICS, *per_target]


DNA_METRICS = str(Path(__file__).with_name("dna_metrics.py"))
"""Path of the ``evaluate`` module: ``evaluate.load(DNA_METRICS, "classification" | "regression")``, offline."""


def _roc_auc(labels: np.ndarray, probs: np.ndarray) -> float:
    """Binary AUC of class 1, or the macro mean of one-vs-rest AUCs over classes with positives and negatives."""
    present = np.unique(labels)
    if present.size < 2:
        logger.warning("ROC AUC is undefined: only class %s occurs in the labels; reporting NaN", present.tolist())
        return float("nan")
    if probs.shape[1] == 2:
        return float(skm.roc_auc_score(labels, probs[:, 1]))
    if present.size < probs.shape[1]:
        absent = np.setdiff1d(np.arange(probs.shape[1]), present).tolist()
        logger.warning("ROC AUC: classes %s do not occur in the labels; macro mean over the other classes", absent)
    return float(np.mean([skm.roc_auc_score(labels == c, probs[:, c]) for c in present]))


def classification_metrics(labels: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """Metrics from integer ``labels [N]`` and the model's ``logits [N, C]`` (C >= 2): predictions are the
    argmax, ROC AUC ranks by the softmax probabilities."""
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[1] < 2 or logits.shape[0] != labels.shape[0]:
        raise ValueError(f"expected logits [N, C>=2] for {labels.shape[0]} labels, got shape {logits.shape}")
    preds = logits.argmax(axis=1)
    num_classes = logits.shape[1]
    classes = np.arange(num_classes)
    f1_macro = float(skm.f1_score(labels, preds, labels=classes, average="macro", zero_division=0))
    return dict(zip(CLASSIFICATION_METRICS, (
        float(skm.matthews_corrcoef(labels, preds)),
        float(skm.accuracy_score(labels, preds)),
        float(skm.f1_score(labels, preds, zero_division=0)) if num_classes == 2 else f1_macro,
        f1_macro,
        _roc_auc(labels, special.softmax(logits, axis=1)),
    ), strict=True))


def _correlation(fn: Callable, x: np.ndarray, y: np.ndarray, what: str) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        side = "targets" if np.ptp(x) == 0 else "predictions"
        logger.warning("%s is undefined: the %s are constant; reporting NaN", what, side)
        return float("nan")
    return float(fn(x, y).statistic)


def regression_metrics(
    labels: np.ndarray, predictions: np.ndarray, target_names: Sequence[str] | None = None
) -> dict[str, float]:
    """Pearson, Spearman and MSE of ``predictions`` against ``labels`` (``[N]`` or ``[N, T]``). With several
    targets: ``pearson_<name>`` etc. per target and ``pearson``/``spearman``/``mse`` as their means."""
    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(predictions, dtype=np.float64)
    y = y.reshape(len(y), -1)
    p = p.reshape(len(p), -1)
    if y.shape != p.shape:
        raise ValueError(f"labels {y.shape} and predictions {p.shape} differ in shape")
    names = list(target_names) if target_names is not None else [str(t) for t in range(y.shape[1])]
    if len(names) != y.shape[1]:
        raise ValueError(f"{len(names)} target names for {y.shape[1]} targets")
    per_target = {
        name: {
            "pearson": _correlation(stats.pearsonr, y[:, t], p[:, t], f"Pearson r ({name})"),
            "spearman": _correlation(stats.spearmanr, y[:, t], p[:, t], f"Spearman rho ({name})"),
            "mse": float(np.mean((y[:, t] - p[:, t]) ** 2)),
        }
        for t, name in enumerate(names)
    }
    out = {key: float(np.mean([m[key] for m in per_target.values()])) for key in REGRESSION_METRICS}
    if len(names) > 1:
        out |= {f"{key}_{name}": value for name, m in per_target.items() for key, value in m.items()}
    return out


def load_dna_metrics(kind: str) -> evaluate.EvaluationModule:
    """The ``evaluate`` module for a task kind (``TaskData.kind``), loaded from this package: no Hub call."""
    import evaluate

    if kind not in PRIMARY_METRIC:
        raise ValueError(f"kind must be one of {sorted(PRIMARY_METRIC)}, got {kind!r}")
    return evaluate.load(DNA_METRICS, "regression" if kind == "regression" else "classification",
                         keep_in_memory=True)


def compute_metrics(kind: str, target_names: Sequence[str] | None = None,
                    bases: BaseAlignment | None = None) -> Callable[[Any], dict[str, float]]:
    """A ``compute_metrics`` for ``transformers.Trainer`` (``EvalPrediction -> dict``): the functions the ``evaluate``
    module ``DNA_METRICS`` serves, called directly (its Arrow round trip adds nothing here). ``kind`` is the task kind (``"binary"``, ``"multiclass"``, ``"regression"``,
    ``"token"``, as ``TaskData.kind``); a token task scores bases, so it needs the evaluated split's ``bases``
    (``BaseAlignment`` with labels): token logits are mapped to bases, and the references are the base labels."""
    if (kind == "token") != (bases is not None):
        raise ValueError("a token task needs bases=BaseAlignment(...) of the evaluated split; other kinds take none")
    if bases is not None and bases.labels is None:
        raise ValueError("bases has no labels: build it with BaseAlignment.from_lengths(..., base_labels=...)")
    if kind not in PRIMARY_METRIC:
        raise ValueError(f"kind must be one of {sorted(PRIMARY_METRIC)}, got {kind!r}")

    def _compute(eval_prediction: Any) -> dict[str, float]:
        predictions, labels = eval_prediction.predictions, eval_prediction.label_ids
        if isinstance(predictions, (tuple, list)):  # model returned extra outputs (hidden states, ...)
            predictions = predictions[0]
        if bases is not None:
            return classification_metrics(bases.labels, bases.gather(predictions))
        if kind == "regression":
            rows = len(labels)
            return regression_metrics(labels.reshape(rows, -1), predictions.reshape(rows, -1), target_names)
        return classification_metrics(labels, predictions)

    return _compute
