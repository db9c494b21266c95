"""The command line starts light: ``import segbench.cli`` leaves the heavy libraries to the run.

A behaviour test (which modules an import loads, in a fresh interpreter), not a timed one:
``benchmarks/bench_startup.py`` measures the time against ``import sklearn, pandas``.
"""

import json
import os
import subprocess
import sys

import pytest

#: Libraries a run imports where it uses them, never at start-up (the numerical stack too: a
#: start-up that reached scikit-learn through a helper module once cost 2.2 s instead of 0.4 s).
HEAVY = (
    "mlflow",
    "matplotlib",
    "torch",
    "sentence_transformers",
    "fairlearn",
    "optuna",
    "hdbscan",
    "sklearn",
    "scipy",
    "pandas",
    "numpy",
)


def loaded_after(code: str) -> set[str]:
    """Top-level packages in ``sys.modules`` after ``code`` runs in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=True,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("module", ["segbench.cli", "segbench.configs", "segbench.tracking"])
def test_import_does_not_load_heavy_libraries(module):
    loaded = loaded_after(f"import {module}")
    assert "segbench" in loaded  # the probe works
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_probe_sees_a_heavy_import():
    # the check can fail: a module that imports MLflow is seen
    assert "mlflow" in loaded_after("import segbench.tracking.outputs")
