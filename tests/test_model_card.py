"""Model cards: metadata parses back with exactly the run's figures, model-index round-trips through
huggingface_hub's own parsing, and no number in a card's text comes from anywhere but the info dict."""

import copy
import json
import math
import re

import pytest
import yaml
from conftest import DATA_DIR, require
from huggingface_hub import ModelCard, metadata_eval_result
from huggingface_hub.repocard_data import model_index_to_eval_results

from modeling_randommask.data.tasks import load_task
from modeling_randommask.hub.model_card import (
    RESULTS_END,
    RESULTS_START,
    add_benchmark_results,
    render_finetuned_card,
    render_pretrained_card,
    task_info,
)

GUE = DATA_DIR / "gue"

PRETRAINED = {
    "model_name": "randommask-tiny-ecoli-test",
    "repo_id": "someone/randommask-tiny-ecoli-test",
    "datasets": ["someone/ecoli-windows"],
    "architecture": {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 2, "kmer_size": 6,
                     "kmer_stride": 1, "num_parameters": 812347},
    "training_data": {
        "genomes": [{"name": "E. coli K-12 MG1655", "bases": 4639675, "source": "NCBI NC_000913"},
                    {"name": "phage lambda", "bases": 48502, "source": "NCBI NC_001416"}],
        "window_tokens": 128,
        "train_windows": 35117,
    },
    "masking_schedule": {"total_steps": 1003, "num_phases": 5, "min_span": 6, "max_span_start": 6,
                         "span_increment": 2, "centre_probability": 0.025},
    "training": {"steps": 1003, "batch_size": 32, "learning_rate": 0.0005, "final_train_loss": 7.5123,
                 "final_eval_loss": 7.6178, "hardware": "2-core CPU"},
    "limitations": ["Trained for 1003 steps on a CPU."],
}


