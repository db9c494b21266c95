"""The layout is a contract: rooms import only the rooms below them (import-linter).

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``); docs/architecture.md
explains them. These tests run them on the package, show that a planted upward import breaks
them, and keep the package root to its entry points.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "segbench"
LINT = Path(sys.executable).with_name("lint-imports")
ENTRY_POINTS = {
    "__init__",
    "__main__",
    "cli",
    "api",
    "experiment",
    "configs",
    "errors",
    "assign",
    "export",
    "stale",
    "peer",
    "prefetch",
}


def lint(cwd: Path, source: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(source)}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def test_every_contract_holds_on_the_package():
    done = lint(ROOT, ROOT / "src")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "3 kept, 0 broken" in done.stdout


def planted(tmp_path: Path, module: str, line: str) -> subprocess.CompletedProcess:
    """The contracts on a copy of the package where ``module`` gained ``line``."""
    shutil.copytree(PACKAGE, tmp_path / "src" / "segbench", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / "src" / "segbench" / module
    path.write_text(path.read_text() + f"\n{line}\n")
    return lint(tmp_path, tmp_path / "src")


def test_a_planted_upward_import_breaks_the_layers(tmp_path):
    done = planted(tmp_path, "data/model.py", "from segbench.experiment import run_experiment")
    assert done.returncode == 1
    assert "Rooms are layered: each imports only the rooms below it BROKEN" in done.stdout
    assert "segbench.data.model -> segbench.experiment" in done.stdout


def test_a_stage_reading_omegaconf_breaks_the_contract(tmp_path):
    done = planted(tmp_path, "evaluation/suite.py", "from omegaconf import DictConfig")
    assert done.returncode == 1
    assert "only the entry points read OmegaConf BROKEN" in done.stdout


def test_the_package_root_holds_only_entry_points():
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules == ENTRY_POINTS
