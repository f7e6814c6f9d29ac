"""The in-domain study at toy size on the embedded lambda genome and a synthetic task: every stage runs, the
tables hold every side and Markov model, and a rerun reuses the finished stages."""

import gzip
import json
import re
from dataclasses import replace

import pytest
from conftest import LAMBDA
from synthetic_tasks import write_gc_task

from modeling_randommask.analysis.in_domain import (
    InDomainArguments,
    InputError,
    StageError,
    in_domain,
    parse_in_domain_args,
)
from modeling_randommask.data.genome_windows import GenomeDataConfig
from modeling_randommask.training.pretrain_arguments import PretrainArguments

pytestmark = pytest.mark.slow


def _study(tmp_path, **overrides) -> tuple[InDomainArguments, PretrainArguments, GenomeDataConfig]:
    """A toy study on lambda; ``overrides`` replace InDomainArguments fields."""
    task = tmp_path / "gc"
    if not task.is_dir():
        write_gc_task(task, {"train": 60, "dev": 20, "test": 20})
    return (InDomainArguments(**{"tasks": [str(task)], "pretraining_seeds": [1, 2], "bits_positions": 50, "markov_orders": [2, 3],
                                 "label_sizes": [40], "finetune_epochs": 1, "finetune_batch_size": 16, **overrides}),
            PretrainArguments(output_dir=str(tmp_path / "study"), per_device_train_batch_size=4, max_steps=10,
                              warmup_steps=1, position_embedding_init="sinusoidal"),
            GenomeDataConfig(genome=[str(LAMBDA)], max_length=24, val_fraction=0.05, val_seed=0))


def test_study_runs_every_stage_and_reuses_them(tmp_path):
    report = in_domain(*_study(tmp_path))
    bits = report["bits_per_base"]
    assert set(bits["models"]) == {"dnabert", "randommask", "scratch"}
    assert all(set(seeds) == {"1", "2"} for seeds in bits["models"].values())  # JSON keys
    assert bits["positions"] == 50 and set(bits["markov"]) == {"2", "3"}
    assert all(0 < r["bits_per_base"] < 4 for seeds in bits["models"].values() for r in seeds.values())
    table = report["tables"]["bits_per_base"]
    assert "order-3 Markov, two-sided (1 before, 2 after)" in table and "order-2 Markov, causal (2 before)" in table
    (row,) = report["finetune"]
    assert row["train_examples"] == 40 and [r["seed"] for r in row["sides"]["randommask"]] == [1, 2]
    assert report["tables"]["mcc"].count("\n") == 2 and (tmp_path / "study" / "report.md").is_file()
    pretrained = json.loads((tmp_path / "study" / "costs.json").read_text())
    assert {f"pretrain {m} seed {s}" for m in ("dnabert", "randommask") for s in (1, 2)} <= set(pretrained)

    # Each model against the best two-sided Markov model at the same positions (mean of differences = difference
    # of means).
    reference = bits["markov_reference"]
    centred = {order: result["centred"]["bits_per_base"] for order, result in bits["markov"].items()}
    assert reference["context"] == "centred" and centred[str(reference["order"])] == min(centred.values())
    for run in (r for seeds in bits["models"].values() for r in seeds.values()):
        assert run["vs_markov"]["difference"] == pytest.approx(run["bits_per_base"] - min(centred.values()))
        assert run["vs_markov"]["standard_error"] > 0
    # ... and with the first masking's model of the same seed.
    assert bits["reference_masking"] == "dnabert" and "vs_reference_masking" not in bits["models"]["dnabert"]["1"]
    for side in ("randommask", "scratch"):
        for seed, run in bits["models"][side].items():
            assert run["vs_reference_masking"]["difference"] == pytest.approx(
                run["bits_per_base"] - bits["models"]["dnabert"][seed]["bits_per_base"])
    assert f"vs {reference['label']} (bits) | vs DNABERT masking (bits) |" in table and "(SE " in table

    again = in_domain(*_study(tmp_path))  # every model and fine-tuning run is reused: same figures
    assert again["finetune"] == report["finetune"] and again["bits_per_base"] == report["bits_per_base"]

    # A bits file from before the paired comparison is measured again, to the same figures.
    bits_file = tmp_path / "study" / "bits_per_base.json"
    bits_file.write_text(json.dumps({k: v for k, v in bits.items() if k not in ("reference_masking", "settings")}))
    assert in_domain(*_study(tmp_path))["bits_per_base"] == report["bits_per_base"]

    # A wider grid reuses the models; with several rates each side chooses on dev with its first seed only.
    tuned = in_domain(*_study(tmp_path, label_sizes=[30], finetune_learning_rates=[1e-3, 3e-3]))
    (row,) = tuned["finetune"]
    for side, runs in row["sides"].items():
        cells = tmp_path / "study" / "finetune" / row["task"] / "n30"
        chosen = json.loads((cells / f"{side}-seed1" / "results.json").read_text())["learning_rate_selection"]["chosen"]
        assert [r["learning_rate"] for r in runs] == [chosen, chosen]
        assert not list((cells / f"{side}-seed2").glob("lr-*"))
    assert "(lr " in tuned["tables"]["mcc"]


