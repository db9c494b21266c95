"""Which job runs are results: reruns, superseded runs and runs that did not finish.

A *configuration* is what a run computes: its defining params (:func:`defining_params`: the
settings of :func:`segbench.settings.identity.defining`, without the results a tuned run logs
as ``best.*`` params, the feature expression with its blocks in one order) and the content
fingerprint of its data (tag ``segbench.dataset_fingerprint``). The rule:

- only a FINISHED run is a result;
- a FINISHED run is *superseded* by a later FINISHED run of the same configuration on the
  same data fingerprint: re-running a study, or part of it, replaces its earlier results
  instead of double-counting them;
- a run that did not finish (FAILED, KILLED, or RUNNING: still running, or orphaned by a
  ``kill -9``) never supersedes anything, so a failed or killed rerun cannot hide a result;
- a rerun on changed data (same settings, another fingerprint) supersedes nothing either:
  both results stay, and the leaderboard keeps their tables apart;
- superseded and unfinished runs are listed (outcome ``superseded`` / ``not finished``),
  never dropped.

>>> import pandas as pd
>>> runs = pd.DataFrame({
...     "run_id": ["a", "b", "c", "d"], "status": ["FINISHED", "FINISHED", "FAILED", "FINISHED"],
...     "start_time": [1, 2, 3, 4], "params.seed": ["1", "1", "1", "2"],
...     "tags.segbench.dataset_fingerprint": ["f1", "f1", "f1", "f1"]})
>>> kept, superseded = split_reruns(runs)
>>> list(kept["run_id"]), list(kept["outcome"])
(['b', 'c', 'd'], ['result', 'not finished', 'result'])
>>> superseded[["run_id", "superseded_by"]].values.tolist()
[['a', 'b']]
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from segbench.settings.identity import configured, defining

FINISHED = "FINISHED"
RESULT, SUPERSEDED, NOT_FINISHED = "result", "superseded", "not finished"
FINGERPRINT = "tags.segbench.dataset_fingerprint"
#: Params a tuned run logs that are results, not settings: the hyperparameters it found.
RESULT_PARAMS = ("best.",)


def normalise_features(expression: object) -> str:
    """A feature expression with its blocks in one order: block order is irrelevant.

    >>> normalise_features("text + demographics+rfm")
    'demographics+rfm+text'
    """
    parts = [p.strip() for p in str(expression).split("+")]
    return "+".join(sorted(p for p in parts if p))


def settings_of(params: Mapping[str, str]) -> dict[str, str]:
    """A run's settings as configured among its params: without the results older tuned runs
    logged as ``best.*``, and with a tuned run's refit values giving way to its ``baseline.*``
    (:func:`segbench.settings.identity.configured`). The one place that turns params into
    settings; :func:`defining_params` and :func:`defining_of` both start here."""
    return configured({k: v for k, v in params.items() if not k.startswith(RESULT_PARAMS)})


def defining_params(params: Mapping[str, str]) -> dict[str, str]:
    """The params that define what a run computes (see the module docstring)."""
    kept = defining(settings_of(params))
    if "features" in kept:
        kept["features"] = normalise_features(kept["features"])
    return kept


def identity(params: Mapping[str, str]) -> str:
    """A hash of :func:`defining_params`: runs with equal identity computed the same thing."""
    kept = sorted(defining_params(params).items())
    return hashlib.sha1(repr(kept).encode()).hexdigest()[:16]


def params_of(runs: pd.DataFrame) -> list[dict[str, str]]:
    """Each run's params (``params.`` prefix removed, missing values left out)."""
    names, values = _param_values(runs)
    return [{n: str(v) for n, v in zip(names, row, strict=True) if _present(v)} for row in values]


def _present(value: object) -> bool:
    """Not None, NA or NaN (``pd.isna`` per value costs more than the rest of the loop)."""
    return value is not None and value is not pd.NA and value == value


def _param_values(runs: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    cols = [c for c in runs.columns if str(c).startswith("params.")]
    values = runs[cols].to_numpy(dtype=object) if cols else np.empty((len(runs), 0), dtype=object)
    return [c[len("params.") :] for c in cols], values


def _decides(name: str) -> bool:
    """Whether a setting's value can change which other settings define a run."""
    return name.endswith(".enabled") or name in ("tune.name", "features")


def defining_of(runs: pd.DataFrame) -> list[dict[str, str]]:
    """:func:`defining_params` of every run, fast: which settings define a run depends only
    on which settings it has and on the values of the switches (``*.enabled``,
    ``tune.name``, ``features``), so the rule runs once per such combination, not per run."""
    present = params_of(runs)
    kept_by: dict[tuple, frozenset[str]] = {}
    out = []
    for params in present:
        settings = settings_of(params)
        switches = tuple(sorted((k, v) for k, v in settings.items() if _decides(k)))
        signature = (switches, frozenset(settings))
        kept = kept_by.get(signature)
        if kept is None:
            kept = kept_by[signature] = frozenset(defining(settings))
        found = {k: v for k, v in settings.items() if k in kept}
        if "features" in found:
            found["features"] = normalise_features(found["features"])
        out.append(found)
    return out


def identities(runs: pd.DataFrame) -> list[str]:
    """:func:`identity` of every run (via :func:`defining_of`)."""
    return [
        hashlib.sha1(repr(sorted(p.items())).encode()).hexdigest()[:16] for p in defining_of(runs)
    ]


def split_reruns(
    runs: pd.DataFrame, keep_superseded: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(kept, superseded)``: results and unfinished runs, and the superseded results.

    Both get ``outcome`` and ``superseded_by`` (the run id of the later result) columns; rows
    keep their start-time order. ``keep_superseded``: every FINISHED run is a result.
    """
    finished = (runs["status"] == FINISHED).fillna(False).to_numpy(dtype=bool)
    outcome = np.where(finished, RESULT, NOT_FINISHED).astype(object)
    by = np.full(len(runs), None, dtype=object)
    if not keep_superseded and finished.any():
        done = runs[finished]
        fingerprint = done.get(FINGERPRINT, pd.Series(pd.NA, index=done.index))
        frame = pd.DataFrame(
            {
                "key": [
                    f"{i}|{'' if pd.isna(f) else f}"
                    for i, f in zip(identities(done), fingerprint, strict=True)
                ],
                "start": done["start_time"].to_numpy(),
                "run_id": done["run_id"].astype(object).to_numpy(),
                "row": np.flatnonzero(finished),
            }
        ).sort_values(["start", "run_id"], kind="stable")
        latest = frame.groupby("key", sort=False)["run_id"].transform("last")
        replaced = (frame["run_id"] != latest).to_numpy()
        rows = frame["row"].to_numpy()[replaced]
        outcome[rows] = SUPERSEDED
        by[rows] = latest.to_numpy()[replaced]
    out = runs.assign(
        outcome=pd.Series(outcome, index=runs.index, dtype="string"),
        superseded_by=pd.Series(by, index=runs.index, dtype="string"),
    )
    superseded = out["outcome"] == SUPERSEDED
    return (
        out[~superseded].reset_index(drop=True),
        out[superseded].reset_index(drop=True),
    )


__all__ = [
    "FINISHED",
    "NOT_FINISHED",
    "RESULT",
    "SUPERSEDED",
    "defining_of",
    "defining_params",
    "identities",
    "identity",
    "normalise_features",
    "params_of",
    "split_reruns",
]
