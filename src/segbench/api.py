"""Drive segbench from Python (a notebook, a script) with Hydra's compose API.

Example
-------
>>> from segbench.api import run                                   # doctest: +SKIP
>>> result = run(["algo=gmm", "features=rfm+text"])               # doctest: +SKIP
>>> result.metrics["silhouette"], result.run_id                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from segbench.configs import config_dir, register_experiments
from segbench.experiment import RunResult, run_experiment


def compose_config(overrides: Sequence[str] = (), config_name: str = "config") -> DictConfig:
    """The composed config for ``overrides`` (same syntax as the command line)."""
    register_experiments()
    with initialize_config_dir(
        config_dir=str(config_dir()), version_base="1.3", job_name="segbench"
    ):
        return compose(config_name=config_name, overrides=list(overrides))


def run(overrides: Sequence[str] = (), config_name: str = "config") -> RunResult:
    """Compose the config for ``overrides``, run the experiment, return its result."""
    cfg = compose_config(overrides, config_name)
    return run_experiment(cfg, list(overrides))