@pytest.mark.parametrize("bad, option", [({"pretraining_seeds": [1, 1]}, "--pretraining_seeds"), ({"markov_orders": [12]}, "--markov_orders"),
                                         ({"label_sizes": [0]}, "--label_sizes"), ({"maskings": []}, "--maskings")])
def test_bad_options_name_the_option(tmp_path, bad, option):
    with pytest.raises(ValueError, match=option):
        _study(tmp_path, **bad)
    assert not (tmp_path / "study").exists()


def test_pretraining_options_come_from_pretrain_and_what_the_study_sets_is_refused(capsys):
    args, pretraining, data = parse_in_domain_args(["--max_steps", "300", "--batch_size", "16"])
    assert (pretraining.max_steps, pretraining.per_device_train_batch_size, data.max_length) == (300, 16, 64)
    assert data.val_seed == 0 and pretraining.output_dir == "outputs/in-domain" and args.pretraining_seeds == [1, 2, 3]
    with pytest.raises(SystemExit):
        parse_in_domain_args(["--seed", "5", "--masking", "dnabert"])
    assert "--masking: the study sets it (--maskings); --seed: the study sets it (--pretraining_seeds)" in capsys.readouterr().err


@pytest.mark.parametrize("given", [[], ["dnabert"], ["randommask"], ["nt"], ["dnabert", "randommask", "nt"]])
def test_every_masking_value_parses(given):
    """``list[Literal]`` options were refused whatever their value ("invalid Literal value: 'dnabert'")."""
    args = parse_in_domain_args(["--maskings", *given] if given else [])[0]
    assert args.maskings == (given or ["dnabert", "randommask"])


def test_an_unknown_masking_is_a_usage_error_naming_the_choices(capsys):
    with pytest.raises(SystemExit):
        parse_in_domain_args(["--maskings", "dnabert", "bert"])
    assert "argument --maskings: invalid choice: 'bert'" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"--maskings: unknown preset 'bert'; choose from randommask, dnabert, nt"):
        InDomainArguments(maskings=["bert"])


def _small(tmp_path, max_steps=6, genome=LAMBDA, **overrides):
    """One masking, one seed, no fine-tuning: the cheapest whole study."""
    return (InDomainArguments(**{"tasks": [], "maskings": ["dnabert"], "pretraining_seeds": [1], "bits_positions": 30,
                                 "markov_orders": [2], **overrides}),
            PretrainArguments(output_dir=str(tmp_path / "study"), per_device_train_batch_size=4, max_steps=max_steps,
                              warmup_steps=1),
            GenomeDataConfig(genome=[str(genome)], max_length=24, val_fraction=0.05, val_seed=0))


def test_a_stage_is_reused_only_under_the_settings_it_was_run_with(tmp_path):
    """A rerun with another --max_steps (or genome) reused the old models and bits, and report.md stated the new
    budget."""
    study = tmp_path / "study"
    first = in_domain(*_small(tmp_path))
    kept = {name: (study / name).read_bytes() for name in ("results.json", "report.md", "bits_per_base.json")}
    with pytest.raises(StageError) as error:
        in_domain(*_small(tmp_path, max_steps=8))
    message = str(error.value)
    assert "pretrain dnabert seed 1 was run with other settings:\n  max_steps: 6 -> 8\n" in message, message
    assert "another --output_dir" in message
    other = tmp_path / "other.fa"
    other.write_bytes(gzip.decompress(LAMBDA.read_bytes()).replace(b"GATC", b"GTAC"))
    with pytest.raises(StageError, match=r"\n  genome_sha256: '\w{12}\.\.\.' -> '\w{12}\.\.\.'\n"):
        in_domain(*_small(tmp_path, genome=other))
    assert {name: (study / name).read_bytes() for name in kept} == kept  # refused before anything was written
    again = in_domain(*_small(tmp_path, bits_positions=40))  # same models; the bits are measured again
    assert again["bits_per_base"]["positions"] == 40 and again["settings"]["pretraining"]["max_steps"] == 6
    assert again["bits_per_base"]["models"]["dnabert"]["1"] != first["bits_per_base"]["models"]["dnabert"]["1"]


