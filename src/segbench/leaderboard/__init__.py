"""Leaderboards: which algorithm and feature set segments these customers best, by which
measure, and how sure are we.

Built from the MLflow tracking store only (:mod:`segbench.leaderboard.store`), aggregated
over seeds with 95% intervals and ranked in each metric's better direction
(:mod:`segbench.leaderboard.aggregate`), written as ``leaderboard.md``, ``leaderboard.html``
(with charts, self-contained) and ``leaderboard.csv`` (one row per run, every param and
metric) under ``results/<study>/`` (:mod:`segbench.leaderboard.write`).

Command line (see ``python -m segbench.leaderboard --help``)::

    python -m segbench experiment=quick
    python -m segbench.leaderboard --study quick --out results/quick

Python::

    from segbench.leaderboard import build_leaderboard, load_runs, write_leaderboard
    runs, superseded = load_runs("sqlite:///mlflow.db", study="quick")
    board = build_leaderboard(runs, superseded=superseded)
    write_leaderboard(board, "results/quick")
"""

from segbench.leaderboard.aggregate import Leaderboard, build_leaderboard, direction
from segbench.leaderboard.store import load_runs, read_runs_csv
from segbench.leaderboard.write import write_leaderboard

__all__ = [
    "Leaderboard",
    "build_leaderboard",
    "direction",
    "load_runs",
    "read_runs_csv",
    "write_leaderboard",
]
