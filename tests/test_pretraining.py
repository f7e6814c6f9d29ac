"""End-to-end pretraining on real DNA: the output folder, determinism, two gloo ranks. Exact resume after kill -9:
test_corpus_store (killed between checkpoints, against an uninterrupted in-RAM run) and test_crash_safety (killed
inside a checkpoint write)."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import QUICK_PRETRAIN, REPO, read_log, run_script
from safetensors.torch import load_file
from transformers import AutoModelForMaskedLM

from modeling_randommask.hub.travelling_files import TRAVELLING_FILES
from modeling_randommask.hub.upload import files_to_upload
from modeling_randommask.masking import MASKING_FILE
from modeling_randommask.training.pretrain_arguments import RECIPES, parse_args
from modeling_randommask.training.pretraining import pretrain
from modeling_randommask.training.run_log import read_training_log

QUICK = QUICK_PRETRAIN

pytestmark = pytest.mark.slow


def _losses(folder: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_log(folder) if "loss" in r and "event" not in r}


# Runs pretrain() in a fresh process (accelerate's state is per process) and prints the dtypes that nn.Linear
# layers produced in training.
_LINEAR_DTYPES = """
import sys, torch
from modeling_randommask.training.pretrain_arguments import parse_args
from modeling_randommask.training.pretraining import pretrain
from modeling_randommask.training.run_log import read_training_log
seen = set()
def record(module, inputs, output):
    if isinstance(module, torch.nn.Linear) and module.training:
        seen.add(str(output.dtype))
