"""Dependencies point down (docs/design.md, "Architecture"): the command line uses the domain
layer, never the other way round, and kernels never import the harness or MPI."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = sorted(p for p in (ROOT / "harness").rglob("*.py")
                if "cli" not in p.relative_to(ROOT / "harness").parts
                and p.name != "__main__.py")  # the entry point: python -m harness
KERNELS = sorted((ROOT / "kernels").rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module name an ``import`` or ``from ... import`` in ``path`` names, with the names
    a ``from harness import x`` brings in spelled as ``harness.x``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_layers_are_found():
    assert ROOT / "harness" / "specs.py" in DOMAIN
    assert ROOT / "harness" / "cli" / "sweep.py" not in DOMAIN
    assert KERNELS


@pytest.mark.parametrize("path", DOMAIN, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_domain_never_imports_the_command_line(path):
    up = sorted(n for n in imported(path) if n == "harness.cli" or n.startswith("harness.cli."))
    assert not up, f"{path.relative_to(ROOT)} imports {up}"


@pytest.mark.parametrize("path", KERNELS, ids=lambda p: str(p.relative_to(ROOT)))
def test_kernels_import_neither_the_harness_nor_mpi(path):
    bad = sorted(n for n in imported(path) if n.split(".")[0] in ("harness", "mpi4py"))
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
