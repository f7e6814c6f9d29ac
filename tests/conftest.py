"""What the tests share: paths, the test data folder, quick pretraining options, and child-process runners.

Data the repository does not ship (the human and yeast genomes, GUE tasks, DNABERT's vocabularies) is read from
``RANDOMMASK_TEST_DATA`` (default ``../shared/data`` beside the checkout); a test that needs a missing file skips
and names it. The embedded E. coli and lambda genomes are always there.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import shutil
import signal
import site
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Idle OpenMP threads sleep instead of spinning while other tests' processes run (set before torch loads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

from modeling_randommask.data import default_corpus

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from modeling_randommask import RandomMaskConfig

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("RANDOMMASK_TEST_DATA", REPO.parent / "shared" / "data"))
ECOLI, LAMBDA = default_corpus(include_lambda=True)


@functools.cache
def lambda_genome() -> str:
    """Phage lambda's 48,502 bp as one string, read once: the real DNA most tests slice their inputs from."""
    with gzip.open(LAMBDA, "rt") as handle:
        return "".join(line.strip() for line in handle if not line.startswith(">"))


def lambda_dna(start: int, length: int) -> str:
    """``length`` bases of the lambda genome from ``start`` (0-based)."""
    return lambda_genome()[start : start + length]


def tiny_config(dropout: bool = False, **overrides: Any) -> RandomMaskConfig:
    """The ``tiny`` preset (2 layers, 64 wide), dropout off unless ``dropout`` (so outputs depend only on the weights
    and the inputs); ``overrides`` go to ``RandomMaskConfig.from_preset``."""
    from modeling_randommask import RandomMaskConfig

    off = {} if dropout else {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    return RandomMaskConfig.from_preset("tiny", **{**off, **overrides})


def tiny_model(seed: int = 0, head: type[PreTrainedModel] | None = None, dropout: bool = False,
               **config_overrides: Any) -> PreTrainedModel:
    """The model the tests run: ``head`` (default ``RandomMaskForMaskedLM``) on ``tiny_config(dropout,
    **config_overrides)``, drawn from ``seed`` (the same weights whatever ran before), in eval mode."""
    import torch

    from modeling_randommask import RandomMaskForMaskedLM

    torch.manual_seed(seed)
    return (head or RandomMaskForMaskedLM)(tiny_config(dropout, **config_overrides)).eval()


# A pretraining run that takes seconds: lambda genome, 40-token windows, 12 steps, checkpoints every 4.
QUICK_PRETRAIN = ["--genome", str(LAMBDA), "--max_length", "40", "--per_device_train_batch_size", "8", "--max_steps", "12",
                  "--warmup_steps", "2", "--log_every", "1", "--eval_every", "4", "--eval_batches", "2",
                  "--save_every", "4", "--num_phases", "3", "--val_fraction", "0.05"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished quick run: checkpoints step-8 and step-12 (latest), its log, model and card."""
    from modeling_randommask.training.pretrain_arguments import parse_args
    from modeling_randommask.training.pretraining import pretrain

    out = tmp_path_factory.mktemp("finished") / "run"
    pretrain(*parse_args([*QUICK_PRETRAIN, "--output_dir", str(out)]))
    return out


def copy_of(finished: Path, tmp_path: Path) -> Path:
    """A copy of the ``finished`` run to damage or resume."""
    return Path(shutil.copytree(finished, tmp_path / "run"))


def resume(out: Path, *extra: str, checkpoint: str = "latest"):
    """Resume the quick run in ``out`` from ``checkpoint``."""
    from modeling_randommask.training.pretrain_arguments import parse_args
    from modeling_randommask.training.pretraining import pretrain

    return pretrain(*parse_args([*QUICK_PRETRAIN, "--output_dir", str(out), "--resume_from_checkpoint", checkpoint,
                                 *extra]))


def unpack_fixture(tmp_path_factory, name: str) -> Path:
    """The published-checkpoint fixture ``tests/fixtures/<name>.tar.gz``, unpacked into a fresh folder."""
    folder = tmp_path_factory.mktemp("published")
    with tarfile.open(Path(__file__).parent / "fixtures" / f"{name}.tar.gz") as archive:
        archive.extractall(folder, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))  # < 3.10.12
    return folder / name


@pytest.fixture(scope="session", autouse=True)
def corpus_dir(tmp_path_factory):
    """Prepared corpora (``corpus_store``) of the whole session go to one temporary folder, never the user's cache;
    child processes inherit it."""
    folder = tmp_path_factory.mktemp("corpora")
    previous = os.environ.get("RANDOMMASK_CORPUS_DIR")
    os.environ["RANDOMMASK_CORPUS_DIR"] = str(folder)
    yield folder
    if previous is None:
        del os.environ["RANDOMMASK_CORPUS_DIR"]
    else:
        os.environ["RANDOMMASK_CORPUS_DIR"] = previous


def shared_data(*parts: str) -> Path:
    """``DATA_DIR / parts``, or skip the calling test with a reason naming the missing file."""
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {'/'.join(parts)} from the test data folder {DATA_DIR}, which is not part of the "
                    "repository (set RANDOMMASK_TEST_DATA; docs/tutorial.md: Tests)")
    return path


def require(path: Path) -> Path:
    """``path`` if it exists; a path inside ``DATA_DIR`` that does not skips the calling test (see shared_data)."""
    return path if path.exists() else shared_data(*path.relative_to(DATA_DIR).parts)


@pytest.fixture(scope="session")
def gue() -> Path:
    """The GUE task folders (tf/0, mouse/0, prom/prom_core_tata, prom/prom_300_tata, EMP/H3)."""
    return shared_data("gue")


@pytest.fixture(scope="session")
def shared_genomes() -> Path:
    """Folder of the test genomes: E. coli, lambda, yeast chrI, human mitochondrion, 1 Mb of human chr22."""
    return shared_data("genomes")


@pytest.fixture(scope="session")
def dnabert_vocab() -> Path:
    """Folder of DNABERT's vocab_k{3..6}.txt."""
    return shared_data("dnabert_vocab")


def read_log(folder: Path) -> list[dict]:
    """A run's training_log.jsonl records."""
    return [json.loads(line) for line in (folder / "training_log.jsonl").read_text().splitlines()]


def run_script(args: list[str], program: tuple[str, ...] = (str(REPO / "examples" / "pretrain.py"),),
               **popen) -> subprocess.Popen:
    """``program`` (a script, or "-c" and code) with ``args`` in a fresh offline process, output merged."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, *program, *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


# Runs pretrain() in a fresh process that pauses (sleeps, after writing RM_MARKER) at a chosen point, so that a test
# kills it there every time instead of by luck:
# - mid_save_state: accelerate has written the weights and optimizer of checkpoint RM_TARGET, not the rest;
# - before_rename: RM_TARGET's staging folder is complete but not yet renamed into place;
# - before_pointer: RM_TARGET exists but `latest` still names the previous checkpoint;
# - optimizer_step: just before optimizer update number RM_TARGET (mid-training, between checkpoints).
PAUSED_DRIVER = """
import os, sys, time
from pathlib import Path
import accelerate.checkpointing as checkpointing
import torch
from modeling_randommask.training.pretrain_arguments import parse_args
from modeling_randommask.training.pretraining import pretrain

pause, marker, target = os.environ["RM_PAUSE"], Path(os.environ["RM_MARKER"]), os.environ["RM_TARGET"]

def hold():
    marker.write_text("paused")
    time.sleep(600)

real_save, real_replace, real_step = checkpointing.save, os.replace, torch.optim.AdamW.step
updates = 0

def save(obj, path, *args, **kwargs):
    real_save(obj, path, *args, **kwargs)
    if pause == "mid_save_state" and Path(path).parent.name == ".staging-" + target and Path(path).name == "optimizer.bin":
        hold()

def replace(src, dst, *args, **kwargs):
    src = Path(src)
    if pause == "before_rename" and src.name == ".staging-" + target:
        hold()
    if pause == "before_pointer" and src.name.startswith(".latest.") and src.read_text() == target:
        hold()
    return real_replace(src, dst, *args, **kwargs)

def step(self, *args, **kwargs):
    global updates
    updates += 1
    if pause == "optimizer_step" and updates == int(target):
        hold()
    return real_step(self, *args, **kwargs)

checkpointing.save, os.replace, torch.optim.AdamW.step = save, replace, step
pretrain(*parse_args(sys.argv[1:]))
sys.stdout.flush()
os._exit(0)
"""


def run_paused(args: list[str], work: Path, pause: str = "none", target: str = "") -> tuple[subprocess.Popen, Path]:
    """A pretraining subprocess that pauses at ``pause`` (see PAUSED_DRIVER), and the marker file it writes there."""
    marker = Path(work) / f"paused-{pause}"
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), RM_PAUSE=pause,
               RM_MARKER=str(marker), RM_TARGET=target)
    process = subprocess.Popen([sys.executable, "-c", PAUSED_DRIVER, *args], env=env, cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return process, marker


def kill_when_paused(process: subprocess.Popen, marker: Path, timeout: float = 300) -> None:
    """SIGKILL ``process`` once it has reached its pause point; fail the test if it never does."""
    deadline = time.monotonic() + timeout
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), f"the run never reached its pause point: {process.communicate()[0][-3000:]}"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def _site_packages_dirs() -> list[str]:
    """Where the installed dependencies live; never the repo (an editable install hooks in through a .pth)."""
    dirs = [*site.getsitepackages(), site.getusersitepackages()]
    return [d for d in dict.fromkeys(dirs) if Path(d).is_dir() and Path(d).resolve() != REPO]


# Prepended to the child's code: the dependencies on sys.path, and proof that this package is not importable.
_ISOLATION = '''
import importlib.util, json, sys
from pathlib import Path
sys.path.extend({dirs})
_repo = Path({repo!r}).resolve()
assert not any(Path(p or ".").resolve() == _repo for p in sys.path), "the repository is on sys.path"
for _name in ("modeling_randommask", "tokenization"):
    assert importlib.util.find_spec(_name) is None, f"{{_name}} is importable in the isolated child"
'''


def run_without_package(code: str, *args: str, cwd: Path, stdin: str | None = None,
                        timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``code`` in ``python -I -S`` (no PYTHONPATH, no user site, no .pth files, hence no editable install)
    with only the installed dependencies importable, offline: what a user without this package has. Fails the
    test when the child does."""
    script = Path(cwd) / "isolated_child.py"
    script.write_text(_ISOLATION.format(dirs=json.dumps(_site_packages_dirs()), repo=str(REPO)) + code)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(Path(cwd) / "hf_home"), TRANSFORMERS_VERBOSITY="error")
    run = subprocess.run([sys.executable, "-I", "-S", str(script), *args], cwd=cwd, env=env, input=stdin,
                         capture_output=True, text=True, timeout=timeout, check=False)
    assert run.returncode == 0, run.stderr[-4000:]
    return run
