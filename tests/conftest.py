"""Shared fixtures of the tests (the session's environment: the repository's conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tracking_uri(tmp_path: Path) -> str:
    """A fresh SQLite MLflow store in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'mlflow.db'}"
