"""The package's shape (DESIGN.md's layout): imports run downwards only, and modules stay small.

Every ``import`` and ``from ... import`` anywhere in a module counts, inside functions too.
"""
import ast
from pathlib import Path

import pytest

import rnnkit

ROOT = Path(rnnkit.__file__).parent
MODULES = sorted(p for p in ROOT.rglob("*.py"))

# package -> the rnnkit packages it must never import (DESIGN.md: cli -> jobs -> {models, train,
# data, diagnostics, reservoir} -> layers -> kernels -> cells)
FORBIDDEN = {
    "cells": {"kernels", "layers", "models", "train", "jobs", "diagnostics", "data", "reservoir", "cli"},
    "kernels": {"layers", "models", "train", "jobs", "diagnostics", "data", "reservoir", "cli"},
    "layers": {"models", "train", "jobs", "diagnostics", "data", "reservoir", "cli"},
    "data": {"models", "train", "jobs", "diagnostics", "reservoir", "cli"},
    "models": {"train", "jobs", "diagnostics", "cli"},
    "train": {"models", "jobs", "diagnostics", "cli"},
    "diagnostics": {"models", "train", "jobs", "cli"},
    "reservoir": {"models", "train", "jobs", "cli"},
    "jobs": {"cli"},
}


def package_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def rnnkit_imports(path: Path) -> set[str]:
    """The rnnkit packages a module imports (``rnnkit.X...`` -> ``X``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "rnnkit"]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "rnnkit" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_no_relative_imports_hide_a_direction():
    relative = [str(p.relative_to(ROOT)) for p in MODULES
                if any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(ast.parse(p.read_text())))]
    assert relative == []


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_run_downwards(package):
    wrong = {}
    for path in MODULES:
        if package_of(path) == package:
            bad = rnnkit_imports(path) & FORBIDDEN[package]
            if bad:
                wrong[str(path.relative_to(ROOT))] = sorted(bad)
    assert wrong == {}


def test_nothing_below_cli_imports_cli():
    users = [str(p.relative_to(ROOT)) for p in MODULES
             if package_of(p) not in ("cli", "__main__") and "cli" in rnnkit_imports(p)]
    assert users == []


def test_the_checker_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from rnnkit.train import Trainer\n    import rnnkit.cli.main\n")
    assert rnnkit_imports(module) == {"train", "cli"}


def test_modules_stay_small():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in MODULES}
    too_big = {name: n for name, n in sizes.items() if n > (120 if name.startswith("cli/") else 300)}
    assert too_big == {}
