"""Shared fixtures: an isolated cache and MLflow store per test session, small generated data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding/dataset cache for the whole session (tests never touch ~/.cache).

    Set SEGBENCH_CACHE_DIR before running pytest to reuse a warm cache across sessions.
    """
    if "SEGBENCH_CACHE_DIR" not in os.environ:
        os.environ["SEGBENCH_CACHE_DIR"] = str(tmp_path_factory.mktemp("segbench-cache"))
    return Path(os.environ["SEGBENCH_CACHE_DIR"])


@pytest.fixture
def tracking_uri(tmp_path: Path) -> str:
    """A fresh SQLite MLflow store in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'mlflow.db'}"
