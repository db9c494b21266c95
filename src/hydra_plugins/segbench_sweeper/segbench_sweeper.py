"""The segbench sweeper: Hydra's basic sweeper, whose ``sweep`` is segbench's own.

Its sweep is :func:`segbench.tracking.sweep.run_sweep`. Hydra instantiates sweepers only from
the ``hydra_plugins`` package, so the class lives here and hands over to segbench (imported
when a sweep starts, not when Hydra scans its plugins). Selected by ``hydra/sweeper:
segbench`` (``segbench/conf/hydra/sweeper/segbench.yaml``).

Launcher glue lives here too: with a Ray launcher, :func:`ray_token_auth` turns Ray 2.60's
token authentication on for the launching process when a token is available.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper


def ray_token_auth(launcher_target: str) -> bool:
    """Set ``RAY_AUTH_MODE=token`` for a Ray launcher when a token is available and the mode
    is unset; returns whether it did.

    Ray 2.60 enables token authentication on its own only for a local cluster or
    ``address="auto"`` without ``RAY_ADDRESS``; a client given an explicit address fails
    against a cluster that requires a token unless ``RAY_AUTH_MODE=token`` is set.
    """
    if "hydra_ray_launcher" not in launcher_target or "RAY_AUTH_MODE" in os.environ:
        return False
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    available = bool(os.environ.get("RAY_AUTH_TOKEN")) or (
        Path(path).is_file() if path else (Path.home() / ".ray" / "auth_token").is_file()
    )
    if available:
        os.environ["RAY_AUTH_MODE"] = "token"
    return available


class SegbenchSweeper(BasicSweeper):
    """Same grammar as the basic sweeper; one MLflow parent run with exactly-once accounting."""

    def sweep(self, arguments: list[str]) -> Any:
        from segbench.tracking.sweep import run_sweep

        assert self.config is not None
        ray_token_auth(str(self.config.hydra.launcher.get("_target_", "")))
        return run_sweep(self, arguments)
