"""``python -m segbench.stale``: find the RUNNING runs nobody will end, and close them KILLED.

A run whose process was killed with ``kill -9``, ran out of memory or lost its node cannot end
itself: MLflow shows it RUNNING forever. segbench runs carry a heartbeat, and
:mod:`segbench.tracking.liveness` has the rule that tells an orphan from a live run (its
process is gone from this host, or its heartbeat is older than its ``segbench.stale_after``).
This command lists the stale runs of a store and ends them KILLED, with the reason in the tag
``segbench.error``; live runs are never touched.

.. code-block:: text

    python -m segbench.stale                    # the local store, every experiment
    python -m segbench.stale --dry-run          # list only
    python -m segbench.stale --tracking-uri http://mlflow.lab:5000 --experiment segbench

Exit status 0; 2 (one paragraph, no traceback) when the store or an experiment does not exist.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from segbench.errors import SegbenchError
from segbench.settings.tracking import default_uri
from segbench.tracking.liveness import close_killed, find_stale
from segbench.tracking.store import redact, resolve_uri, retry_store, sqlite_file


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m segbench.stale",
        description="Close the RUNNING runs whose process is gone (kill -9, a lost node) as "
        "KILLED.",
    )
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="the MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )
    parser.add_argument(
        "--experiment",
        action="append",
        default=None,
        help="an experiment name (repeatable; default: every experiment of the store)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list the stale runs, change nothing"
    )
    return parser.parse_args(argv)


def experiment_ids(client: object, names: Sequence[str] | None) -> dict[str, str]:
    """``{id: name}`` of the experiments ``names`` (all active ones when ``None``)."""
    if not names:
        return {e.experiment_id: e.name for e in retry_store(client.search_experiments)}
    found = {}
    for name in names:
        experiment = retry_store(client.get_experiment_by_name, name)
        if experiment is None:
            raise SegbenchError(f"--experiment {name!r}: no such experiment in the store")
        found[experiment.experiment_id] = name
    return found


def stale(uri: str, names: Sequence[str] | None = None, dry_run: bool = False) -> list[str]:
    """Close (or with ``dry_run`` only list) the stale runs; returns one line per run."""
    from mlflow.tracking import MlflowClient

    uri = resolve_uri(uri)
    path = sqlite_file(uri)
    if path is not None and not path.exists():
        raise SegbenchError(f"--tracking-uri {uri}: there is no store at {path}")
    client = MlflowClient(uri)
    experiments = experiment_ids(client, names)
    lines = []
    for run, reason in find_stale(client, experiments):
        if not dry_run:
            close_killed(client, run.info.run_id, reason)
        name = run.info.run_name or ""
        lines.append(
            f"{run.info.run_id}  {experiments.get(run.info.experiment_id, '?')}  {name}: {reason}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    uri = args.tracking_uri or default_uri()
    try:
        lines = stale(uri, args.experiment, args.dry_run)
    except SegbenchError as err:
        print(f"segbench.stale: error: {err}", file=sys.stderr)
        sys.exit(2)
    where = redact(resolve_uri(uri))
    if not lines:
        print(f"no stale runs in {where}")
        return
    verb = "stale (dry run: left RUNNING)" if args.dry_run else "closed KILLED"
    print(f"{len(lines)} run(s) {verb} in {where}:")
    for line in lines:
        print(f"  {line}")


if __name__ == "__main__":
    main()
