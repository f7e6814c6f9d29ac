"""The tree shows the architecture: only travelling files at the package's top, and stages that import downward."""

import ast

import pytest
from conftest import REPO

PACKAGE = REPO / "modeling_randommask"
TRAVELLING = {"configuration_randommask.py", "modeling_randommask.py"}
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
                found.append(f"{base}.{node.module}" if node.module else base)
            elif node.module and node.module.startswith("modeling_randommask"):
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("modeling_randommask")]
    return found


def test_only_travelling_files_stand_at_the_top_of_the_package():
    top = {path.name for path in PACKAGE.glob("*.py")}
    assert top - {"__init__.py"} <= TRAVELLING | {"pipeline_randommask.py"}, top
    assert {path.name for path in PACKAGE.iterdir() if path.is_dir() and not path.name.startswith("__")} \
        <= set(STAGES[1:])


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_stages_import_only_downward(path):
    if path == PACKAGE / "__init__.py":
        return  # the public API re-exports every stage
    own = STAGES.index(_stage(".".join(path.relative_to(REPO).with_suffix("").parts)))
    upward = [name for name in _imports(path) if STAGES.index(_stage(name)) > own]
    assert upward == [], f"{path.relative_to(REPO)} imports a later stage: {upward}"
