"""Write a leaderboard's three files under one folder (``results/<study>/``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from segbench.errors import ConfigError
from segbench.leaderboard.aggregate import Leaderboard
from segbench.leaderboard.charts import critical_difference
from segbench.leaderboard.html import png_bytes, render_html
from segbench.leaderboard.markdown import render_markdown
from segbench.leaderboard.stats import Comparison
from segbench.leaderboard.store import runs_frame

FILES = ("leaderboard.md", "leaderboard.html", "leaderboard.csv")


def write_leaderboard(
    board: Leaderboard, out_dir: str | Path, source: str = "", quality: str = "auto"
) -> dict[str, Path]:
    """Write ``leaderboard.md``, ``.html`` and ``.csv`` into ``out_dir``; returns their paths.

    The CSV has one row per job run (results, runs that did not finish and superseded runs,
    told apart by ``outcome``) with every param, metric and ``segbench.*`` tag; read it back
    with :func:`segbench.leaderboard.read_runs_csv`. Raises :class:`ConfigError` when the
    folder cannot be written. With a test across cells, its critical-difference diagram is
    also written, as ``cd_diagram.png``.
    """
    out = Path(out_dir)
    paths = {name: out / name for name in FILES}
    markdown = render_markdown(board, source)
    diagram = None  # drawn once: embedded in the page and written beside it
    if isinstance(board.comparison, Comparison):
        figure = critical_difference(board.comparison)
        diagram = (figure, png_bytes(figure))
    page = render_html(board, source, quality, diagram)
    every = board.runs
    if len(board.superseded):
        every = runs_frame(pd.concat([board.runs, board.superseded], ignore_index=True))
        every = every.sort_values(["start_time", "run_id"], kind="stable")
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths["leaderboard.md"].write_text(markdown, encoding="utf-8")
        paths["leaderboard.html"].write_text(page, encoding="utf-8")
        every.to_csv(paths["leaderboard.csv"], index=False)
        if diagram is not None:
            paths["cd_diagram.png"] = out / "cd_diagram.png"
            paths["cd_diagram.png"].write_bytes(diagram[1])
    except OSError as err:
        raise ConfigError(
            f"--out {out}: expected a folder the leaderboard can write into; found "
            f"{err.strerror or err} ({err.filename or out})."
        ) from None
    return paths


__all__ = ["FILES", "write_leaderboard"]
