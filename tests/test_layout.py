"""The tree shows the architecture: only travelling files at the package's top, and stages that import downward;
an install holds the package under its own name only."""

import ast
import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import REPO, run_without_package

import modeling_randommask
from modeling_randommask.hub.travelling_files import TRAVELLING_FILES

PACKAGE = REPO / "modeling_randommask"
TRAVELLING_HERE = {name for name, module in TRAVELLING_FILES.items() if module.rpartition(".")[0] == "modeling_randommask"}
# A name imported from the package root is an import of the module that defines it (the root re-exports every stage).
ROOT_EXPORTS = {name: f"modeling_randommask{module}" for module, names in modeling_randommask._PUBLIC.items()
                for name in names}
# Bottom to top: a module may import its own stage and the stages listed before it, never one after it.
STAGES = ["", "data", "masking", "evaluation", "hub", "inference", "training", "analysis", "cli"]


def _stage(module: str) -> str:
    """``modeling_randommask.data.fasta`` -> ``data``; the travelling modules are stage ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else ""


def _imports(path) -> list[str]:
    """Absolute names of the package modules ``path`` imports (relative imports resolved)."""
    module = ".".join(path.relative_to(REPO).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module.removesuffix(".__init__")
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            elif node.module and node.module.startswith("modeling_randommask"):
                base = node.module
            else:
                continue
            if base == "modeling_randommask":
                found += [ROOT_EXPORTS.get(alias.name, f"{base}.{alias.name}") for alias in node.names]
            else:
                found.append(base)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("modeling_randommask")]
    return found


def test_only_travelling_files_stand_at_the_top_of_the_package():
    top = {path.name for path in PACKAGE.glob("*.py")}
    assert top - {"__init__.py", "__main__.py"} == TRAVELLING_HERE, top
    assert {path.name for path in (REPO / "tokenization").glob("*.py")} - {"__init__.py"} \
        == set(TRAVELLING_FILES) - TRAVELLING_HERE
    assert {path.name for path in PACKAGE.iterdir() if path.is_dir() and not path.name.startswith("__")} \
        <= set(STAGES[1:])


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_stages_import_only_downward(path):
    if path in (PACKAGE / "__init__.py", PACKAGE / "__main__.py"):
        return  # the public API re-exports every stage; `python -m modeling_randommask` runs the top one (cli)
    own = STAGES.index(_stage(".".join(path.relative_to(REPO).with_suffix("").parts)))
    upward = [name for name in _imports(path) if STAGES.index(_stage(name)) > own]
    assert upward == [], f"{path.relative_to(REPO)} imports a later stage: {upward}"


def test_a_module_imports_only_what_it_uses():
    """The package root and the sub-packages load their names lazily: the seeded hash needs numpy and torch only."""
    probe = ("import sys, modeling_randommask.data.seeding; "
             "print(' '.join(name for name in sys.modules if name.split('.')[0] in "
             "{'modeling_randommask', 'tokenization', 'transformers', 'accelerate', 'datasets', 'scipy', 'sklearn'}))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert set(loaded.stdout.split()) == {"modeling_randommask", "modeling_randommask.data",
                                          "modeling_randommask.data.seeding"}


@pytest.mark.slow
def test_a_built_wheel_installs_one_specific_top_level_name(tmp_path):
    """tokenization/ and model_cards/ stand beside the package in the repository and go inside it in a wheel: an
    install claims no generic top-level name, holds every package of the tree, and works from there alone."""
    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info beside pyproject.toml
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("modeling_randommask", "tokenization", "model_cards"):
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(tmp_path / "dist"), str(source)], check=True, capture_output=True, timeout=600)
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        files = set(archive.namelist())
        (record,) = [name for name in files if name.endswith(".dist-info/RECORD")]
        installed = [line.split(",")[0] for line in archive.read(record).decode().splitlines()]
        scripts = archive.read(record.replace("RECORD", "entry_points.txt")).decode()
    assert {name.split("/")[0] for name in installed if not name.split("/")[0].endswith(".dist-info")} \
        == {"modeling_randommask"}
    tree = {f"modeling_randommask/{path.relative_to(REPO).as_posix()}" for folder in ("tokenization", "model_cards")
            for path in (REPO / folder).rglob("*") if path.suffix in (".py", ".md")}
    tree |= {path.relative_to(REPO).as_posix() for path in PACKAGE.rglob("*.py")}
    assert tree - files == set(), "packages missing from [tool.setuptools] packages in pyproject.toml"
    assert "randommask = modeling_randommask.cli.main:main" in scripts

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site),
                    str(wheel)], check=True, capture_output=True, timeout=600)
    run = run_without_package(f'''
import sys
sys.path.insert(0, {str(site)!r})
from pathlib import Path
import modeling_randommask.tokenization, modeling_randommask.hub.model_card as cards
from modeling_randommask.cli.main import main
assert Path(modeling_randommask.tokenization.__file__).is_relative_to({str(site)!r})
assert (cards.TEMPLATES / "pretrained.md").is_file() and cards.TEMPLATES.is_relative_to({str(site)!r})
for name in ("tokenization", "model_cards"):
    try:
        __import__(name)
        raise AssertionError(name + " is importable from the wheel")
    except ModuleNotFoundError:
        pass
main(["--version"])
main(["env"])
try:
    main(["--help"])
except SystemExit as done:
    assert done.code == 0
''', cwd=tmp_path)
    assert run.stdout.startswith(f"randommask {modeling_randommask.__version__}\n"), run.stdout
    assert "- transformers: " in run.stdout and f"({site}" in run.stdout
    assert "\n  pretrain        Pretrain with the RandomMask curriculum" in run.stdout


def test_the_old_import_path_is_the_same_modules_with_a_warning():
    """``import tokenization`` (a source checkout) warns and gives the very modules of
    ``modeling_randommask.tokenization``: one ``KmerTokenizer`` class, whichever name imported it."""
    probe = ("import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
             "try:\n    import tokenization\nexcept DeprecationWarning as warning:\n    print(warning)\n"
             "warnings.simplefilter('ignore')\nimport tokenization, tokenization.kmer_vocab\n"
             "from tokenization.tokenization_kmer import KmerTokenizer\n"
             "import modeling_randommask.tokenization as new\n"
             "print(tokenization is new, tokenization.kmer_vocab is new.kmer_vocab, KmerTokenizer is new.KmerTokenizer)")
    run = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert run.stdout.splitlines() == [
        ("`import tokenization` is deprecated, use `import modeling_randommask.tokenization` (removed in "
        f"{modeling_randommask.OLD_NAMES_REMOVED_IN})"), "True True True"]


def test_code_imports_the_tokenizer_by_its_installed_name():
    """``tokenization`` is not installed at the top (a wheel has ``modeling_randommask.tokenization``): the package
    imports it relatively, the tests, benchmarks and examples by the public name."""
    old = []
    for folder in ("modeling_randommask", "tokenization", "tests", "benchmarks", "examples"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path.parent.name in ("fixtures", "compat"):
                continue  # scripts that also run on earlier releases' code (the frozen fixtures)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and not node.level else []
                old += [f"{path.relative_to(REPO)}:{node.lineno}" for name in names
                        if name and name.split(".")[0] == "tokenization"]
    assert old == []
