"""Untrusted files: the code that travels with a checkpoint (run by ``trust_remote_code``) imports only the
standard library, torch, transformers and its siblings, and does no subprocess, network, eval/exec or pickle;
every ``torch.load`` in the repository passes ``weights_only=True``; saved checkpoints hold safetensors weights
and no pickle-based weight files. Static checks with ``ast``, so they see calls, not comments or strings."""

import ast
import sys
from pathlib import Path

import pytest
from conftest import tiny_model

from modeling_randommask import (
    RandomMaskForMaskedLM,
    RandomMaskForSequenceClassification,
    save_checkpoint,
)
from modeling_randommask.hub.travelling_files import travelling_files
from modeling_randommask.tokenization import KmerTokenizer

REPO = Path(__file__).resolve().parents[1]
TRAVELLING = travelling_files(with_pipeline=True)
SIBLINGS = {Path(name).stem for name in TRAVELLING}
ALLOWED_PACKAGES = {"torch", "transformers"}
FORBIDDEN_MODULES = {"subprocess", "socket", "ssl", "urllib", "http", "requests", "httpx", "aiohttp", "ftplib",
                     "smtplib", "pickle", "cPickle", "dill", "marshal", "shelve", "ctypes", "importlib", "runpy",
                     "multiprocessing", "pty", "webbrowser", "huggingface_hub"}
FORBIDDEN_BUILTINS = {"eval", "exec", "compile", "__import__", "breakpoint"}
FORBIDDEN_OS = {"system", "popen", "spawnl", "spawnle", "spawnlp", "spawnv", "spawnve", "spawnvp", "posix_spawn",
                "execl", "execle", "execlp", "execv", "execve", "execvp", "fork", "forkpty", "startfile"}
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"}


def problems(source: str, filename: str) -> list[str]:
    """Every import or call in ``source`` that code running under trust_remote_code must not make."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: must be a sibling that travels too
                module = (node.module or "").split(".")[0]
                names = [module] if module else [alias.name for alias in node.names]
                found += [f"{where}: relative import of {n!r}, not a travelling sibling" for n in names
                          if n not in SIBLINGS]
                continue
            modules = [node.module]
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_BUILTINS:
            found.append(f"{where}: uses {node.id}")
            continue
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os"
              and node.attr in FORBIDDEN_OS):
            found.append(f"{where}: uses os.{node.attr}")
            continue
        elif isinstance(node, ast.Call) and _is_torch_load(node):
            found.append(f"{where}: torch.load in travelling code (weights come through safetensors)")
            continue
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            if top in FORBIDDEN_MODULES:
                found.append(f"{where}: imports {module}")
            elif top not in ALLOWED_PACKAGES and top not in sys.stdlib_module_names:
                found.append(f"{where}: imports {module} (only stdlib, torch, transformers and siblings)")
    return found


def _is_torch_load(node: ast.Call) -> bool:
    func = node.func
    return isinstance(func, ast.Attribute) and func.attr == "load" and isinstance(func.value, ast.Name) \
        and func.value.id == "torch"


def torch_loads_without_weights_only(source: str, filename: str) -> list[str]:
    """``torch.load`` calls lacking ``weights_only=True``, including in code held in string literals (child
    scripts that tests run in subprocesses)."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call) and _is_torch_load(node):
            ok = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                     for k in node.keywords)
            if not ok:
                found.append(f"{filename}:{node.lineno}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "torch.load" in node.value:
            try:
                found += torch_loads_without_weights_only(node.value, f"{filename}:{node.lineno}:<string>")
            except SyntaxError:  # prose (a docstring), not code
                pass
    return found


def repo_python_files() -> list[Path]:
    return sorted(p for p in REPO.rglob("*.py")
                  if not any(part.startswith(".") or part.endswith(".egg-info") or part == "__pycache__"
                             for part in p.relative_to(REPO).parts))


@pytest.mark.parametrize("name", sorted(TRAVELLING))
def test_travelling_code_imports_only_stdlib_torch_transformers_and_siblings(name):
    path = TRAVELLING[name]
    assert problems(path.read_text(), str(path.relative_to(REPO))) == []


def test_the_checker_catches_what_it_should():
    bad = ("import subprocess\nfrom urllib.request import urlopen\nimport numpy\nimport pickle\n"
           "from .genome_data import x\nos.system('ls')\neval('1')\nexec('x=1')\ntorch.load('w.pt')\n")
    assert len(problems(bad, "bad.py")) == 9
    assert problems("import os\nimport torch\nfrom transformers import BertModel\nfrom .kmer_vocab import VOCAB_BASE_ORDER\n"
                    "import re\nre.compile('x')\n", "good.py") == []
    assert torch_loads_without_weights_only("torch.load(f)\ntorch.load(f, weights_only=False)\n"
                                            "torch.load(f, weights_only=True)\ns = 'torch.load(g)'\n", "t.py") \
        == ["t.py:1", "t.py:2", "t.py:4:<string>:1"]


def test_every_torch_load_in_the_repository_passes_weights_only_true():
    """All but one: ``read_checkpoint_pickle``, the one place a checkpoint's pickle is read fully, and only under
    --trust_checkpoint_pickles (tests/test_checkpoint_trust.py)."""
    files = repo_python_files()
    assert len(files) > 20
    unsafe = [hit for path in files if path != Path(__file__).resolve()  # this file's counterexamples
              for hit in torch_loads_without_weights_only(path.read_text(), str(path.relative_to(REPO)))]
    trusted = [hit for hit in unsafe if hit.startswith("modeling_randommask/training/checkpoints.py:")]
    assert len(trusted) == 1 and unsafe == trusted, unsafe


@pytest.mark.parametrize("model_class", [RandomMaskForMaskedLM, RandomMaskForSequenceClassification])
def test_saved_checkpoints_hold_safetensors_weights_and_only_the_checked_code(tmp_path, model_class):
    folder = save_checkpoint(tiny_model(head=model_class, kmer_size=3), KmerTokenizer(k=3), tmp_path / "ckpt")
    files = {p.name for p in folder.iterdir()}
    assert any(name.endswith(".safetensors") for name in files)
    assert not [name for name in files if Path(name).suffix in PICKLE_SUFFIXES]
    code = {name for name in files if name.endswith(".py")}
    # everything that travels is what the import checks above cover; the base-level pipeline needs the MLM head
    assert code == set(travelling_files(with_pipeline=model_class is RandomMaskForMaskedLM))
    for name in code:
        assert (folder / name).read_text() == TRAVELLING[name].read_text()
        assert problems((folder / name).read_text(), name) == []
