"""Imports run one way, down the layers: lab > orchestration > delivery > actions > ml > csops, and the domain
packages never import Dagster. The contracts live in pyproject.toml ([tool.importlinter]); `make test` runs them too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("csops", "ml", "actions", "delivery", "orchestration", "lab")
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=tree, env=env, capture_output=True, text=True,
                          timeout=300)


def copy_of_the_code(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_code_keeps_every_import_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "complaint"), [
    ("csops/contract.py", "import orchestration.run", "csops is not allowed to import orchestration"),
    ("ml/metrics.py", "import lab.oracle", "ml is not allowed to import lab"),
    ("ml/metrics.py", "import dagster", "ml is not allowed to import dagster"),
    ("actions/__init__.py", "import delivery", "actions is not allowed to import delivery"),
])
def test_an_upward_import_breaks_the_check(tmp_path, module, line, complaint):
    tree = copy_of_the_code(tmp_path)
    with (tree / module).open("a") as source:
        source.write(f"\n{line}  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert complaint in result.stdout, result.stdout[-3000:]
