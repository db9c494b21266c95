"""Export a run's segments with the raw customer ids, to a local file: explicit and opt-in.

Usage::

    SEGBENCH_PSEUDONYM_KEY=<the run's key> python -m segbench.export --run-id <run id> \\
        --output segments_with_ids.csv

A run never stores raw customer ids (:mod:`segbench.data.pseudonyms`): its
``assignments.parquet`` pairs each customer's *pseudonym* with a segment. To act on the segments
(a mailing, a CRM field), the holder of the pseudonym key can map them back: this command reads
the run's dataset again with the run's own dataset settings (from its ``config.yaml``; the file
can be pointed elsewhere with ``--data``), computes each raw id's pseudonym with the key, joins
the run's assignments and writes ``customer_id`` (the **raw** id), ``segment`` and
``segment_name`` (when the run logged names) to ``--output`` (CSV, or Parquet for
``.parquet``), readable by its owner only.

It is off by default and only ever writes to the local file: nothing is logged to the tracking
store, and an output inside the store's artifact folder is refused. It needs the key the run
used, i.e. a run made with ``SEGBENCH_PSEUDONYM_KEY`` set (tag ``segbench.pseudonym_key=env``);
a run made without it used a random per-run key that was never stored, so no one can map its
pseudonyms back. A wrong key, or data that changed, matches none of the run's pseudonyms: an
error says so.

The tracking store is ``--tracking-uri``, else ``MLFLOW_TRACKING_URI``, else
``sqlite:///mlflow.db`` in the working directory. Expected errors print one paragraph and exit
with status 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from segbench.assign import segment_names, tracking_uri, write_table
from segbench.data.pseudonyms import KEY_ENV, env_key, pseudonymise_ids
from segbench.datasets.base import build_adapter
from segbench.errors import ConfigError, DataError, SegbenchError
from segbench.settings import DatasetSettings
from segbench.settings.base import coerce
from segbench.tracking.mlflow_run import retry_locked

log = logging.getLogger("segbench.export")
ASSIGNMENTS = "assignments.parquet"
KEY_TAG = "segbench.pseudonym_key"


def _run(run_id: str, uri: str) -> Any:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        return retry_locked(MlflowClient(uri).get_run, run_id)
    except MlflowException as err:
        raise ConfigError(f"run {run_id!r} not found in the tracking store {uri}: {err}") from None


def _artifact(run_id: str, path: str, uri: str) -> Path:
    import mlflow

    try:
        return Path(
            mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, tracking_uri=uri)
        )
    except Exception as err:  # MLflow raises several types for a missing file
        raise ConfigError(
            f"run {run_id} has no artifact {path!r} ({type(err).__name__}); it failed before "
            "logging its segments, or was made by a segbench that did not log them"
        ) from None


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def check_output(output: Path, artifact_uri: str) -> None:
    """Refuse an output inside the tracking store's artifact folder (a local store)."""
    if not artifact_uri.startswith("file://"):
        return
    from urllib.parse import unquote, urlparse

    artifacts = Path(unquote(urlparse(artifact_uri).path))
    # the experiment's folder holds every run's artifacts
    for folder in (artifacts, artifacts.parent.parent):
        if _inside(output, folder):
            raise ConfigError(
                f"--output {output}: is inside the tracking store's artifact folder {folder}; "
                "raw customer ids never go to the store: write the export elsewhere"
            )


def export_segments(
    run_id: str, uri: str | None = None, data: str | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The run's segments by raw customer id: ``(table, info)`` (see the module docstring).

    ``table``: ``customer_id`` (raw), ``segment``, ``segment_name``; ``info``: counts.
    """
    key = env_key()
    if key is None:
        raise ConfigError(
            f"the export needs the key the run's ids were pseudonymised with: set {KEY_ENV} to "
            "it (found it unset). Runs made without it used a random per-run key that was "
            "never stored, so their ids cannot be mapped back; rerun with the key set"
        )
    store = tracking_uri(uri)
    run = _run(run_id, store)
    source = run.data.tags.get(KEY_TAG)
    if source != "env":
        raise ConfigError(
            f"run {run_id} pseudonymised its customer ids with {source or 'an unknown'} key, "
            f"not with {KEY_ENV}: that key was never stored, so no one can map its pseudonyms "
            f"back to raw ids (expected the tag {KEY_TAG}=env). Rerun the experiment with "
            f"{KEY_ENV} set, then export that run"
        )
    config = yaml.safe_load(_artifact(run_id, "config.yaml", store).read_text())
    dataset = dict(config.get("dataset") or {})
    if data:
        if not Path(data).is_file():
            raise DataError(f"--data {data}: no such file")
        dataset["path"] = str(Path(data).resolve())
    settings = coerce(DatasetSettings, dataset, "dataset")
    raw = build_adapter(settings).load().validate()
    assignments = pd.read_parquet(_artifact(run_id, ASSIGNMENTS, store))
    pseudonyms = pseudonymise_ids(raw.customer_ids, key)
    ids = pd.Series(raw.customer_ids.astype(str), index=pseudonyms)
    known = assignments["customer_id"].isin(ids.index)
    if not known.any():
        raise DataError(
            f"none of the {len(assignments)} pseudonyms of run {run_id} match the "
            f"{raw.n_customers} customers of dataset '{settings.name}' under this "
            f"{KEY_ENV}: expected the key and the data the run used (the key differs, or the "
            "data file changed; --data points at another copy)"
        )
    kept = assignments[known]
    table = pd.DataFrame(
        {
            "customer_id": ids.reindex(kept["customer_id"]).to_numpy(),
            "segment": kept["segment"].to_numpy(),
        }
    )
    names = segment_names(run_id, store)
    table["segment_name"] = table["segment"].map(names).fillna("") if names is not None else ""
    info = {
        "customers": len(table),
        "unmatched": int((~known).sum()),
        "dataset": settings.name,
        "named": names is not None,
        "artifact_uri": run.info.artifact_uri,
    }
    return table, info


def write_private(table: pd.DataFrame, output: str | os.PathLike[str]) -> Path:
    """Write ``table`` (CSV, or Parquet for ``.parquet``) readable by its owner only."""
    return write_table(table, output, owner_only=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m segbench.export",
        description=(
            "Write a run's segments with the RAW customer ids (raw id, segment, segment name) to "
            f"a local file, using the run's pseudonym key from {KEY_ENV}. Never writes to the "
            "tracking store."
        ),
    )
    p.add_argument("--run-id", required=True, help="MLflow run id of a segbench run")
    p.add_argument("--output", required=True, help="local output file (.csv or .parquet)")
    p.add_argument("--data", help="the run's data file, if it moved (default: the run's path)")
    p.add_argument("--tracking-uri", help="MLflow tracking store (default: see the docstring)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        table, info = export_segments(args.run_id, uri=args.tracking_uri, data=args.data)
        check_output(Path(args.output), info["artifact_uri"])
        out = write_private(table, args.output)
    except SegbenchError as err:
        print(f"segbench.export: error: {err}", file=sys.stderr)
        return 2
    print(
        f"wrote {info['customers']} customers of run {args.run_id} (raw id, segment, segment "
        f"name) to {out}, readable by you only. It holds raw customer ids: keep it out of the "
        "tracking store and share it only where the data may go."
    )
    if info["unmatched"]:
        print(
            f"  note: {info['unmatched']} of the run's pseudonyms match no customer of the data "
            "read now (the data changed since the run?); they are not in the file"
        )
    if not info["named"]:
        print("  note: the run logged no segment names; segment_name is empty")
    return 0


if __name__ == "__main__":
    sys.exit(main())