torch.nn.modules.module.register_module_forward_hook(record)
pretrain(*parse_args(sys.argv[1:]))
print("linear output dtypes:", sorted(seen))
"""


def test_bf16_autocast_and_torch_compile_also_run_on_cpu(tmp_path):
    """The GPU options work here too: `--mixed_precision bf16` runs the linear layers in bfloat16 (weights and the
    saved model stay float32); `--torch_compile` trains and saves a folder with plain parameter names."""
    bf16 = tmp_path / "bf16"
    run = run_script([*QUICK, "--max_steps", "6", "--mixed_precision", "bf16", "--output_dir", str(bf16)],
                      program=("-c", _LINEAR_DTYPES))
    output, _ = run.communicate(timeout=600)
    assert run.returncode == 0, output[-3000:]
    assert "linear output dtypes: ['torch.bfloat16']" in output
    assert all(math.isfinite(loss) for loss in _losses(bf16).values())
    assert {t.dtype for t in load_file(bf16 / "model.safetensors").values()} == {torch.float32}

    out = tmp_path / "compiled"
    run = run_script([*QUICK, "--max_steps", "3", "--num_phases", "1", "--eval_every", "3", "--save_every", "3",
                       "--torch_compile", "--output_dir", str(out)])
    output, _ = run.communicate(timeout=1200)
    assert run.returncode == 0, output[-3000:]
    assert not [name for name in load_file(out / "model.safetensors") if name.startswith("_orig_mod")]
    assert AutoModelForMaskedLM.from_pretrained(out, trust_remote_code=True).config.model_type == "randommask"


def test_recipe_fills_only_unset_options(capsys):
    args, data = parse_args(["--recipe", "paper", "--learning_rate", "5e-4"])
    assert args.model_preset == "base" and data.max_length == 512 and args.global_batch_size == 512
    assert args.max_steps == RECIPES["paper"]["max_steps"] == 480_000
    assert args.learning_rate == 5e-4  # given explicitly: the recipe does not override it
    assert parse_args(["--recipe", "paper-nt"])[0].tokenization == "non_overlapping"
    with pytest.raises(SystemExit):
        parse_args(["--recipe", "nope"])
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_pretrain_writes_a_loadable_model_folder_with_card_and_log(tmp_path):
    out = tmp_path / "run"
    pretrain(*parse_args([*QUICK, "--output_dir", str(out)]))

    model = AutoModelForMaskedLM.from_pretrained(out, trust_remote_code=True)
    assert model.config.model_type == "randommask" and (out / "model.safetensors").is_file()
    card = (out / "README.md").read_text()
    assert "fill-mask" in card and "lambda_NC_001416.fa.gz" in card
    assert "## Bits per base on held-out DNA" in card and "| order-5 Markov, 5 bases before |" in card

    log = read_log(out)
    losses = _losses(out)
    assert sorted(losses) == list(range(1, 13)) and all(math.isfinite(v) for v in losses.values())
    phase_ends = [r["step"] for r in log if r.get("phase_end")]
    assert phase_ends == [4, 8, 12]  # 12 steps, 3 phases: validation at every phase boundary
    assert {r["phase"] for r in log if "loss" in r and "event" not in r} == {0, 1, 2}
    curve = read_training_log(out)  # throughput and the share of time spent waiting for the DataLoader
    assert (curve.tokens_per_s > 0).all() and ((curve.data_wait_fraction >= 0) & (curve.data_wait_fraction < 1)).all()
    assert len(curve.data_wait_fraction) == 12
    assert (out / "checkpoints" / "latest").read_text() == "step-00000012"

    uploaded = files_to_upload(out)
    assert {"config.json", "model.safetensors", "README.md", "tokenizer_config.json", "vocab.txt",
            "training_log.jsonl", *TRAVELLING_FILES} <= set(uploaded)
    assert any((out / "logs").rglob("*tfevents*")) and not any(f.startswith(("checkpoints/", "logs/")) for f in uploaded)

    saved = json.loads((out / "checkpoints" / "step-00000012" / MASKING_FILE).read_text())
    assert (saved["total_steps"], saved["num_phases"]) == (12, 3)
    with pytest.raises(ValueError, match=f"{MASKING_FILE}: the checkpoint was trained with masking"):
        pretrain(*parse_args([*QUICK, "--output_dir", str(out), "--resume_from_checkpoint", "latest",
                             "--num_phases", "2"]))
    with pytest.raises(FileExistsError, match="not empty"):
        pretrain(*parse_args([*QUICK, "--output_dir", str(out)]))


def test_one_seed_gives_identical_checkpoints_in_two_processes(tmp_path):
    """Pretraining seeds hold: the same command and seed in two fresh processes give bitwise-equal weights (and
    another seed does not), so a spread over seeds is seed variance, not unseeded noise."""
    runs = {name: tmp_path / name for name in ("first", "again", "other")}
    for name, out in runs.items():
        seed = ["--seed", "7"] if name != "other" else ["--seed", "8"]
        process = run_script([*QUICK, *seed, "--output_dir", str(out)])
        assert process.wait(timeout=600) == 0, process.stdout.read()
    first, again, other = (load_file(out / "model.safetensors") for out in runs.values())
    assert first.keys() == again.keys() and all(torch.equal(first[k], again[k]) for k in first)
    assert _losses(runs["first"]) == _losses(runs["again"])
    assert not all(torch.equal(first[k], other[k]) for k in first)


@pytest.mark.parametrize("program", [[str(REPO / "examples" / "pretrain.py")], ["-m", "modeling_randommask", "pretrain"]],
                         ids=["script", "module"])
def test_two_gloo_ranks_read_different_windows_under_one_schedule(tmp_path, program):
    """``accelerate launch examples/pretrain.py`` and ``accelerate launch -m modeling_randommask pretrain``."""
    out = tmp_path / "ddp"
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", ACCELERATE_USE_CPU="1", PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
               *program, *QUICK, "--max_steps", "6", "--output_dir", str(out)]
    done = subprocess.run(command, check=False, env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr

    log = read_log(out)
    assert log[0]["world_size"] == 2
    steps = [r for r in log if "batch_fingerprints" in r]
    assert steps and all(len(set(r["batch_fingerprints"])) == 2 for r in steps)
    assert all(len(set(r["phases_by_rank"])) == 1 for r in steps)
    AutoModelForMaskedLM.from_pretrained(out, trust_remote_code=True)
    assert (out / ".randommask.lock").read_text() == ""  # rank 0 alone held the folder's lock, and released it
