"""Run segbench as a user does (a subprocess in a fresh directory) and read the store back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient

TESTS = Path(__file__).resolve().parent


def segbench(cwd: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """``python -m segbench *args`` in ``cwd``; the tests folder is importable (toydata)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "segbench", *args, "blocks.text.progress=false"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def store(cwd: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{cwd / 'mlflow.db'}")


def all_runs(client: MlflowClient, experiment: str = "segbench") -> list:
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], max_results=1000)