@pytest.mark.parametrize("damaged", ["bits_per_base.json", "costs.json", "pretrain/dnabert-seed1/stage_settings.json"])
def test_a_damaged_stage_file_is_an_error_naming_it(tmp_path, damaged):
    in_domain(*_small(tmp_path))
    path = tmp_path / "study" / damaged
    path.write_text('{"torn": ')
    with pytest.raises(StageError, match=rf"{re.escape(str(path))}: not valid JSON .*delete it"):
        in_domain(*_small(tmp_path))


def test_tasks_are_checked_before_the_first_stage(tmp_path):
    bad = tmp_path / "bad"
    write_gc_task(bad, {"train": 20, "dev": 10, "test": 10})
    train = bad / "train.csv"
    train.write_text(train.read_text().replace(",0\n", ",maybe\n", 1))
    for tasks, named in (([str(tmp_path / "missing")], "missing"), ([str(bad)], "train.csv")):
        with pytest.raises((FileNotFoundError, ValueError), match=named):
            in_domain(*_small(tmp_path, tasks=tasks))
        assert not (tmp_path / "study" / "pretrain").exists()


def _run_settings(run) -> dict:
    (settings,) = run.glob("checkpoints/step-*/run_settings.json")
    return json.loads(settings.read_text())


def test_task_pretraining_continues_each_seed_on_the_task_alone_and_is_fine_tuned_on_it(tmp_path):
    """Each masking checkpoint of seed i is continued on the task's training sequences (and random weights of seed i
    pretrained on them alone); both are fine-tuned on that task beside the other models, and reused on a rerun."""
    options = _study(tmp_path, maskings=["dnabert", "randommask"], pretraining_seeds=[1, 2], task_pretraining_steps=6)
    report = in_domain(*options)
    (row,) = report["finetune"]
    assert set(row["sides"]) == {"dnabert", "randommask", "scratch", "randommask+task", "task-only"}
    assert all([r["seed"] for r in runs] == [1, 2] for runs in row["sides"].values())
    study = tmp_path / "study"
    for seed in (1, 2):
        continued = study / "task-pretrain" / row["task"] / f"randommask+task-seed{seed}"
        parent = study / "pretrain" / f"randommask-seed{seed}"
        settings = _run_settings(continued)
        assert settings["model_name_or_path"] == str(parent) and settings["max_steps"] == 6
        start = next(json.loads(line) for line in (continued / "training_log.jsonl").open() if '"start"' in line)
        assert [g["path"] for g in start["data"]["genomes"]] == [str(tmp_path / "gc" / "train.csv")]  # never dev/test
        assert (continued / "model.safetensors").read_bytes() != (parent / "model.safetensors").read_bytes()
        alone = _run_settings(study / "task-pretrain" / row["task"] / f"task-only-seed{seed}")
        assert alone["model_name_or_path"] is None and alone["position_embedding_init"] == "sinusoidal"
    costs = json.loads((study / "costs.json").read_text())
    assert {f"task pretrain {row['task']} {side} seed {seed}" for side in ("randommask+task", "task-only")
            for seed in (1, 2)} <= set(costs)
    table = report["tables"]["mcc"]
    assert "| RandomMask + task pretraining | task pretraining only (from random weights) |" in table
    text = (study / "report.md").read_text()
    assert "task pretraining: 6 steps per run" in text and "## Validation loss under each run's own masking" in text
    assert set(report["validation_loss"]) == {"dnabert", "randommask"}
    assert [step for step, _ in report["validation_loss"]["dnabert"]["1"]][-1] == 10

    again = in_domain(*options)  # every stage reused
    assert again["finetune"] == report["finetune"] and json.loads((study / "costs.json").read_text()) == costs


@pytest.mark.parametrize("bad, option", [({"task_pretraining_steps": 5, "task_pretraining_masking": "nt"},
                                          "--task_pretraining_masking"),
                                         ({"task_pretraining_steps": 5, "tasks": []}, "--task_pretraining_steps"),
                                         ({"task_pretraining_steps": -1}, "task_pretraining_steps"),
                                         ({"task_pretraining_steps": 4}, "--task_pretraining_steps 4: need 1 <= num_")])
def test_bad_task_pretraining_options_name_the_option(bad, option):
    with pytest.raises(ValueError, match=option):
        InDomainArguments(**bad)


def test_stop_after_pretrain_writes_the_models_only_and_a_later_run_reuses_them(tmp_path):
    study = tmp_path / "study"
    assert in_domain(*_small(tmp_path, stop_after="pretrain")) == {
        "stopped_after": "pretrain", "cpu_seconds": json.loads((study / "costs.json").read_text())}
    assert (study / "pretrain" / "dnabert-seed1" / "model.safetensors").is_file()
    assert not (study / "bits_per_base.json").exists() and not (study / "results.json").exists()
    model = (study / "pretrain" / "dnabert-seed1" / "model.safetensors").read_bytes()
    report = in_domain(*_small(tmp_path, stop_after="bits"))
    assert report["bits_per_base"]["models"]["dnabert"] and report["finetune"] == []
    assert (study / "pretrain" / "dnabert-seed1" / "model.safetensors").read_bytes() == model


