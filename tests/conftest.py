"""Shared fixtures of the tests (the session's environment: the repository's conftest.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _keep_mlflow_tracking_uri() -> Iterator[None]:
    """Each test starts with the environment's ``MLFLOW_TRACKING_URI`` and leaves it so: MLflow's
    ``set_tracking_uri`` (called by a test, or by a library) writes that variable, and a
    leftover value would send later tests' runs, and their subprocesses', to an old store."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture(scope="session")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite store whose schema was created once for the session (MLflow's
    schema migrations take seconds; a test copies the file instead of migrating again)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("store-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def tracking_uri(tmp_path: Path, store_template: Path) -> str:
    """A fresh SQLite MLflow store in the test's temporary directory (schema created, no
    experiment yet)."""
    shutil.copyfile(store_template, tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"
