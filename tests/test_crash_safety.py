"""SIGKILL during a checkpoint write: ``checkpoints/latest`` still names a complete earlier checkpoint, the run
resumes from it, and its final weights equal an uninterrupted run's, bitwise (CPU).

The victim runs in a real subprocess whose save path is paused at a chosen point (``conftest.run_paused`` wraps
accelerate's file writer and ``os.replace``), so the kill lands inside the write every time instead of by luck:
- ``mid_save_state``: accelerate has written the model weights and the optimizer, not the rest of the state;
- ``before_rename``: the staging folder is complete but not yet renamed to ``step-N``;
- ``before_pointer``: ``step-N`` exists but ``latest`` still names the previous checkpoint.
"""

import json
import subprocess
from pathlib import Path

import pytest
import torch
from conftest import QUICK_PRETRAIN, kill_when_paused, run_paused
from safetensors.torch import load_file

QUICK = QUICK_PRETRAIN
pytestmark = pytest.mark.slow  # every test kills and resumes real pretraining subprocesses
TARGET = "step-00000008"  # the checkpoint write that gets killed; step-00000004 is complete by then


def _run(args: list[str], tmp_path: Path, pause: str = "none") -> tuple[subprocess.Popen, Path]:
    return run_paused([*QUICK, *args], tmp_path, pause, TARGET)


def _finish(process: subprocess.Popen) -> None:
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output[-3000:]


def _losses(folder: Path) -> dict[int, float]:
    lines = (folder / "training_log.jsonl").read_text().splitlines()
    return {r["step"]: r["loss"] for r in map(json.loads, lines) if "loss" in r and "event" not in r}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("whole")
    _finish(_run(["--output_dir", str(folder / "run")], folder)[0])
    return folder / "run"


@pytest.mark.parametrize("pause", ["mid_save_state", "before_rename", "before_pointer"])
def test_kill_during_checkpoint_write_keeps_latest_valid_and_resume_is_exact(tmp_path, uninterrupted, pause):
    out = tmp_path / "run"
    kill_when_paused(*_run(["--output_dir", str(out)], tmp_path, pause))

    root = out / "checkpoints"
    assert (root / "latest").read_text() == "step-00000004"
    previous = root / "step-00000004"
    assert {"model.safetensors", "optimizer.bin", "random_states_0.pkl", "training_state.json"} <= {
        p.name for p in previous.iterdir()}
    assert json.loads((previous / "training_state.json").read_text())["step"] == 4
    staging = root / f".staging-{TARGET}"
    if pause == "mid_save_state":
        assert staging.is_dir() and not (staging / "training_state.json").exists()
    elif pause == "before_rename":
        assert (staging / "training_state.json").is_file()
    else:
        assert (root / TARGET / "training_state.json").is_file() and not staging.exists()
    assert not (out / "model.safetensors").exists()

    _finish(_run(["--output_dir", str(out), "--resume_from_checkpoint", "latest"], tmp_path)[0])
    assert _losses(out) == _losses(uninterrupted)
    whole, resumed = load_file(uninterrupted / "model.safetensors"), load_file(out / "model.safetensors")
    assert whole.keys() == resumed.keys() and all(torch.equal(whole[k], resumed[k]) for k in whole)
    assert (root / "latest").read_text() == "step-00000012" and not list(root.glob(".staging-*"))
