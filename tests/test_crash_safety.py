"""SIGKILL during a checkpoint write: ``checkpoints/latest`` still names a complete earlier checkpoint, the run
resumes from it, and its final weights equal an uninterrupted run's, bitwise (CPU).

The victim runs in a real subprocess whose save path is paused at a chosen point (a driver wraps accelerate's file
writer and ``os.replace``), so the kill lands inside the write every time instead of by luck:
- ``mid_save_state``: accelerate has written the model weights and the optimizer, not the rest of the state;
- ``before_rename``: the staging folder is complete but not yet renamed to ``step-N``;
- ``before_pointer``: ``step-N`` exists but ``latest`` still names the previous checkpoint.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import QUICK_PRETRAIN, REPO
from safetensors.torch import load_file

QUICK = QUICK_PRETRAIN
pytestmark = pytest.mark.slow  # every test kills and resumes real pretraining subprocesses
TARGET = "step-00000008"  # the checkpoint write that gets killed; step-00000004 is complete by then

DRIVER = '''
import os, sys, time
from pathlib import Path
import accelerate.checkpointing as checkpointing
from modeling_randommask.training.pretrain_arguments import parse_args
from modeling_randommask.training.pretraining import pretrain

pause, marker, target = os.environ["RM_PAUSE"], Path(os.environ["RM_MARKER"]), os.environ["RM_TARGET"]

def hold():
    marker.write_text("paused")
    time.sleep(600)

real_save, real_replace = checkpointing.save, os.replace

def save(obj, path, *args, **kwargs):
    real_save(obj, path, *args, **kwargs)
    if pause == "mid_save_state" and Path(path).parent.name == ".staging-" + target and Path(path).name == "optimizer.bin":
        hold()

def replace(src, dst, *args, **kwargs):
    src = Path(src)
    if pause == "before_rename" and src.name == ".staging-" + target:
        hold()
    if pause == "before_pointer" and src.name == ".latest.tmp" and src.read_text() == target:
        hold()
    return real_replace(src, dst, *args, **kwargs)

checkpointing.save, os.replace = save, replace
pretrain(*parse_args(sys.argv[1:]))
sys.stdout.flush()
os._exit(0)
'''


def _run(args: list[str], tmp_path: Path, pause: str = "none") -> subprocess.Popen:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), RM_PAUSE=pause,
               RM_MARKER=str(tmp_path / f"paused-{pause}"), RM_TARGET=TARGET)
    return subprocess.Popen([sys.executable, str(driver), *QUICK, *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen) -> None:
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output[-3000:]


def _losses(folder: Path) -> dict[int, float]:
    lines = (folder / "training_log.jsonl").read_text().splitlines()
    return {r["step"]: r["loss"] for r in map(json.loads, lines) if "loss" in r and "event" not in r}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("whole")
    _finish(_run(["--output_dir", str(folder / "run")], folder))
    return folder / "run"


@pytest.mark.parametrize("pause", ["mid_save_state", "before_rename", "before_pointer"])
def test_kill_during_checkpoint_write_keeps_latest_valid_and_resume_is_exact(tmp_path, uninterrupted, pause):
    out = tmp_path / "run"
    victim = _run(["--output_dir", str(out)], tmp_path, pause)
    marker, deadline = tmp_path / f"paused-{pause}", time.monotonic() + 300
    while not marker.exists() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), f"the run never reached the pause point: {victim.communicate()[0][-3000:]}"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()

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

    _finish(_run(["--output_dir", str(out), "--resume_from_checkpoint", "latest"], tmp_path))
    assert _losses(out) == _losses(uninterrupted)
    whole, resumed = load_file(uninterrupted / "model.safetensors"), load_file(out / "model.safetensors")
    assert whole.keys() == resumed.keys() and all(torch.equal(whole[k], resumed[k]) for k in whole)
    assert (root / "latest").read_text() == "step-00000012" and not list(root.glob(".staging-*"))