def _numbers(text: str) -> set[str]:
    """Numbers in a card's text (thousands separators dropped), the citation block left out."""
    text = text.split("```bibtex")[0]
    return {n.replace(",", "") for n in re.findall(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:e-?\d+)?", text)}


def _info_numbers(info) -> set[str]:
    return set(re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", json.dumps(info)))


@pytest.fixture
def pretrained_card(tmp_path):
    path = tmp_path / "README.md"
    render_pretrained_card(PRETRAINED).save(path)
    return path


def test_pretrained_metadata_parses_back(pretrained_card):
    card = ModelCard.load(pretrained_card)
    assert card.data.library_name == "transformers" and card.data.license == "apache-2.0"
    assert card.data.pipeline_tag == "fill-mask"
    assert card.data.tags == ["dna", "genomics", "randommask", "masked-language-modeling"]
    assert card.data.model_name == PRETRAINED["model_name"] and card.data.datasets == PRETRAINED["datasets"]
    assert card.data.eval_results is None and card.data.base_model is None
    assert 'from_pretrained("someone/randommask-tiny-ecoli-test", trust_remote_code=True)' in card.text
    assert "arXiv:2310.07644" in card.text


def test_pretrained_text_numbers_all_come_from_info(pretrained_card):
    text = ModelCard.load(pretrained_card).text
    # Phase table derived from the schedule: 1003 steps in 5 phases start at ceil(p * 1003 / 5).
    firsts = [0, 201, 402, 602, 803]
    for p, first in enumerate(firsts):
        last = (firsts[p + 1] if p < 4 else 1003) - 1
        assert f"| {p} | {first:,} | {last:,} | 6 to {6 + 2 * p} |" in text
        assert first * 5 // 1003 == p == last * 5 // 1003  # DESIGN.md's phase rule, at both ends
    derived = {str(v) for v in firsts + [200, 401, 601, 802, 1002, 8, 10, 12, 14] + list(range(5))}
    for figure in ("4,639,675", "48,502", "35,117", "812,347", "7.5123", "7.6178", "0.0005", "0.025", "1,003"):
        assert figure in text
    assert _numbers(text) <= _info_numbers(PRETRAINED) | derived | {"2310.07644"}


@pytest.mark.parametrize("drop", ["training", "masking_schedule", "training.final_train_loss", "training.steps",
                                  "genomes"])
def test_pretrained_missing_figures_are_errors(drop):
    info = copy.deepcopy(PRETRAINED)
    if drop == "training.final_train_loss":
        del info["training"]["final_train_loss"]
    elif drop == "training.steps":
        info["training"]["steps"] = None  # a run that never measured it
    elif drop == "genomes":
        del info["training_data"]["genomes"]
    else:
        del info[drop]
    with pytest.raises(ValueError, match=drop.split(".")[-1]):
        render_pretrained_card(info)


def _finetuned_info():
    task = load_task(require(GUE / "prom" / "prom_core_tata"))
    return {
        "model_name": "randommask-tiny-cpd-tata",
        "base_model": "someone/randommask-tiny-ecoli-test",
        "task": task_info(task),
        "hyperparameters": {"batch_size": 32, "learning_rate": 0.0001, "epochs": 3, "weight_decay": 0.0,
                            "max_length": 67, "seed": 11},
        "results": {
            "dev": {"eval_loss": 0.52, "eval_mcc": 0.5012, "eval_accuracy": 0.7504, "eval_f1": 0.7011,
                    "eval_f1_macro": 0.7407, "eval_roc_auc": 0.8133, "eval_runtime": 3.21, "epoch": 3.0},
            "test": {"mcc": 0.4817, "accuracy": 0.7406, "f1": 0.6911, "f1_macro": 0.7305, "roc_auc": math.nan},
        },
    }


def test_finetuned_metadata_holds_exactly_the_measured_figures(tmp_path):
    info = _finetuned_info()
    path = tmp_path / "README.md"
    render_finetuned_card(info).save(path)
    card = ModelCard.load(path)
    assert card.data.base_model == "someone/randommask-tiny-ecoli-test"
    assert card.data.pipeline_tag == "text-classification" and "sequence-classification" in card.data.tags
    assert card.data.model_name == "randommask-tiny-cpd-tata"
    got = [(r.dataset_split, r.metric_type, r.metric_name, r.metric_value) for r in card.data.eval_results]
    assert got == [
        ("dev", "matthews_correlation", "MCC", 0.5012), ("dev", "accuracy", "Accuracy", 0.7504),
        ("dev", "f1", "F1", 0.7011), ("dev", "f1", "F1 (macro)", 0.7407), ("dev", "roc_auc", "ROC AUC", 0.8133),
        ("test", "matthews_correlation", "MCC", 0.4817), ("test", "accuracy", "Accuracy", 0.7406),
        ("test", "f1", "F1", 0.6911), ("test", "f1", "F1 (macro)", 0.7305),
    ]  # Trainer bookkeeping (loss, runtime, epoch) and the NaN AUC stay out of the model-index
    r = card.data.eval_results[0]
    assert (r.task_type, r.dataset_type, r.dataset_config, r.dataset_name) == (
        "text-classification", "GUE", "prom/prom_core_tata", "GUE prom/prom_core_tata")
    # The model-index parses with huggingface_hub's own reader into the same results.
    metadata = yaml.safe_load(path.read_text().split("---")[1])
    name, parsed = model_index_to_eval_results(metadata["model-index"])
    assert name == "randommask-tiny-cpd-tata" and parsed == card.data.eval_results
    text = card.text
    assert "| ROC AUC | undefined (NaN) |" in text and "(the column \"CPD tata\"" in text
    assert "| train | `train.csv.gz` | 4,904 |" in text and "| `seed` | 11 |" in text
    assert _numbers(text) <= _info_numbers(info) | {"-1", "1", "2310.07644"}


def test_finetuned_regression_card(tmp_path):
    info = {
        "model_name": "randommask-tiny-deepstarr",
        "base_model": "someone/randommask-tiny-ecoli-test",
        "task": {"name": "deepstarr/enhancers", "kind": "regression",
                 "label_names": ["Dev_log2_enrichment", "Hk_log2_enrichment"],
                 "examples": {"train": 402296, "dev": 40570, "test": 41186}},
        "hyperparameters": {"batch_size": 64},
        "results": {"test": {"pearson": 0.61, "spearman": 0.58, "mse": 1.3, "pearson_Dev_log2_enrichment": 0.65,
                             "pearson_Hk_log2_enrichment": 0.57}},
    }
    card = render_finetuned_card(info)
    by_name = {r.metric_name: r for r in card.data.eval_results}
    assert by_name["Pearson r (Hk_log2_enrichment)"].metric_value == 0.57
    assert by_name["Pearson r (Hk_log2_enrichment)"].metric_config == "Hk_log2_enrichment"
    assert by_name["Pearson r"].metric_type == "pearsonr" and by_name["Pearson r"].metric_value == 0.61
    assert by_name["Pearson r"].dataset_type == "deepstarr/enhancers"  # not a GUE task: no GUE label
    assert "a DNA sequence regression" in card.text and "`Hk_log2_enrichment`" in card.text
    with pytest.raises(ValueError, match="unknown metric 'eval_top5'"):
        render_finetuned_card(info | {"results": {"test": {"eval_top5": 0.2}}})
    with pytest.raises(ValueError, match="results"):
        render_finetuned_card({k: v for k, v in info.items() if k != "results"})


def test_add_benchmark_results(pretrained_card):
    add_benchmark_results(pretrained_card, {"tf/0": 45.127, "prom/prom_core_tata": 50.0}, note="Fine-tuned 3 epochs.")
    card = add_benchmark_results(pretrained_card, {"tf/0": 46.5, "mouse/0": 30.25})
    loaded = ModelCard.load(pretrained_card)
    got = [(r.dataset_config, r.metric_value) for r in loaded.data.eval_results]
    assert got == [("tf/0", 46.5), ("prom/prom_core_tata", 50.0), ("mouse/0", 30.25)]  # replaced in place
    assert [r.metric_name for r in loaded.data.eval_results] == ["MCC x 100"] * 3
    assert loaded.data.eval_results == card.data.eval_results
    # Each entry equals what huggingface_hub's metadata_eval_result builds for the same result.
    metadata = yaml.safe_load(pretrained_card.read_text().split("---")[1])
    first = metadata["model-index"][0]["results"][0]
    expected = metadata_eval_result(
        model_pretty_name=PRETRAINED["model_name"], task_pretty_name="DNA sequence classification",
        task_id="text-classification", metrics_pretty_name="MCC x 100", metrics_id="matthews_correlation",
        metrics_value=46.5, dataset_pretty_name="GUE tf/0", dataset_id="GUE", dataset_config="tf/0",
        dataset_split="test",
    )["model-index"][0]["results"][0]
    expected["metrics"][0].pop("verified")
    assert first == expected
    block = loaded.text.split(RESULTS_START)[1].split(RESULTS_END)[0]
    assert "| tf/0 | TF-H 0 | test | 46.50 |" in block and "| mouse/0 | TF-M 0 | test | 30.25 |" in block
    assert "45.13" not in block and "Fine-tuned 3 epochs." in block  # old value gone, note kept
    assert loaded.text.count(RESULTS_START) == 1 and "## Limitations" in loaded.text


def test_add_benchmark_results_errors_and_foreign_cards(tmp_path, pretrained_card):
    with pytest.raises(ValueError, match="finite"):
        add_benchmark_results(pretrained_card, {"tf/0": math.nan})
    foreign = tmp_path / "foreign.md"
    foreign.write_text("---\nlicense: mit\n---\n# Some model\n")
    with pytest.raises(ValueError, match="no model_name"):
        add_benchmark_results(foreign, {"tf/0": 40.0})
    foreign.write_text("---\nlicense: mit\nmodel_name: other\n---\n# Some model\n")
    card = add_benchmark_results(foreign, {"EMP/H3": 60.0})
    assert card.text.endswith(f"| EMP/H3 | EMP H3 | test | 60.00 |\n{RESULTS_END}\n")
    assert ModelCard.load(foreign).data.license == "mit"


def test_table_cells_escape_pipes_from_fasta_headers():
    info = copy.deepcopy(PRETRAINED)
    info["training_data"]["genomes"] = [{"name": "lambda.fa", "bases": 48502,
                                         "source": "lambda.fa (first record gi|9626243|ref|NC_001416.1|)"}]
    row = next(line for line in render_pretrained_card(info).text.splitlines() if line.startswith("| lambda.fa"))
    assert row == "| lambda.fa | 48,502 |  |  | lambda.fa (first record gi\\|9626243\\|ref\\|NC_001416.1\\|) |"


def test_card_reports_the_genome_mix():
    info = copy.deepcopy(PRETRAINED)
    info["training_data"]["genomes"][0] |= {"train_windows": 35056, "sampling_share": 0.5}
    info["training_data"]["genomes"][1] |= {"train_windows": 369, "sampling_share": 0.5}
    text = render_pretrained_card(info).text
    assert "| genome | bases | training windows per epoch | share of training windows | source |" in text
    assert "| E. coli K-12 MG1655 | 4,639,675 | 35,056 | 0.5 | NCBI NC_000913 |" in text
    assert "| phage lambda | 48,502 | 369 | 0.5 | NCBI NC_001416 |" in text
