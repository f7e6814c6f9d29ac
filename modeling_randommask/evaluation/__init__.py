"""Task metrics (MCC, accuracy, F1, ROC AUC, Pearson/Spearman), offline, also as an ``evaluate`` module."""

from .. import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    ".metrics": ["DNA_METRICS", "PRIMARY_METRIC", "classification_metrics", "compute_metrics", "load_dna_metrics",
                 "regression_metrics"],
})
