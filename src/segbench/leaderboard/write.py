"""Write a leaderboard's three files under one folder (``results/<study>/``)."""

from __future__ import annotations

from pathlib import Path

from segbench.leaderboard.aggregate import Leaderboard
from segbench.leaderboard.html import render_html
from segbench.leaderboard.markdown import render_markdown

FILES = ("leaderboard.md", "leaderboard.html", "leaderboard.csv")


def write_leaderboard(
    board: Leaderboard, out_dir: str | Path, source: str = "", quality: str = "silhouette"
) -> dict[str, Path]:
    """Write ``leaderboard.md``, ``.html`` and ``.csv`` into ``out_dir``; returns their paths.

    The CSV has one row per run (finished or not) with every param, metric and ``segbench.*``
    tag; read it back with :func:`segbench.leaderboard.read_runs_csv`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in FILES}
    paths["leaderboard.md"].write_text(render_markdown(board, source), encoding="utf-8")
    paths["leaderboard.html"].write_text(render_html(board, source, quality), encoding="utf-8")
    board.runs.to_csv(paths["leaderboard.csv"], index=False)
    return paths


__all__ = ["FILES", "write_leaderboard"]
