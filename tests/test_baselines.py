"""Honest baselines in the benchmark: the same architecture from scratch and a k-mer model, in the same run, on the
same rows, each fine-tuned model with its own learning rate chosen on dev; the gain and its spread reach the cards."""

import json
import math

import pytest
import torch
from conftest import LAMBDA
from safetensors.torch import load_file

from modeling_randommask.analysis.baselines import finetune_with_tuned_rate, gain
from modeling_randommask.analysis.benchmark import run_benchmark
from modeling_randommask.data.demo_task import write_phage_host_task
from modeling_randommask.training.finetune_recipes import finetune_training_arguments
from modeling_randommask.training.finetuning import FinetuneArguments
from modeling_randommask.training.pretrain_arguments import parse_args
from modeling_randommask.training.pretraining import pretrain

pytestmark = pytest.mark.slow  # pretrains, then fine-tunes two models on a task


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory):
    root = tmp_path_factory.mktemp("baselines")
    model = pretrain(*parse_args(["--genome", str(LAMBDA), "--output_dir", str(root / "model"), "--max_length", "64",
                                  "--per_device_train_batch_size", "16", "--max_steps", "20", "--warmup_steps", "2",
                                  "--log_every", "10", "--eval_every", "20", "--save_every", "20",
                                  "--val_fraction", "0.05"]))
    tasks = root / "tasks"
    write_phage_host_task(tasks / "demo" / "phage-host", per_class=(80, 30, 30))
    table = run_benchmark(FinetuneArguments(model=str(model), seeds=[1, 2], max_train_samples=120), [str(tasks)],
                          learning_rates=[1e-3, 3e-3], output_dir=str(root / "bench"), max_steps=12)
    return model, root / "bench", table


def test_the_table_sets_the_checkpoint_against_from_scratch_and_kmers(benchmark):
    _, bench, table = benchmark
    (row,) = json.loads((bench / "benchmark.json").read_text())
    header, _, line = table.splitlines()
    assert "| pretrained (x100) | from scratch | gain | k-mer linear | seeds |" in header
    pretrained, scratch, kmer = row["pretrained"], row["from_scratch"], row["kmer"]
    expected = gain(pretrained, scratch)
    assert row["gain"] == pytest.approx(expected)
    assert expected["gain"] == pytest.approx(100 * (pretrained["test"]["mcc"]["mean"] - scratch["test"]["mcc"]["mean"]))
    spread = 100 * math.hypot(pretrained["test"]["mcc"]["std"], scratch["test"]["mcc"]["std"])
    assert expected["spread"] == pytest.approx(spread) and expected["within_spread"] == (abs(expected["gain"]) <= spread)
    assert f"{expected['gain']:+.2f} ± {expected['spread']:.2f}" in line
    assert ("(within spread)" in line) == expected["within_spread"]
    # Same rows for all three: the fine-tuned models' capped training set is the k-mer model's.
    assert pretrained["train_examples"] == scratch["train_examples"] == kmer["train_examples"] == 120
    assert f"{100 * kmer['test']['mcc']:.2f}" in line


def test_each_side_chooses_its_learning_rate_on_dev(benchmark):
    _, bench, _ = benchmark
    (row,) = json.loads((bench / "benchmark.json").read_text())
    for side in ("pretrained", "from_scratch"):
        selection = row[side]["learning_rate_selection"]
        assert set(selection["dev"]) == {"0.001", "0.003"}
        best = max(selection["dev"], key=selection["dev"].get)
        assert selection["chosen"] == float(best) == row[side]["hyper_parameters"]["learning_rate"]
        assert len(row[side]["seeds"]) == 2


def test_from_scratch_is_the_same_architecture_with_fresh_weights(benchmark):
    model, bench, _ = benchmark
    scratch = bench / "from-scratch-model"
    assert json.loads((scratch / "config.json").read_text()) == json.loads((model / "config.json").read_text())
    trained, fresh = load_file(model / "model.safetensors"), load_file(scratch / "model.safetensors")
    assert trained.keys() == fresh.keys()
    name = "bert.embeddings.word_embeddings.weight"
    assert not torch.equal(trained[name], fresh[name])
    assert json.loads((model / "config.json").read_text())["classifier_pooling"] == "mean"  # see docs/baselines.md


def test_both_cards_show_the_from_scratch_figure(benchmark):
    model, bench, _ = benchmark
    (row,) = json.loads((bench / "benchmark.json").read_text())
    figure = f"{100 * row['from_scratch']['test']['mcc']['mean']:.2f} ± {100 * row['from_scratch']['test']['mcc']['std']:.2f}"
    for card in (model / "README.md", bench / "demo-phage-host" / "model" / "README.md"):
        text = card.read_text()
        assert "## Against baselines" in text and figure in text and "within that spread" in text


def test_one_seed_keeps_the_chosen_trial_instead_of_training_it_again(benchmark, tmp_path):
    model, bench, _ = benchmark
    task = bench.parent / "tasks" / "demo" / "phage-host"
    out = tmp_path / "tuned"
    results = finetune_with_tuned_rate(FinetuneArguments(model=str(model), task=str(task), seeds=[3],
                                                         max_train_samples=120),
                                       finetune_training_arguments(str(task), output_dir=str(out), max_steps=12),
                                       [1e-3, 3e-3])
    chosen = results["learning_rate_selection"]["chosen"]
    trial = json.loads((out / f"lr-{chosen:g}" / "results.json").read_text())
    assert results["test"] == trial["test"] and results["dev"] == trial["dev"]
    assert not (out / "seed-3").exists()  # the chosen rate was not trained a third time
    saved = json.loads((out / "results.json").read_text())
    assert saved["learning_rate_selection"]["chosen"] == chosen and saved["output_dir"] == str(out)
    assert load_file(out / "model" / "model.safetensors").keys()
