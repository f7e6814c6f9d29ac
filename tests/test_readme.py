"""The README cannot drift: its Python blocks run as pasted, and its command lines use options the scripts accept.

A Python block whose first line is ``# fragment`` is excerpted from a larger program and is not run; every other one
runs, in README order, in one fresh folder (later blocks may read what earlier ones saved, as a reader's would).
"""

import re
import subprocess
import sys

import pytest
from conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCKS = [(README[: m.start()].count("\n") + 1, m.group(1), m.group(2))
          for m in re.finditer(r"^```(\w+)\n(.*?)^```", README, re.DOTALL | re.MULTILINE)]
PYTHON = [(line, code) for line, language, code in BLOCKS if language == "python" and not code.startswith("# fragment")]
COMMANDS = [(line, command) for line, language, code in BLOCKS if language == "bash"
            for command in re.sub(r"\\\n\s*", " ", code).splitlines()
            if re.search(r"examples/\w+\.py", command)]


@pytest.mark.slow
def test_python_blocks_run_as_pasted(tmp_path):
    assert len(PYTHON) >= 5
    env = {"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}
    for line, code in PYTHON:
        run = subprocess.run([sys.executable, "-"], input=code, cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=600, check=False)
        assert run.returncode == 0, f"README.md line {line}:\n{code}\n{run.stderr[-3000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted({m for _, c in COMMANDS for m in re.findall(r"examples/(\w+)\.py", c)}))
def test_command_lines_use_options_the_scripts_accept(script):
    accepted = set(re.findall(r"--\w+", subprocess.run(
        [sys.executable, str(REPO / "examples" / f"{script}.py"), "--help"], capture_output=True, text=True,
        check=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}).stdout))
    for line, command in COMMANDS:
        if f"examples/{script}.py" in command:
            used = set(re.findall(r"(?<!\S)--\w+", command.split(f"examples/{script}.py", 1)[1].split("#")[0]))
            assert used <= accepted, f"README.md line {line}: {sorted(used - accepted)} not options of {script}.py"
