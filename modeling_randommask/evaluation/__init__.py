"""Task metrics (MCC, accuracy, F1, ROC AUC, Pearson/Spearman), offline."""

from .metrics import PRIMARY_METRIC, classification_metrics, compute_metrics, regression_metrics

__all__ = ["PRIMARY_METRIC", "classification_metrics", "compute_metrics", "regression_metrics"]
