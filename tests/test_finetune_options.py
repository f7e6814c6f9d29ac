"""Fine-tuning options: every TrainingArguments option, the paper's recipe for what is not given, the recipe's batch
as the global batch (split over processes and accumulation, checked with 2 real processes), and bad options."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from synthetic_tasks import tiny_checkpoint, write_gc_task
from transformers import TrainingArguments

from modeling_randommask.analysis.benchmark import parse_benchmark_args
from modeling_randommask.training.finetune_recipes import TRAINER_DEFAULTS, finetune_training_arguments
from modeling_randommask.training.finetuning import FinetuneArguments, finetune, parse_finetune_args

CPD = "gue/prom/prom_core_tata"  # family CPD: batch 32, lr 1e-4, 10 epochs (the task folder need not exist here)
EMP = "gue/EMP/H3"  # family EMP: batch 32, lr 3e-5, 100 epochs


def _parse(tmp_path, task: str, *options: str):
    return parse_finetune_args(["--model", "m", "--task", task, "--output_dir", str(tmp_path), *options])


def test_a_given_trainer_option_wins_over_the_paper_recipe_and_the_rest_is_the_recipe(tmp_path):
    args, training = _parse(tmp_path, CPD, "--learning_rate", "3e-4", "--use_cpu", "--bf16",
                             "--lr_scheduler_type", "cosine")
    assert (training.learning_rate, training.bf16, training.lr_scheduler_type) == (3e-4, True, "cosine")
    assert (training.num_train_epochs, training.per_device_train_batch_size, training.weight_decay) == (10, 32, 0.0)
    assert training.warmup_steps == TRAINER_DEFAULTS["warmup_steps"] and args.model == "m"

    _, emp = _parse(tmp_path, EMP, "--num_train_epochs", "2", "--weight_decay", "0.01")
    assert (emp.num_train_epochs, emp.weight_decay, emp.learning_rate) == (2, 0.01, 3e-5)

    _, other = _parse(tmp_path, "my/own_task")  # outside the paper's families: its common recipe, 3 epochs
    assert (other.learning_rate, other.num_train_epochs, other.per_device_train_batch_size) == (1e-4, 3, 32)


def test_the_recipe_batch_is_global_split_over_accumulation_unless_a_batch_is_given(tmp_path):
    def run(task, **options):
        return finetune_training_arguments(task, output_dir=str(tmp_path), **options)

    assert run(CPD, gradient_accumulation_steps=4).per_device_train_batch_size == 8
    assert run("x/EAP/deepstarr", gradient_accumulation_steps=2).per_device_train_batch_size == 32  # EAP: 64
    given = run(CPD, per_device_train_batch_size=5, gradient_accumulation_steps=3)
    assert (given.per_device_train_batch_size, given.gradient_accumulation_steps) == (5, 3)
    with pytest.raises(ValueError, match=r"batch 32 cannot be split evenly .* 3 accumulation steps: pass "
                                         r"per_device_train_batch_size"):
        run(CPD, gradient_accumulation_steps=3)


def test_the_benchmark_lays_given_trainer_options_over_each_task_recipe(tmp_path):
    bench, args, options = parse_benchmark_args(["--model", "m", "--tasks", "a", "b", "--learning_rate", "1e-3",
                                                 "--output_dir", str(tmp_path)])
    assert (bench.tasks, args.model, options) == (["a", "b"], "m", {"learning_rate": 1e-3, "output_dir": str(tmp_path)})


@pytest.mark.parametrize("argv, message", [
    (["--max_step", "5"], "unrecognized arguments: --max_step"),
    (["--seed", "3", "--seeds", "1", "2"], "not both"),
    (["--seeds", "1", "1"], "--seeds 1 1: give each value once (repeated: 1)"),
    (["--seeds", "3", "1", "3", "1"], "(repeated: 1, 3)"),
    (["--resume_from_checkpoint", "no/such/checkpoint"], "--resume_from_checkpoint: fine-tuning does not resume"),
    (["--resume_from_checkpoint", "{tmp}"], "--resume_from_checkpoint: fine-tuning does not resume"),
    (["--resume_from_checkpoint=True"], "--resume_from_checkpoint: fine-tuning does not resume"),
])
def test_abbreviations_and_contradictions_are_refused(tmp_path, capsys, argv, message):
    """Duplicate seeds were accepted and reported as "mean ± std over 2 seeds"; --resume_from_checkpoint (a Trainer
    option finetune never passed on) was accepted, even naming no folder, and training started from scratch."""
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    with pytest.raises(SystemExit):
        _parse(tmp_path, CPD, *argv)
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("model, error, message", [
    ("{tmp}/no/such/model", FileNotFoundError, "no such folder"),
    ("./missing-model", FileNotFoundError, "no such folder"),
    ("nobody/missing-model", FileNotFoundError, "no such local folder, and as a Hub repo id it could not be loaded"),
    ("{tmp}/task/train.csv", NotADirectoryError, "is a file"),
    ("{tmp}/task", FileNotFoundError, "the folder has no config.json"),
])
def test_a_model_that_is_not_there_is_named_as_such_before_anything_is_written(tmp_path, model, error, message):
    write_gc_task(tmp_path / "task", {"train": 8, "test": 4})
    args = FinetuneArguments(model=model.format(tmp=tmp_path), task=str(tmp_path / "task"))
    with pytest.raises(error, match=message):
        finetune(args, TrainingArguments(output_dir=str(tmp_path / "out")))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("options, message", [
    ({"lora_r": -1}, "--lora_r must be >= 0"), ({"lora_r": 4, "lora_dropout": 1.0}, "--lora_dropout must be < 1"),
    ({"max_train_samples": 0}, "--max_train_samples must be > 0"), ({"seeds": []}, "at least one seed"),
    ({"seeds": [2, 2]}, "--seeds 2 2: give each value once"),
])
def test_bad_package_options_are_refused_when_made(tmp_path, options, message):
    """(--seeds 2 2 included: a repeated seed would be counted twice in the mean ± std.)"""
    with pytest.raises(ValueError, match=message):
        FinetuneArguments(model="m", task=str(tmp_path), **options)


def test_a_late_error_leaves_the_model_folder_whole(tmp_path, monkeypatch):
    """model/ was written in place: an error (or a kill) after the weights left config and code without a card,
    or config without weights. It is written beside and renamed: a rerun's late error keeps the earlier model."""
    from modeling_randommask.training import finetuning

    pretrained = tiny_checkpoint(tmp_path / "tiny")
    task = write_gc_task(tmp_path / "prom" / "prom_core_toy", {"train": 16, "dev": 8, "test": 8})
    out = tmp_path / "ft"
    argv = ["--model", str(pretrained), "--task", str(task), "--output_dir", str(out), "--max_steps", "1",
            "--per_device_train_batch_size", "8", "--overwrite_output_dir"]
    finetune(*parse_finetune_args(argv))
    before = {p.name: p.read_bytes() for p in (out / "model").iterdir()}

    def fails(*_):
        raise RuntimeError("late error")

    monkeypatch.setattr(finetuning, "render_finetuned_card", fails)
    with pytest.raises(RuntimeError, match="late error"):
        finetune(*parse_finetune_args([*argv, "--seed", "7"]))
    assert {p.name: p.read_bytes() for p in (out / "model").iterdir()} == before
    assert not [p.name for p in out.iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize("seeds", [["1", "1"], ["0", "2", "0"], ["5", "5", "5"]])
def test_reproduce_refuses_repeated_fine_tuning_seeds(tmp_path, capsys, seeds):
    """reproduce accepted --finetune_seeds 1 1 and reported a mean ± std over two runs that were one."""
    from modeling_randommask.analysis.reproduction import parse_reproduce_args

    with pytest.raises(SystemExit):
        parse_reproduce_args(["--tasks", "t", "--output_dir", str(tmp_path), "--finetune_seeds", *seeds])
    assert f"--finetune_seeds {' '.join(seeds)}: give each value once" in capsys.readouterr().err


def test_resume_from_checkpoint_is_not_offered(capsys):
    with pytest.raises(SystemExit):
        parse_finetune_args(["--help"])
    assert "--resume_from_checkpoint" not in capsys.readouterr().out


@pytest.mark.slow
def test_the_command_line_says_a_missing_model_folder_is_missing(tmp_path):
    run = subprocess.run([sys.executable, str(REPO / "examples" / "finetune.py"), "--model", str(tmp_path / "nope"),
                          "--task", str(tmp_path), "--output_dir", str(tmp_path / "out")],
                         env=dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO)), cwd=REPO,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode != 0
    assert f"model '{tmp_path / 'nope'}': no such folder" in run.stderr and "Repo id" not in run.stderr


