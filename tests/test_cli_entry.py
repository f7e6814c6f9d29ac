"""Every command runs through one entry wrapper: ``randommask <command>``, ``python -m modeling_randommask`` and
examples/*.py are the same code, an expected error is one line without a traceback, and importing a command sets the
OpenMP policy before torch loads."""

import os
import subprocess
import sys

import pytest
import tomllib
from conftest import REPO

import modeling_randommask
from modeling_randommask.cli.main import COMMANDS, summary

SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
EXAMPLES = sorted(path.stem for path in (REPO / "examples").glob("*.py"))


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    return subprocess.run([sys.executable, *args], env=dict(environment, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO), **env),
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)


def test_every_example_is_a_command_and_every_old_script_an_alias():
    assert sorted(set(COMMANDS) - {"env"}) == sorted(name.replace("_", "-") for name in EXAMPLES)
    for name in EXAMPLES:
        assert f"from modeling_randommask.cli.{name} import main" in (REPO / "examples" / f"{name}.py").read_text()
    assert SCRIPTS.pop("randommask") == "modeling_randommask.cli.main:main"
    assert SCRIPTS == {f"randommask-{command}": "modeling_randommask.cli.main:old_script"
                       for command in COMMANDS if command != "env"}


def test_help_lists_every_command_with_its_line_and_loads_no_heavy_library():
    probe = ("import sys\nfrom modeling_randommask.cli.main import main\ntry:\n    main(['--help'])\n"
             "except SystemExit as done:\n    assert done.code == 0\n"
             "print(sorted(n for n in ('torch', 'transformers', 'numpy', 'accelerate') if n in sys.modules))")
    run = _run(["-c", probe])
    assert run.returncode == 0, run.stderr
    *listing, loaded = run.stdout.splitlines()
    assert loaded == "[]", "randommask --help imports a heavy library"
    rows = [line.split(None, 1) for line in listing if line.startswith("  ") and not line.lstrip().startswith("-")]
    assert [command for command, _ in rows[:len(COMMANDS)]] == list(COMMANDS)
    assert all(line == summary(command) and line.endswith(".") for command, line in rows[:len(COMMANDS)])
    assert "accelerate launch -m modeling_randommask pretrain" in run.stdout


@pytest.mark.slow
def test_version_and_a_command_through_the_module_form(tmp_path):
    run = _run(["-m", "modeling_randommask", "--version"])
    assert (run.returncode, run.stdout) == (0, f"randommask {modeling_randommask.__version__}\n")
    run = _run(["-m", "modeling_randommask", "make-demo-task", "--output_dir", str(tmp_path / "task")])
    assert run.returncode == 0, run.stderr
    assert sorted(path.name for path in (tmp_path / "task").iterdir()) == ["dev.csv.gz", "test.csv.gz", "train.csv.gz"]
    run = _run(["-m", "modeling_randommask", "pretrain", "--help"])
    assert run.returncode == 0 and run.stdout.startswith(f"{summary('pretrain')}\n\nusage: randommask pretrain [-h]"), \
        run.stdout[:200]
    run = _run(["-m", "modeling_randommask", "finetune", "--max_step", "3"])
    assert run.returncode == 2 and "randommask finetune: error: " in run.stderr, run.stderr


@pytest.mark.parametrize(("word", "line"), [
    ("pretrian", "error: unknown command 'pretrian': did you mean pretrain? `randommask --help` lists the commands"),
    ("score_variants", ("error: unknown command 'score_variants': did you mean score-variants? `randommask --help` "
                       "lists the commands")),
    ("--verbose", "error: unknown option '--verbose': `randommask --help` lists the commands")])
def test_an_unknown_command_is_one_line_with_suggestions(word, line):
    run = _run(["-m", "modeling_randommask", word, "--help"])
    assert (run.returncode, run.stdout, run.stderr) == (2, "", line + "\n")


def test_no_command_shows_the_list_and_fails():
    run = _run(["-m", "modeling_randommask"])
    assert run.returncode == 2 and run.stdout.startswith("usage: randommask <command> [options]")


@pytest.mark.slow
def test_an_old_script_name_runs_its_command_and_says_so(tmp_path):
    """The console scripts before ``randommask <command>`` all point to ``old_script``, which reads its name."""
    probe = ("import sys\nfrom modeling_randommask.cli.main import old_script\n"
             "sys.argv = ['/venv/bin/randommask-make-demo-task', *sys.argv[1:]]\nold_script()")
    run = _run(["-c", probe, "--output_dir", str(tmp_path / "task")])
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines()[0] == ("randommask-make-demo-task is deprecated, use `randommask make-demo-task` "
                                          f"(removed in {modeling_randommask.OLD_NAMES_REMOVED_IN})")
    assert (tmp_path / "task" / "train.csv.gz").is_file()


def test_env_reports_every_version_and_the_devices():
    run = _run(["-m", "modeling_randommask", "env"])
    assert run.returncode == 0, run.stderr
    report = dict(line[2:].split(": ", 1) for line in run.stdout.splitlines() if line.startswith("- "))
    assert {"randommask", "Platform", "Python", "torch", "transformers", "accelerate", "datasets", "CUDA",
            "GPU"} <= set(report)
    assert report["Python"] == ".".join(map(str, sys.version_info[:3]))
    import torch
    import transformers

    assert (report["torch"], report["transformers"]) == (torch.__version__, transformers.__version__)
    assert report["CUDA"].endswith(f"available: {torch.cuda.is_available()}")


def test_env_reports_missing_packages_instead_of_failing():
    """A broken or partial install is what a bug report is often about: env names what is missing and carries on
    (here an interpreter that sees the package alone: no site-packages)."""
    probe = f"import sys\nsys.path.insert(0, {str(REPO)!r})\nfrom modeling_randommask.cli.env import main\nmain([])"
    run = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=300,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert "- torch: not installed\n" in run.stdout and "- datasets: not installed\n" in run.stdout
    assert "- CUDA: no torch\n" in run.stdout