def test_compare_with_puts_the_budgets_on_one_curve_and_refuses_another_held_out_block(tmp_path):
    def budget(steps, name, **data):
        args, pretraining, genome = _small(tmp_path, max_steps=steps, maskings=["dnabert", "randommask"])
        pretraining.output_dir = str(tmp_path / name)
        genome.val_seed = data.get("val_seed", 0)
        return args, pretraining, genome

    in_domain(*budget(8, "longer"))
    with pytest.raises(InputError, match="--compare_with .*missing: no results.json"):
        args, pretraining, genome = budget(6, "shorter")
        in_domain(replace(args, compare_with=[str(tmp_path / "missing")]), pretraining, genome)
    assert not (tmp_path / "shorter").exists()  # refused before any stage
    args, pretraining, genome = budget(6, "shorter")
    report = in_domain(replace(args, compare_with=[str(tmp_path / "longer")]), pretraining, genome)
    rows = report["tables"]["curve"].splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == ["| 6", "| 8"]  # sorted by tokens
    assert "RandomMask − DNABERT masking" in report["tables"]["curve"] and "(SE " in rows[0]
    assert "## Bits per base by pretraining budget" in (tmp_path / "shorter" / "report.md").read_text()

    results = tmp_path / "longer" / "results.json"  # edited by hand, then cut short: named, nothing written
    kept = results.read_text()
    for damaged, message in ((json.dumps({k: v for k, v in json.loads(kept).items() if k != "validation_loss"}),
                              "no validation_loss"), (kept[:100], "not valid JSON")):
        results.write_text(damaged)
        args, pretraining, genome = budget(6, "damaged")
        with pytest.raises(StageError, match=f"{re.escape(str(results))}: {message}"):
            in_domain(replace(args, compare_with=[str(tmp_path / "longer")]), pretraining, genome)
        assert not (tmp_path / "damaged").exists()
    results.write_text(kept)

    args, pretraining, genome = budget(6, "elsewhere", val_seed=5)
    with pytest.raises(StageError, match="differs from .* in held_out_blocks"):
        in_domain(replace(args, compare_with=[str(tmp_path / "longer")]), pretraining, genome)


# What the device call overrides nothing of; the CPU dry run shrinks only the work, not the shape of the study.
DRY_RUN = ["--max_steps", "6", "--warmup_steps", "1", "--per_device_train_batch_size", "4", "--num_workers", "0",
           "--mixed_precision", "no", "--bits_positions", "40", "--finetune_epochs", "1"]


def test_the_one_gpu_call_preset_runs_whole_on_the_cpu_at_toy_size(tmp_path):
    """The CPU dry run of the lent-GPU study: the preset's model, windows, seeds, label size and rates, every stage
    through to report.md; the work (steps, batch, positions, epochs) shrunk by explicit options, which win."""
    task = write_gc_task(tmp_path / "gc", {"train": 320, "dev": 40, "test": 40})
    argv = ["--preset", "one-gpu-call", "--genome", str(LAMBDA), "--tasks", str(task),
            "--output_dir", str(tmp_path / "gpu")]
    args, pretraining, data = parse_in_domain_args(argv)
    assert (pretraining.model_preset, data.max_length, pretraining.per_device_train_batch_size,
            pretraining.max_steps, pretraining.mixed_precision, pretraining.num_workers) == ("mini", 128, 256, 3000,
                                                                                             "bf16", 8)
    assert args.pretraining_seeds == [1] and args.label_sizes == [300] and args.finetune_learning_rates == [3e-4, 1e-3, 3e-3]
    assert parse_in_domain_args(["--tasks", str(task)])[1].model_preset == "tiny"  # the cpu preset by default

    report = in_domain(*parse_in_domain_args(argv + DRY_RUN))
    bits = report["bits_per_base"]["models"]
    assert set(bits) == {"dnabert", "randommask", "scratch"} and all(set(s) == {"1"} for s in bits.values())
    (row,) = report["finetune"]
    assert row["train_examples"] == 300 and set(row["sides"]) == {"dnabert", "randommask", "scratch"}
    chosen = json.loads((tmp_path / "gpu" / "finetune" / row["task"] / "n300" / "randommask-seed1" / "results.json")
                        .read_text())["learning_rate_selection"]
    assert sorted(map(float, chosen["dev"])) == [3e-4, 1e-3, 3e-3]
    config = json.loads((tmp_path / "gpu" / "pretrain" / "randommask-seed1" / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"]) == (256, 4)
    assert "mini model" in (tmp_path / "gpu" / "report.md").read_text()
