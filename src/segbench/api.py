"""Drive segbench from Python (a notebook, a script) with the command line's overrides.

Example
-------
>>> import tempfile
>>> from segbench.api import run
>>> store = f"sqlite:///{tempfile.mkdtemp()}/mlflow.db"
>>> result = run(["algo=gmm", "dataset.n_customers=500", "extras=lean", f"tracking.uri={store}"])
>>> result.metrics["n_segments"], len(result.labels), len(result.run_id)
(6.0, 500, 32)

:func:`settings` gives the typed settings the same overrides resolve to, without running:

>>> settings(["algo=gmm"]).algo.params["n_components"]
6
"""

from __future__ import annotations

from collections.abc import Sequence

from segbench.configs import compose, resolve
from segbench.experiment import RunResult, run_experiment
from segbench.settings import RunSettings


def settings(overrides: Sequence[str] = (), config_name: str = "config") -> RunSettings:
    """The validated settings of ``overrides`` (same syntax as the command line)."""
    return resolve(compose(overrides, config_name))


def run(overrides: Sequence[str] = (), config_name: str = "config") -> RunResult:
    """Compose and resolve the settings of ``overrides``, run the experiment, return its result."""
    return run_experiment(settings(overrides, config_name), list(overrides))


__all__ = ["run", "settings"]
