"""Read the job runs of a study from the MLflow tracking store into one pandas frame.

The leaderboard reads only the store (params, metrics, tags of each run), never files a run
left behind, and never writes to it. One row per *job run*; left out are

- sweep parents (tag ``segbench.role=sweep``, written by
  :class:`segbench.tracking.sweep.SweepCallback`);
- tuning trials and any other nested run: a run whose ``mlflow.parentRunId`` is not a sweep
  parent, or that is tagged as a trial (``segbench.role=trial`` or any ``segbench.role``
  other than ``job``, or a ``segbench.trial_number`` tag; see :mod:`segbench.tuning.trial_runs`);
- deleted runs and experiments.

Which of the job runs are results, and which were superseded by a rerun, is
:mod:`segbench.leaderboard.reruns`: :func:`load_runs` returns the two apart.

Columns of the frame: ``run_id, experiment_id, experiment, run_name, status, start_time,
end_time, parent_run_id, error`` (the ``segbench.error`` tag of a FAILED run), then
``params.<name>`` (strings), ``metrics.<name>`` (floats, missing = NaN) and
``tags.<name>`` for the ``segbench.*`` tags.

Study filter (``study=...``), any of

- the run id of a sweep parent: its children;
- a study name: runs whose param ``study`` (set by the ``experiment=`` presets) or tag
  ``segbench.study`` equals it, and the children of sweep parents tagged with it.

A database store (``sqlite:``, ``postgresql:`` …) is read in bulk by
:mod:`segbench.leaderboard.sqlstore`; a tracking server or a folder of runs through
``MlflowClient.search_runs``. A store that does not exist, cannot be read or is not an MLflow
store raises :class:`~segbench.errors.ConfigError` with one paragraph.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from segbench.errors import ConfigError
from segbench.leaderboard.reruns import defining_params, identity, normalise_features, split_reruns
from segbench.leaderboard.sqlstore import (
    SWEEP_ROLE,
    Selection,
    is_database_uri,
    read_database,
)

BASE_COLUMNS = [
    "run_id",
    "experiment_id",
    "experiment",
    "run_name",
    "status",
    "start_time",
    "end_time",
    "parent_run_id",
    "error",
]
#: Columns :mod:`segbench.leaderboard.reruns` adds (kept in the CSV).
OUTCOME_COLUMNS = ["outcome", "superseded_by"]
CLIENT_SCHEMES = ("http", "https", "databricks", "databricks-uc", "uc")
#: A read-only command should fail fast on an unreachable server (MLflow's default retries
#: for minutes); the user's own settings win.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
URI_FORMS = (
    "sqlite:///path/to/mlflow.db, postgresql://user@host/db, http(s)://host:port of a "
    "tracking server, or a folder of runs (file:///path/to/mlruns)"
)


def is_trial(run: Any, sweep_parents: set[str]) -> bool:
    """Whether the MLflow ``run`` is a nested run (tuning trial) rather than a job of a study."""
    tags = run.data.tags
    role = tags.get("segbench.role")
    if role is not None and role != "job":
        return True
    if "segbench.trial_number" in tags:
        return True
    parent = tags.get("mlflow.parentRunId")
    return parent is not None and parent not in sweep_parents


def runs_frame(rows: Iterable[Mapping[str, object]] | pd.DataFrame) -> pd.DataFrame:
    """Runs as a frame with the module's column order and dtypes (params and tags strings,
    metrics floats, times UTC timestamps; an empty string reads as missing)."""
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    for col in BASE_COLUMNS:
        if col not in frame:
            frame[col] = pd.Series(pd.NA, index=frame.index, dtype="object")
    extra = [c for c in OUTCOME_COLUMNS if c in frame]
    prefixes = ("params.", "metrics.", "tags.")
    rest = {p: sorted(c for c in frame.columns if str(c).startswith(p)) for p in prefixes}
    frame = frame[BASE_COLUMNS + extra + rest["params."] + rest["metrics."] + rest["tags."]]
    frame = frame.copy()
    metrics = rest["metrics."]
    if metrics:
        frame[metrics] = frame[metrics].apply(pd.to_numeric, errors="coerce").astype("float64")
    strings = [*BASE_COLUMNS[:5], "parent_run_id", "error", *extra, *rest["params."]]
    strings += rest["tags."]
    # an empty string and a missing value are one thing here (a CSV cannot tell them apart)
    frame[strings] = frame[strings].astype("string").replace("", pd.NA)
    for col in ("start_time", "end_time"):
        frame[col] = as_times(frame[col])
    return frame.reset_index(drop=True)


def as_times(values: pd.Series) -> pd.Series:
    """UTC timestamps from timestamps, MLflow's epoch milliseconds or ISO strings."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values, utc=True)
    numeric = pd.to_numeric(values, errors="coerce")
    if values.notna().sum() and numeric.notna().sum() == values.notna().sum():
        return pd.to_datetime(numeric, unit="ms", utc=True)  # MLflow's epoch milliseconds
    return pd.to_datetime(values, utc=True, errors="coerce")