@pytest.mark.slow
def test_two_processes_share_the_paper_global_batch(tmp_path):
    """2 gloo ranks on CPU, accumulation 2: per device 8 = 32 / (2 x 2), so 96 examples take 3 optimizer steps (with
    the recipe's 32 used per device, as before, they would take 1)."""
    model = tiny_checkpoint(tmp_path / "tiny")
    task = write_gc_task(tmp_path / "prom" / "prom_core_toy", {"train": 96, "dev": 16, "test": 16})  # CPD recipe
    out = tmp_path / "ft"
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0"]
    env = dict(os.environ, ACCELERATE_USE_CPU="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    run = subprocess.run([*launch, str(REPO / "examples" / "finetune.py"), "--model", str(model), "--task", str(task),
                          "--output_dir", str(out), "--num_train_epochs", "1", "--gradient_accumulation_steps", "2"],
                         env=env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-4000:]
    results = json.loads((out / "results.json").read_text())
    hyper = results["hyper_parameters"]
    assert (hyper["devices"], hyper["per_device_train_batch_size"], hyper["gradient_accumulation_steps"]) == (2, 8, 2)
    assert hyper["global_batch_size"] == 32 and hyper["learning_rate"] == 1e-4  # the CPD recipe's
    assert results["seeds"][0]["optimizer_steps"] == 3
    assert run.stdout.count("wrote ") == 1  # one summary, from the main process
    assert Path(out / "model" / "model.safetensors").is_file()


@pytest.mark.slow
def test_one_seed_gives_identical_metrics_in_two_processes(tmp_path):
    """The head (classifier, pooler) is drawn under the seed: two fresh processes with --seeds 3 give the same dev and
    test figures."""
    model = tiny_checkpoint(tmp_path / "tiny")
    task = write_gc_task(tmp_path / "prom" / "prom_core_toy", {"train": 48, "dev": 16, "test": 16})
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))

    def run(name: str, *seeds: str) -> dict:
        out = tmp_path / name
        done = subprocess.run([sys.executable, str(REPO / "examples" / "finetune.py"), "--model", str(model),
                               "--task", str(task), "--output_dir", str(out), "--num_train_epochs", "1",
                               "--learning_rate", "1e-3", "--per_device_train_batch_size", "16", "--seeds", *seeds],
                              env=env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-4000:]
        return json.loads((out / "results.json").read_text())

    first, second = run("a", "3"), run("b", "3")
    assert first["seeds"][0]["dev"] == second["seeds"][0]["dev"]
    assert first["seeds"][0]["test"] == second["seeds"][0]["test"]
