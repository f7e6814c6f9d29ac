"""The README and the documentation pages cannot drift: their Python blocks run as pasted, and their command lines
use options the scripts accept.

A Python block whose first line is ``# fragment`` is excerpted from a larger program and is not run; every other one
runs, README first and then the pages in the order of ``mkdocs.yml``'s nav, in one fresh folder (later blocks may
read what earlier ones saved, as a reader's would).
"""

import re
import subprocess
import sys

import pytest
import yaml
from conftest import REPO

from modeling_randommask.cli.main import COMMANDS as CLI_COMMANDS


def _nav_pages(nav: list) -> list[str]:
    """The nav's pages in reading order (entries are ``{title: page}`` or ``{title: [entries]}``)."""
    pages = []
    for entry in nav:
        for value in entry.values() if isinstance(entry, dict) else [entry]:
            pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


DOCS = REPO / "docs"
PAGES = _nav_pages(yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))["nav"])
FILES = [REPO / "README.md", *(DOCS / page for page in PAGES)]
BLOCKS = [(f"{path.relative_to(REPO)} line {text[: m.start()].count(chr(10)) + 1}", m.group(1), m.group(2))
          for path in FILES for text in [path.read_text(encoding="utf-8")]
          for m in re.finditer(r"^```(\w+)\n(.*?)^```", text, re.DOTALL | re.MULTILINE)]
PYTHON = [(where, code) for where, language, code in BLOCKS
          if language == "python" and not code.startswith("# fragment")]
# A command line runs a script as examples/<name>.py, randommask <name> or -m modeling_randommask <name> (name with -).
PROGRAM = re.compile(rf"examples/(\w+)\.py|(?:(?<![\w-])randommask|-m modeling_randommask) ({'|'.join(CLI_COMMANDS)})\b")
COMMANDS = [(where, command) for where, language, code in BLOCKS if language == "bash"
            for command in re.sub(r"\\\n\s*", " ", code).splitlines()
            if PROGRAM.search(command.split("#")[0])]


def test_every_page_is_in_the_nav():
    """A page outside the nav would escape these tests (and the site's menu)."""
    on_disk = {str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md")}
    assert on_disk == set(PAGES), f"docs pages not in mkdocs.yml's nav: {sorted(on_disk - set(PAGES))}"


def _script(match: re.Match) -> str:
    return match[1] or match[2].replace("-", "_")


@pytest.mark.slow
def test_python_blocks_run_as_pasted(tmp_path):
    assert len(PYTHON) >= 5
    env = {"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}
    for where, code in PYTHON:
        run = subprocess.run([sys.executable, "-"], input=code, cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=600, check=False)
        assert run.returncode == 0, f"{where}:\n{code}\n{run.stderr[-3000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted({_script(m) for _, c in COMMANDS for m in PROGRAM.finditer(c.split("#")[0])}))
def test_command_lines_use_options_the_scripts_accept(script):
    assert (REPO / "examples" / f"{script}.py").is_file() or script == "env", f"the docs name no command {script}"
    accepted = set(re.findall(r"--\w+", subprocess.run(
        [sys.executable, "-m", "modeling_randommask", script.replace("_", "-"), "--help"], capture_output=True,
        text=True, check=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    ).stdout))
    for where, command in COMMANDS:
        for match in PROGRAM.finditer(command := command.split("#")[0]):
            if _script(match) == script:
                used = set(re.findall(r"(?<!\S)--\w+", command[match.end():]))
                assert used <= accepted, f"{where}: {sorted(used - accepted)} not options of {script}"