def _standard(frame: pd.DataFrame) -> pd.DataFrame:
    """A reader's wide frame (every tag) → the module's columns (segbench tags kept)."""
    frame = frame.copy()
    tags = [c for c in frame.columns if str(c).startswith("tags.")]
    frame["parent_run_id"] = frame.get("tags.mlflow.parentRunId")
    frame["error"] = frame.get("tags.segbench.error")
    drop = [c for c in tags if not c.startswith("tags.segbench.")]
    return runs_frame(frame.drop(columns=drop))


def _client_runs(uri: str, selection: Selection) -> tuple[pd.DataFrame, dict[str, str], dict]:
    """The same frame as :func:`sqlstore.read_database`, through ``MlflowClient``."""
    from mlflow.tracking import MlflowClient

    from segbench.tracking.mlflow_run import retry_locked

    client = MlflowClient(uri)
    experiments = retry_locked(client.search_experiments)
    known = {e.experiment_id: e.name for e in experiments}
    if selection.experiments:
        by_name = {n: i for i, n in known.items()}
        for name in selection.experiments:
            if name not in by_name:
                raise ConfigError(
                    f"no MLflow experiment named {name!r} in the store; experiments there: "
                    f"{', '.join(sorted(known.values())) or 'none'}"
                )
        known = {by_name[n]: n for n in selection.experiments}
    ids = list(known)
    if not ids:
        return pd.DataFrame(), known, {}

    def search(filter_string: str) -> list:
        found, token = [], None
        while True:
            page = retry_locked(
                client.search_runs,
                ids,
                filter_string=filter_string,
                max_results=1000,
                order_by=["attributes.start_time ASC"],
                page_token=token,
            )
            found.extend(page)
            token = page.token
            if not token:
                return found

    quote = _quote
    tag_filter = " and ".join(f"tags.`{k}` = {quote(v)}" for k, v in (selection.tags or {}).items())

    def filtered(extra: str) -> list:
        return search(" and ".join(f for f in (extra, tag_filter) if f))

    sweep_runs = search(f"tags.`segbench.role` = {quote(SWEEP_ROLE)}")
    sweeps = {r.info.run_id for r in sweep_runs}
    study = selection.study
    if study is None:
        candidates = filtered("")
    elif study in sweeps:
        candidates = filtered(f"tags.mlflow.parentRunId = {quote(study)}")
    else:
        tagged = [r.info.run_id for r in sweep_runs if r.data.tags.get("segbench.study") == study]
        found = [
            *filtered(f"params.study = {quote(study)}"),
            *filtered(f"tags.`segbench.study` = {quote(study)}"),
            *(r for p in tagged for r in filtered(f"tags.mlflow.parentRunId = {quote(p)}")),
        ]
        candidates = sorted({r.info.run_id: r for r in found}.values(), key=_start)
    jobs = [r for r in candidates if r.info.run_id not in sweeps and not is_trial(r, sweeps)]
    if not jobs:
        studies = {r.data.params["study"] for r in search("") if "study" in r.data.params}
        return pd.DataFrame(), known, {"studies": sorted(studies), "sweeps": sorted(sweeps)}
    rows = []
    for run in jobs:
        info, data = run.info, run.data
        row: dict[str, object] = {
            "run_id": info.run_id,
            "experiment_id": info.experiment_id,
            "experiment": known.get(info.experiment_id, ""),
            "run_name": info.run_name,
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
        }
        row.update({f"params.{k}": v for k, v in data.params.items()})
        row.update({f"metrics.{k}": float(v) for k, v in data.metrics.items()})
        row.update({f"tags.{k}": v for k, v in data.tags.items()})
        rows.append(row)
    return pd.DataFrame(rows), known, {}


