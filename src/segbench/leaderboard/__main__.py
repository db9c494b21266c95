"""``python -m segbench.leaderboard``: build a leaderboard from the tracking store.

Usage::

    python -m segbench.leaderboard [--tracking-uri URI] [--experiment NAME ...]
        [--study STUDY] [--tag KEY=VALUE ...] [--out DIR] [--select METRIC]
        [--quality METRIC] [--title TEXT] [--keep-superseded]

``--tracking-uri``  the MLflow store (default: ``$MLFLOW_TRACKING_URI``, else
                    ``sqlite:///mlflow.db`` in the current directory, segbench's default)
``--experiment``    MLflow experiment name(s) to read (repeatable; default: all)
``--study``         a study name (the ``study`` param that ``experiment=<preset>`` sets, or a
                    ``segbench.study`` tag) or the run id of a sweep's parent run
``--tag``           ``KEY=VALUE``: keep runs with this tag (repeatable)
``--out``           output folder (default ``results/<study>``, else ``results/<experiment>``,
                    else ``results/leaderboard``)
``--select``        metric that picks the best configuration of an algorithm (default
                    ``silhouette``)
``--quality``       quality axis of the quality-vs-fairness chart (default ``silhouette``)

Writes ``leaderboard.md``, ``leaderboard.html`` and ``leaderboard.csv`` into the output folder
and prints the headline. Exit status 2 (and one paragraph, no traceback) when nothing matches
or an option is wrong.

Example (the committed reference result)::

    python -m segbench experiment=benchmark
    python -m segbench.leaderboard --study benchmark --out results/benchmark
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence

from segbench.errors import ConfigError, SegbenchError
from segbench.leaderboard.aggregate import build_leaderboard
from segbench.leaderboard.markdown import headline
from segbench.leaderboard.store import load_runs
from segbench.leaderboard.write import write_leaderboard

DEFAULT_URI = "sqlite:///mlflow.db"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m segbench.leaderboard",
        description="Leaderboard (Markdown, HTML, CSV) of segbench runs read from MLflow.",
    )
    p.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_URI))
    p.add_argument("--experiment", action="append", default=None, help="repeatable")
    p.add_argument("--study", default=None, help="study name or sweep parent run id")
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", default=None, help="output folder (default results/<study>)")
    p.add_argument("--select", default="silhouette")
    p.add_argument("--quality", default="silhouette")
    p.add_argument("--title", default=None)
    p.add_argument(
        "--keep-superseded",
        action="store_true",
        help="keep earlier runs of a configuration that was run again",
    )
    return p


def _tags(pairs: Sequence[str]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--tag {pair!r}: expected KEY=VALUE")
        tags[key] = value
    return tags


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    try:
        tags = _tags(args.tag)
        runs, superseded = load_runs(
            args.tracking_uri,
            experiments=args.experiment,
            study=args.study,
            tags=tags,
            keep_superseded=args.keep_superseded,
        )
        name = args.study or (args.experiment[0] if args.experiment else "leaderboard")
        title = args.title or f"segbench leaderboard: {name}"
        board = build_leaderboard(runs, select=args.select, superseded=superseded, title=title)
        out = args.out or os.path.join("results", name)
        source = (
            "Built from the MLflow tracking store by "
            f"`python -m segbench.leaderboard {shlex.join(argv)}`."
        )
        paths = write_leaderboard(board, out, source=source, quality=args.quality)
    except SegbenchError as err:
        print(f"segbench.leaderboard: error: {err}", file=sys.stderr)
        return 2
    print(
        f"{board.title}: {len(runs)} runs, {len(board.tables)} tables, "
        f"{len(board.failed)} not finished"
    )
    for line in headline(board):
        print(line.replace("**", "").replace("`", ""))
    for path in paths.values():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
