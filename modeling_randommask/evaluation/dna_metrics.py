"""The task metrics as a Hugging Face ``evaluate`` module that ships in this package and loads offline.

    import evaluate
    from modeling_randommask.evaluation import DNA_METRICS
    metric = evaluate.load(DNA_METRICS, "classification")     # a local path: no Hub call
    metric.compute(predictions=logits, references=labels)     # {"mcc": ..., "accuracy": ..., "f1": ..., ...}

``evaluate.load`` copies this file and its sibling ``metrics.py`` (the relative import below) into its module
cache and imports them from there, so the numbers are those of ``metrics.py``: scikit-learn and scipy, nothing
reimplemented. Configurations: ``classification`` takes the model's logits (a row of C scores per example, so
that ROC AUC can rank) and integer labels; ``regression`` takes one or several predicted values per example.
"""

import datasets
import evaluate

from .metrics import classification_metrics, regression_metrics

_DESCRIPTION = """DNA sequence task metrics of the RandomMask package. classification: MCC (the paper's headline
metric), accuracy, F1 (binary: of class 1; multi-class: macro), macro F1, ROC AUC (softmax of the logits).
regression: Pearson r, Spearman rho and MSE, per target and their means. Values are in their natural scale (MCC
in [-1, 1]); undefined ones (ROC AUC with one class present, a correlation with a constant) are NaN."""

_INPUTS = """predictions: classification: logits, one row of C floats per example (C >= 2); regression: one float,
or a row of T floats, per example. references: classification: the class id per example; regression: one float
or a row of T floats. regression also takes target_names (T names) for the per-target keys."""

_CITATION = """@article{liang2023rethinking,
  title={Rethinking the BERT-like Pretraining for DNA Sequences},
  author={Liang, Chaoqi and others}, journal={arXiv preprint arXiv:2310.07644}, year={2023}}"""

_FEATURES = {
    "classification": datasets.Features({"predictions": datasets.Sequence(datasets.Value("float32")),
                                         "references": datasets.Value("int64")}),
    "regression": [
        datasets.Features({"predictions": datasets.Value("float32"), "references": datasets.Value("float32")}),
        datasets.Features({"predictions": datasets.Sequence(datasets.Value("float32")),
                           "references": datasets.Sequence(datasets.Value("float32"))}),
    ],
}


class DnaMetrics(evaluate.Metric):
    """``evaluate`` face of ``classification_metrics`` / ``regression_metrics``."""

    def _info(self) -> evaluate.MetricInfo:
        if self.config_name not in _FEATURES:
            raise KeyError(f"dna_metrics configuration must be one of {sorted(_FEATURES)}, got {self.config_name!r}")
        return evaluate.MetricInfo(description=_DESCRIPTION, citation=_CITATION, inputs_description=_INPUTS,
                                   features=_FEATURES[self.config_name])

    def _compute(self, predictions, references, target_names=None) -> dict[str, float]:
        if self.config_name == "classification":
            return classification_metrics(references, predictions)
        return regression_metrics(references, predictions, target_names)