def _start(run: Any) -> int:
    return run.info.start_time or 0


def _quote(value: str) -> str:
    return "'" + value.replace("'", "\\'") + "'"


def resolve(uri: str) -> str:
    """``uri`` with a relative SQLite path made absolute against the current directory."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return f"{prefix}{(Path.cwd() / uri[len(prefix) :]).resolve()}"
    return uri


def read_store(uri: str, selection: Selection) -> tuple[pd.DataFrame, dict[str, str], dict]:
    """The reader for ``uri`` (database or client), with store errors as one paragraph."""
    scheme = urlparse(uri).scheme.lower()
    if is_database_uri(uri):
        return read_database(uri, selection)
    if len(scheme) > 1 and scheme not in ("file", *CLIENT_SCHEMES):
        raise ConfigError(
            f"--tracking-uri {uri}: expected an MLflow tracking store ({URI_FORMS}); found "
            f"the scheme {scheme!r}, which is none of these."
        )
    if scheme in ("", "file") or len(scheme) == 1:
        path = Path(urlparse(uri).path if scheme == "file" else uri)
        if not path.is_dir():
            raise ConfigError(
                f"--tracking-uri {uri}: expected a folder of MLflow runs, found "
                + ("a file" if path.exists() else "nothing")
                + f" at {path}. Other stores: {URI_FORMS}."
            )
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    from mlflow.exceptions import MlflowException

    try:
        return _client_runs(uri, selection)
    except ConfigError:
        raise
    except (MlflowException, OSError) as err:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        refused = re.search(r"\[Errno -?\d+\] ([^\"')]+)", text)
        if scheme in CLIENT_SCHEMES and refused:
            raise ConfigError(
                f"--tracking-uri {uri}: expected a tracking server there, found none that "
                f"answers ({refused.group(1).strip()}). Start it (mlflow server …) or check "
                "the address."
            ) from None
        raise ConfigError(
            f"--tracking-uri {uri}: could not read the MLflow store ({text[:400]})."
        ) from None


def load_runs(
    tracking_uri: str,
    experiments: Sequence[str] | None = None,
    study: str | None = None,
    tags: Mapping[str, str] | None = None,
    keep_superseded: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The job runs matching the filters, and apart from them the superseded reruns.

    ``experiments``: experiment names (default: every experiment in the store);
    ``study``: a sweep parent run id or a study name (see the module docstring);
    ``tags``: exact tag values every run must carry;
    ``keep_superseded``: keep every FINISHED run as a result (no superseding).
    Both frames have the columns of :func:`runs_frame` and ``outcome`` (``result``,
    ``not finished``, ``superseded``) and ``superseded_by`` (:mod:`.reruns`).
    Raises :class:`ConfigError` when the store cannot be read or nothing matches.
    """
    uri = resolve(tracking_uri)
    selection = Selection(experiments, study, tags)
    wide, exps, context = read_store(uri, selection)
    if not exps:
        raise ConfigError(f"the tracking store {uri} has no experiments")
    if wide.empty:
        where = f"experiment(s) {', '.join(exps.values())} of {uri}"
        raise ConfigError(
            f"no runs match study={study!r} tags={dict(tags or {})} in {where}. "
            f"Studies there: {', '.join(context.get('studies', [])) or 'none'}; sweep parent "
            f"runs: {', '.join(context.get('sweeps', [])) or 'none'}."
        )
    kept, superseded = split_reruns(_standard(wide), keep_superseded=keep_superseded)
    return _ordered(kept), _ordered(superseded)


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """The column order of :func:`runs_frame` (base, outcome, params, metrics, tags)."""
    head = [c for c in [*BASE_COLUMNS, *OUTCOME_COLUMNS] if c in frame]
    return frame[head + [c for c in frame.columns if c not in head]]


def read_runs_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``leaderboard.csv`` back (every job run, superseded ones included) with the dtypes
    :func:`load_runs` gives."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return runs_frame(frame)


__all__ = [
    "defining_params",
    "identity",
    "is_trial",
    "load_runs",
    "normalise_features",
    "read_runs_csv",
    "read_store",
    "resolve",
    "runs_frame",
]
