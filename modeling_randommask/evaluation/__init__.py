"""Task metrics (MCC, accuracy, F1, ROC AUC, Pearson/Spearman), offline, also as an ``evaluate`` module."""

from .metrics import (
    DNA_METRICS,
    PRIMARY_METRIC,
    classification_metrics,
    compute_metrics,
    load_dna_metrics,
    regression_metrics,
)

__all__ = ["DNA_METRICS", "PRIMARY_METRIC", "classification_metrics", "compute_metrics", "load_dna_metrics",
           "regression_metrics"]
