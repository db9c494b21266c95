"""``python -m segbench.leaderboard``: build a leaderboard from the tracking store.

Usage::

    python -m segbench.leaderboard [--tracking-uri URI] [--experiment NAME ...]
        [--study STUDY] [--tag KEY=VALUE ...] [--out DIR] [--select METRIC]
        [--quality METRIC] [--max-noise SHARE] [--alpha ALPHA] [--title TEXT]
        [--keep-superseded]

``--tracking-uri``  the MLflow store (default: ``$MLFLOW_TRACKING_URI``, else
                    ``sqlite:///mlflow.db`` in the current directory, segbench's default);
                    it is only read, never created or written
``--experiment``    MLflow experiment name(s) to read (repeatable; default: all)
``--study``         a study name (the ``study`` param that ``experiment=<preset>`` sets, or a
                    ``segbench.study`` tag) or the run id of a sweep's parent run
``--tag``           ``KEY=VALUE``: keep runs with this tag (repeatable)
``--out``           output folder (default ``results/<study>``, else ``results/<experiment>``,
                    else ``results/leaderboard``)
``--select``        internal metric that picks the best configuration of an algorithm
                    (default ``silhouette``)
``--quality``       quality axis of the quality-vs-fairness chart (default ``auto``: ARI
                    where the data has ground truth, else silhouette)
``--max-noise``     share of noise above which a run is degenerate (default 0.5)
``--alpha``         significance level of the test across cells (default 0.05)
``--keep-superseded`` keep every finished run, also those a later rerun replaced

Writes ``leaderboard.md``, ``leaderboard.html``, ``leaderboard.csv`` (and ``cd_diagram.png``)
into the output folder and prints the headline. A protocol study (runs with
``protocol.condition``, :mod:`segbench.leaderboard.protocol`) gets one board per condition in
``<out>/<condition>/``, never two conditions in one table, and an index ``<out>/leaderboard.md``
with the protocol and the selected configurations (``<out>/selection.csv``). Exit status 2
(and one paragraph, no traceback) when the store
cannot be read, nothing matches or an option is wrong.

Example (the committed reference result)::

    python -m segbench experiment=benchmark
    python -m segbench.leaderboard --study benchmark --out results/benchmark
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from segbench.errors import ConfigError, SegbenchError

DEFAULT_URI = "sqlite:///mlflow.db"
#: The default of ``--max-noise`` (:data:`segbench.leaderboard.stats.MAX_NOISE`; a test checks
#: they agree, and the command does not import the statistics to print its help).
MAX_NOISE = 0.5


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, found {text!r}")
    return value


def _alpha(text: str) -> float:
    value = _share(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a level between 0 and 1, found {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m segbench.leaderboard",
        description="Leaderboard (Markdown, HTML, CSV) of segbench runs read from MLflow.",
    )
    p.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_URI),
        help="the MLflow store, only read (default $MLFLOW_TRACKING_URI, else %(default)s)",
    )
    p.add_argument("--experiment", action="append", default=None, help="repeatable")
    p.add_argument("--study", default=None, help="study name or sweep parent run id")
    p.add_argument(
        "--tag", action="append", default=[], metavar="KEY=VALUE", help="keep runs with this tag"
    )
    p.add_argument("--out", default=None, help="output folder (default results/<study>)")
    p.add_argument("--select", default="silhouette", help="internal metric choosing a config")
    p.add_argument(
        "--quality",
        default="auto",
        help="quality axis of the fairness chart (auto: ARI with ground truth, else silhouette)",
    )
    p.add_argument(
        "--max-noise",
        type=_share,
        default=MAX_NOISE,
        metavar="SHARE",
        help="a run with more noise than this is degenerate (default %(default)s)",
    )
    p.add_argument(
        "--alpha",
        type=_alpha,
        default=0.05,
        help="significance level of the test across cells (default %(default)s)",
    )
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
            raise ConfigError(f"--tag {pair!r}: expected KEY=VALUE, found no '=' or no key")
        tags[key] = value
    return tags


def _check_metrics(select: str, quality: str) -> None:
    from segbench.evaluation.registry import direction

    direction(select)
    if quality != "auto":
        direction(quality)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    try:
        tags = _tags(args.tag)
        _check_metrics(args.select, args.quality)
        from segbench.leaderboard.aggregate import build_leaderboard
        from segbench.leaderboard.markdown import comparison_text, headline
        from segbench.leaderboard.store import load_runs
        from segbench.leaderboard.write import write_leaderboard

        runs, superseded = load_runs(
            args.tracking_uri,
            experiments=args.experiment,
            study=args.study,
            tags=tags,
            keep_superseded=args.keep_superseded,
        )
        name = args.study or (args.experiment[0] if args.experiment else "leaderboard")
        title = args.title or f"segbench leaderboard: {name}"
        out = args.out or os.path.join("results", name)
        source = (
            "Built from the MLflow tracking store by "
            f"`python -m segbench.leaderboard {shlex.join(argv)}`."
        )
        from segbench.leaderboard import protocol
        from segbench.leaderboard.stats import Comparison

        groups, selection = protocol.split(runs)
        if not groups:  # not a protocol study: one board
            groups = {"": runs}
        written = []
        sections = []
        for condition, group in groups.items():
            board = build_leaderboard(
                group,
                select=args.select,
                superseded=_same_condition(superseded, condition),
                title=f"{title} · condition {condition}" if condition else title,
                max_noise=args.max_noise,
                alpha=args.alpha,
            )
            if condition:
                board.protocol = protocol.describe(condition, group, selection)
            folder = os.path.join(out, condition) if condition else out
            paths = write_leaderboard(board, folder, source=source, quality=args.quality)
            written.append((condition, board, paths))
            if condition:
                sections.append(
                    (
                        condition,
                        headline(board),
                        comparison_text(board.comparison)
                        if isinstance(board.comparison, Comparison)
                        else "",
                        board.protocol,
                    )
                )
        if sections:
            written.append(("", None, _write_index(out, title, sections, selection, source)))
    except SegbenchError as err:
        print(f"segbench.leaderboard: error: {err}", file=sys.stderr)
        return 2
    for _condition, board, paths in written:
        if board is not None:
            print(
                f"{board.title}: {len(board.runs) + len(board.superseded)} job runs, "
                f"{len(board.cells)} tables, {len(board.failed)} not finished, "
                f"{len(board.superseded)} superseded"
            )
            for line in headline(board):
                print(re.sub(r"\*\*|`", "", line))
        for path in paths.values():
            print(f"wrote {path}")
    return 0


def _same_condition(frame: Any, condition: str) -> Any:
    """The rows of ``frame`` of one protocol condition (all of them outside a protocol)."""
    from segbench.leaderboard.protocol import COLUMN

    if not condition or COLUMN not in frame:
        return frame
    return frame[(frame[COLUMN].astype("string") == condition).fillna(False).to_numpy()]


def _write_index(
    out: str, title: str, sections: list, selection: Any, source: str
) -> dict[str, str]:
    """A protocol study's ``leaderboard.md`` (the index) and ``selection.csv``."""
    from segbench.leaderboard.protocol import index_markdown, selection_table

    table = selection_table(selection)
    paths = {
        "leaderboard.md": os.path.join(out, "leaderboard.md"),
        "selection.csv": os.path.join(out, "selection.csv"),
    }
    try:
        with open(paths["leaderboard.md"], "w", encoding="utf-8") as fh:
            fh.write(index_markdown(title, sections, table, source))
        table.to_csv(paths["selection.csv"], index=False)
    except OSError as err:
        raise ConfigError(
            f"--out {out}: expected a folder the leaderboard can write into; found "
            f"{err.strerror or err}."
        ) from None
    return paths


if __name__ == "__main__":
    sys.exit(main())
