"""Fine-tuning on real GUE data: a briefly pretrained tiny model beats the majority class; folders, cards, table."""

import json
from pathlib import Path

import pytest
import yaml
from conftest import DATA_DIR, LAMBDA, REPO, lambda_genome
from huggingface_hub import ModelCard
from transformers import AutoModelForSequenceClassification, AutoTokenizer, TrainingArguments

from modeling_randommask.analysis.benchmark import run_benchmark
from modeling_randommask.data.tasks import task_folders
from modeling_randommask.training.finetune_recipes import finetune_training_arguments
from modeling_randommask.training.finetuning import FinetuneArguments, finetune, summarise
from modeling_randommask.training.pretrain_arguments import parse_args
from modeling_randommask.training.pretraining import pretrain

GUE = DATA_DIR / "gue"
TATA = GUE / "prom" / "prom_core_tata"

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _needs_gue(gue):
    """Every test here fine-tunes on GUE's prom_core_tata: skip (naming it) when the test data is absent."""


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pretrained") / "tiny"
    pretrain(*parse_args([
        "--genome", str(LAMBDA), "--output_dir", str(out),
        "--max_length", "72", "--per_device_train_batch_size", "16", "--max_steps", "30", "--warmup_steps", "3",
        "--log_every", "10", "--eval_every", "30", "--save_every", "30", "--eval_batches", "2",
        "--val_fraction", "0.05",
    ]))
    return out


def _quick(model: Path, out: Path, task: Path = TATA, **options) -> tuple[FinetuneArguments, TrainingArguments]:
    """Quick settings: 2 epochs at lr 1e-3; ``FinetuneArguments`` fields in ``options`` go there, the rest to the
    Trainer, over the paper's recipe for ``task``."""
    own = {name: options.pop(name) for name in list(options) if name in FinetuneArguments.__dataclass_fields__}
    return (FinetuneArguments(model=str(model), task=str(task), **own),
            finetune_training_arguments(task, output_dir=str(out), **{"num_train_epochs": 2, "learning_rate": 1e-3}
                                        | options))


def test_briefly_trained_model_beats_the_majority_class_on_core_promoters(pretrained, tmp_path, recwarn):
    results = finetune(*_quick(pretrained, tmp_path / "ft", seeds=[1, 2]))
    assert not [w for w in recwarn if "pin_memory" in str(w.message)], "pinned memory asked for on a CPU-only machine"

    assert results["paper_column"] == "CPD tata" and results["kind"] == "binary"
    assert results["test"]["mcc"]["n"] == 2 and results["test"]["mcc"]["mean"] > 0.0
    assert json.loads((tmp_path / "ft" / "results.json").read_text())["test"] == results["test"]

    folder = tmp_path / "ft" / "model"
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    assert model.config.num_labels == 2 and tokenizer.kmer_stride == 1
    card = ModelCard.load(folder / "README.md")
    assert card.data.base_model == str(pretrained)
    metrics = {m["type"]: m["value"] for m in card.data.to_dict()["model-index"][0]["results"][0]["metrics"]}
    assert metrics["matthews_correlation"] == pytest.approx(results["test"]["mcc"]["mean"])


def test_non_overlapping_retokenization_is_one_flag(pretrained, tmp_path):
    results = finetune(*_quick(pretrained, tmp_path / "nt", tokenization="non_overlapping", max_steps=20))
    with pytest.raises(FileExistsError, match="overwrite_output_dir"):
        finetune(*_quick(pretrained, tmp_path / "nt", max_steps=20))
    assert results["tokenization"] == "non_overlapping"
    saved = json.loads((tmp_path / "nt" / "model" / "config.json").read_text())
    assert (saved["kmer_size"], saved["kmer_stride"]) == (6, 6)


def test_benchmark_runner_prints_the_table_and_writes_the_pretrained_card(pretrained, tmp_path):
    table = run_benchmark(FinetuneArguments(model=str(pretrained)), [str(TATA)], baselines=False,
                          output_dir=str(tmp_path / "bench"), max_steps=10, learning_rate=1e-3)
    assert "| prom/prom_core_tata | CPD tata | overlapping | mcc |" in table
    assert (tmp_path / "bench" / "benchmark.md").read_text().strip() == table
    metadata = yaml.safe_load((pretrained / "README.md").read_text().split("---")[1])
    (recorded,) = metadata["model-index"][0]["results"]
    assert recorded["dataset"]["config"] == "prom/prom_core_tata" and recorded["dataset"]["split"] == "test"
    mcc = json.loads((tmp_path / "bench" / "benchmark.json").read_text())[0]["pretrained"]["test"]["mcc"]["mean"]
    assert recorded["metrics"][0]["value"] == pytest.approx(100 * mcc)


def test_task_discovery_and_seed_summary():
    assert TATA in task_folders(GUE) and len(task_folders(GUE)) == 5
    with pytest.raises(FileNotFoundError, match="no task folder"):
        task_folders(REPO / "examples")
    assert summarise([0.5, 0.7]) == pytest.approx({"mean": 0.6, "std": 0.1414213562, "n": 2})
    assert summarise([float("nan")])["n"] == 0
    with pytest.raises(ValueError, match="--task is required"):
        finetune(FinetuneArguments(model="x"), TrainingArguments(output_dir="unused"))


def test_two_target_regression_runs_end_to_end(pretrained, tmp_path):
    """A DeepSTARR-shaped task (two activity columns) built from lambda DNA: GC and A content plus noise."""
    import random

    dna = lambda_genome()
    rng = random.Random(0)
    folder = tmp_path / "EAP" / "toy"
    folder.mkdir(parents=True)
    for split, (count, offset) in {"train": (300, 0), "dev": (60, 25_000), "test": (60, 32_000)}.items():
        lines = ["sequence,Dev_log2_enrichment,Hk_log2_enrichment"]
        for i in range(count):
            seq = dna[offset + 60 * i : offset + 60 * i + 60]
            lines.append(f"{seq},{(seq.count('G') + seq.count('C')) / 20 + rng.gauss(0, 0.1):.4f},"
                         f"{seq.count('A') / 20 + rng.gauss(0, 0.1):.4f}")
        (folder / f"{split}.csv").write_text("\n".join(lines) + "\n")

    results = finetune(*_quick(pretrained, tmp_path / "reg", task=folder, max_steps=20,
                               label_columns=["Dev_log2_enrichment", "Hk_log2_enrichment"]))
    assert results["kind"] == "regression" and results["primary_metric"] == "pearson"
    assert {"pearson_Dev_log2_enrichment", "pearson_Hk_log2_enrichment", "pearson"} <= set(results["test"])
    config = json.loads((tmp_path / "reg" / "model" / "config.json").read_text())
    assert config["problem_type"] == "regression" and len(config["id2label"]) == 2
