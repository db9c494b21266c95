"""Read the runs of a study from the MLflow tracking store into one pandas frame.

The leaderboard reads only the store (params, metrics, tags of each run), never files a run
left behind. One row per *job run*; left out are

- sweep parents (tag ``segbench.role=sweep``, written by
  :class:`segbench.tracking.sweep.SweepCallback`);
- tuning trials and any other nested run: a run whose ``mlflow.parentRunId`` is not a sweep
  parent, or that is tagged as a trial (``segbench.role=trial`` or any ``segbench.role``
  other than ``job``, or a ``segbench.trial_number`` tag; see :mod:`segbench.tuning.trial_runs`);
- earlier runs of the same configuration: when several runs share every param that defines
  what they compute (:func:`defining_params`: the settings of
  :func:`segbench.settings.identity.defining`, without the results a tuned run logs as
  ``best.*`` params), the latest (by start time) is kept, so re-running a study, or part of
  it, replaces its earlier runs instead of double-counting them.

Columns of the frame: ``run_id, experiment_id, experiment, run_name, status, start_time,
end_time, parent_run_id, error`` (the ``segbench.error`` tag of a FAILED run), then
``params.<name>`` (strings), ``metrics.<name>`` (floats, missing = NaN) and
``tags.<name>`` for the ``segbench.*`` tags and ``mlflow.runName``.

Study filter (``study=...``), any of

- the run id of a sweep parent: its children;
- a study name: runs whose param ``study`` (set by the ``experiment=`` presets) or tag
  ``segbench.study`` equals it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from segbench.errors import ConfigError
from segbench.settings.identity import configured, defining
from segbench.tracking.mlflow_run import resolve_uri, retry_locked

SWEEP_ROLE = "sweep"
#: Params a tuned run logs that are results, not settings: the hyperparameters it found.
RESULT_PARAMS = ("best.",)
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


def _search(client: MlflowClient, experiment_ids: list[str], filter_string: str) -> list[Run]:
    runs: list[Run] = []
    token = None
    while True:
        page = retry_locked(
            client.search_runs,
            experiment_ids,
            filter_string=filter_string,
            max_results=1000,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _quote(value: str) -> str:
    return "'" + value.replace("'", "\\'") + "'"


def experiment_ids(client: MlflowClient, names: Sequence[str] | None) -> dict[str, str]:
    """Experiment id → name for ``names`` (all active experiments when ``None``)."""
    if names:
        found = {}
        for name in names:
            exp = retry_locked(client.get_experiment_by_name, name)
            if exp is None:
                known = [e.name for e in retry_locked(client.search_experiments)]
                raise ConfigError(
                    f"no MLflow experiment named {name!r} in the store; experiments there: "
                    f"{', '.join(known) or 'none'}"
                )
            found[exp.experiment_id] = exp.name
        return found
    return {e.experiment_id: e.name for e in retry_locked(client.search_experiments)}


def is_trial(run: Run, sweep_parents: set[str]) -> bool:
    """Whether ``run`` is a nested run (tuning trial) rather than a job of a study."""
    tags = run.data.tags
    role = tags.get("segbench.role")
    if role is not None and role != "job":
        return True
    if "segbench.trial_number" in tags:
        return True
    parent = tags.get("mlflow.parentRunId")
    return parent is not None and parent not in sweep_parents


def defining_params(params: Mapping[str, str]) -> dict[str, str]:
    """The params that define what a run computes (:func:`segbench.settings.identity.defining`
    of its settings as configured, :func:`~segbench.settings.identity.configured`: a tuned
    run's refit values give way to its ``baseline.*``; result params such as ``best.*`` of
    older runs left out)."""
    settings = {k: v for k, v in params.items() if not k.startswith(RESULT_PARAMS)}
    return defining(configured(settings))


def identity(params: Mapping[str, str]) -> str:
    """A hash of :func:`defining_params` (see the module docstring)."""
    kept = sorted(defining_params(params).items())
    return hashlib.sha1(repr(kept).encode()).hexdigest()[:16]


def _row(run: Run, experiments: Mapping[str, str]) -> dict[str, object]:
    info, data = run.info, run.data
    row: dict[str, object] = {
        "run_id": info.run_id,
        "experiment_id": info.experiment_id,
        "experiment": experiments.get(info.experiment_id, ""),
        "run_name": info.run_name,
        "status": info.status,
        "start_time": pd.to_datetime(info.start_time, unit="ms", utc=True),
        "end_time": pd.to_datetime(info.end_time, unit="ms", utc=True) if info.end_time else pd.NaT,
        "parent_run_id": data.tags.get("mlflow.parentRunId"),
        "error": data.tags.get("segbench.error"),
    }
    row.update({f"params.{k}": v for k, v in data.params.items()})
    row.update({f"metrics.{k}": float(v) for k, v in data.metrics.items()})
    row.update({f"tags.{k}": v for k, v in data.tags.items() if k.startswith("segbench.")})
    return row


def runs_frame(rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """Rows of :func:`_row` as a frame with stable column order and dtypes."""
    frame = pd.DataFrame(list(rows))
    for col in BASE_COLUMNS:
        if col not in frame:
            frame[col] = pd.Series(dtype="object")
    prefixes = ("params.", "metrics.", "tags.")
    rest = {p: sorted(c for c in frame.columns if c.startswith(p)) for p in prefixes}
    frame = frame[BASE_COLUMNS + rest["params."] + rest["metrics."] + rest["tags."]]
    for col in rest["metrics."]:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    for col in BASE_COLUMNS[:5] + ["parent_run_id", "error"] + rest["params."] + rest["tags."]:
        # an empty string and a missing value are one thing here (a CSV cannot tell them apart)
        frame[col] = frame[col].astype("string").replace("", pd.NA)
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame.reset_index(drop=True)


def load_runs(
    tracking_uri: str,
    experiments: Sequence[str] | None = None,
    study: str | None = None,
    tags: Mapping[str, str] | None = None,
    keep_superseded: bool = False,
) -> tuple[pd.DataFrame, int]:
    """The job runs matching the filters, and how many superseded runs were dropped.

    ``experiments``: experiment names (default: every experiment in the store);
    ``study``: a sweep parent run id or a study name (see the module docstring);
    ``tags``: exact tag values every run must carry.
    Raises :class:`ConfigError` when nothing matches, listing the studies that exist.
    """
    uri = resolve_uri(tracking_uri)
    client = MlflowClient(uri)
    exps = experiment_ids(client, experiments)
    ids = list(exps)
    if not ids:
        raise ConfigError(f"the tracking store {uri} has no experiments")
    tag_filter = " and ".join(f"tags.`{k}` = {_quote(v)}" for k, v in (tags or {}).items())

    def search(extra: str) -> list[Run]:
        return _search(client, ids, " and ".join(f for f in (extra, tag_filter) if f))

    sweep_runs = _search(client, ids, f"tags.`segbench.role` = {_quote(SWEEP_ROLE)}")
    sweep_parents = {r.info.run_id for r in sweep_runs}
    if study is None:
        candidates = search("")
    elif study in sweep_parents:
        candidates = search(f"tags.mlflow.parentRunId = {_quote(study)}")
    else:
        by_param = search(f"params.study = {_quote(study)}")
        by_tag = search(f"tags.`segbench.study` = {_quote(study)}")
        tagged_sweeps = [r for r in sweep_runs if r.data.tags.get("segbench.study") == study]
        by_sweep = [
            run
            for parent in tagged_sweeps
            for run in search(f"tags.mlflow.parentRunId = {_quote(parent.info.run_id)}")
        ]
        unique = {r.info.run_id: r for r in [*by_param, *by_tag, *by_sweep]}
        candidates = sorted(unique.values(), key=lambda r: r.info.start_time)
    jobs = [
        r
        for r in candidates
        if r.info.run_id not in sweep_parents and not is_trial(r, sweep_parents)
    ]
    if not jobs:
        studies = sorted(
            {r.data.params["study"] for r in _search(client, ids, "") if "study" in r.data.params}
        )
        where = f"experiment(s) {', '.join(exps.values())} of {uri}"
        raise ConfigError(
            f"no runs match study={study!r} tags={dict(tags or {})} in {where}. "
            f"Studies there: {', '.join(studies) or 'none'}; sweep parent runs: "
            f"{', '.join(sorted(sweep_parents)) or 'none'}."
        )
    latest: dict[str, Run] = {}
    for run in sorted(jobs, key=lambda r: r.info.start_time):
        key = identity(run.data.params) if not keep_superseded else run.info.run_id
        latest[key] = run
    kept = sorted(latest.values(), key=lambda r: r.info.start_time)
    return runs_frame(_row(r, exps) for r in kept), len(jobs) - len(kept)


def read_runs_csv(path: str) -> pd.DataFrame:
    """Read a ``leaderboard.csv`` back with the dtypes :func:`load_runs` gives."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return runs_frame(frame.to_dict("records"))


__all__ = ["defining_params", "identity", "is_trial", "load_runs", "read_runs_csv", "runs_frame"]
