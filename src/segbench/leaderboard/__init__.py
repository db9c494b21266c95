"""Leaderboards: which algorithm and feature set segments these customers best, by which
measure, and how sure are we.

Built from the MLflow tracking store only (:mod:`segbench.leaderboard.store`; a database
store is read in bulk by :mod:`.sqlstore`), with reruns resolved (:mod:`.reruns`: only a
finished run on the same data supersedes), aggregated over seeds with honest intervals and
ranked by the ground truth where there is one, else by a composite no degenerate run can win
(:mod:`.aggregate`, :mod:`.stats`), compared across cells by the Friedman and Nemenyi tests,
and written as ``leaderboard.md``, ``leaderboard.html`` (with charts, self-contained) and
``leaderboard.csv`` (one row per job run, every param and metric) under ``results/<study>/``
(:mod:`.write`).

Command line (see ``python -m segbench.leaderboard --help``)::

    python -m segbench experiment=quick
    python -m segbench.leaderboard --study quick --out results/quick

Python::

    from segbench.leaderboard import build_leaderboard, load_runs, write_leaderboard
    runs, superseded = load_runs("sqlite:///mlflow.db", study="quick")
    board = build_leaderboard(runs, superseded=superseded)
    write_leaderboard(board, "results/quick")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from segbench.leaderboard.aggregate import Leaderboard, build_leaderboard, direction
    from segbench.leaderboard.store import load_runs, read_runs_csv
    from segbench.leaderboard.write import write_leaderboard

#: Public names and their modules, imported on first use: ``python -m segbench.leaderboard``
#: answers ``--help`` or a bad option without loading pandas, matplotlib and MLflow.
_EXPORTS = {
    "Leaderboard": "aggregate",
    "build_leaderboard": "aggregate",
    "direction": "aggregate",
    "load_runs": "store",
    "read_runs_csv": "store",
    "write_leaderboard": "write",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Leaderboard",
    "build_leaderboard",
    "direction",
    "load_runs",
    "read_runs_csv",
    "write_leaderboard",
]
