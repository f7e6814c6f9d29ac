"""Every command runs through one entry wrapper: installed entry points and examples/*.py are the same code, an
expected error is one line without a traceback, and importing a command sets the OpenMP policy before torch loads."""

import os
import subprocess
import sys

import pytest
import tomllib
from conftest import REPO

SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
EXAMPLES = sorted(path.stem for path in (REPO / "examples").glob("*.py"))


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    return subprocess.run([sys.executable, *args], env=dict(environment, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO), **env),
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)


def test_every_example_has_an_entry_point_that_runs_the_same_main():
    assert sorted(target.split(":")[0].rsplit(".", 1)[1] for target in SCRIPTS.values()) == EXAMPLES
    for name, target in SCRIPTS.items():
        module = target.split(":")[0]
        assert name == "randommask-" + module.rsplit(".", 1)[1].replace("_", "-")
        example = (REPO / "examples" / f"{module.rsplit('.', 1)[1]}.py").read_text()
        assert f"from {module} import main" in example


def test_a_command_sets_the_openmp_policy_before_torch_loads():
    run = _run(["-c", "import sys, os, modeling_randommask.cli.embed; print(os.environ['OMP_WAIT_POLICY'])"])
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "PASSIVE"
    run = _run(["-c", "import sys, modeling_randommask; print('torch' in sys.modules)"])
    assert run.stdout.strip() == "False", "the package root loads torch eagerly"


@pytest.mark.parametrize("traceback", [False, True])
def test_an_expected_error_is_one_line_and_a_traceback_only_when_asked(tmp_path, traceback):
    missing = tmp_path / "nope"
    run = _run([str(REPO / "examples" / "embed.py"), "--model", str(missing), "--input", str(tmp_path / "x.fa"),
                "--output", str(tmp_path / "e.npy")], **({"RANDOMMASK_TRACEBACK": "1"} if traceback else {}))
    assert run.returncode == 1
    assert ("Traceback" in run.stderr) == traceback
    if not traceback:
        assert run.stderr.startswith("error: ") and len(run.stderr.strip().splitlines()) == 1, run.stderr
