"""The segbench sweeper: Hydra's basic sweeper, whose ``sweep`` is segbench's own.

Its sweep is :func:`segbench.tracking.sweep.run_sweep`.

Hydra instantiates sweepers only from the ``hydra_plugins`` package, so the class lives here
and hands over to segbench (imported when a sweep starts, not when Hydra scans its plugins).
Selected by ``hydra/sweeper: segbench`` (``segbench/conf/hydra/sweeper/segbench.yaml``).
"""

from __future__ import annotations

from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper


class SegbenchSweeper(BasicSweeper):
    """Same grammar as the basic sweeper; one MLflow parent run with exactly-once accounting."""

    def sweep(self, arguments: list[str]) -> Any:
        from segbench.tracking.sweep import run_sweep

        return run_sweep(self, arguments)
