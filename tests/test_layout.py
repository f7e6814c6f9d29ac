"""The tree shows the architecture: only travelling files at the package's top, and stages that import downward."""

import ast
import subprocess
import sys

import pytest
from conftest import REPO

import modeling_randommask
from modeling_randommask.hub.travelling_files import TRAVELLING_FILES

PACKAGE = REPO / "modeling_randommask"
TRAVELLING_HERE = {name for name, module in TRAVELLING_FILES.items() if module.startswith("modeling_randommask.")}
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
    assert top - {"__init__.py"} == TRAVELLING_HERE, top
    assert {path.name for path in (REPO / "tokenization").glob("*.py")} - {"__init__.py"} \
        == set(TRAVELLING_FILES) - TRAVELLING_HERE
    assert {path.name for path in PACKAGE.iterdir() if path.is_dir() and not path.name.startswith("__")} \
        <= set(STAGES[1:])


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_stages_import_only_downward(path):
    if path == PACKAGE / "__init__.py":
        return  # the public API re-exports every stage
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
