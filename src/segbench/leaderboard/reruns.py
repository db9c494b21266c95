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

import pandas as pd

from segbench.settings.identity import defining

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


def defining_params(params: Mapping[str, str]) -> dict[str, str]:
    """The params that define what a run computes (see the module docstring)."""
    kept = defining({k: v for k, v in params.items() if not k.startswith(RESULT_PARAMS)})
    if "features" in kept:
        kept["features"] = normalise_features(kept["features"])
    return kept


def identity(params: Mapping[str, str]) -> str:
    """A hash of :func:`defining_params`: runs with equal identity computed the same thing."""
    kept = sorted(defining_params(params).items())
    return hashlib.sha1(repr(kept).encode()).hexdigest()[:16]


def params_of(runs: pd.DataFrame) -> list[dict[str, str]]:
    """Each run's params (``params.`` prefix removed, missing values left out)."""
    cols = [c for c in runs.columns if str(c).startswith("params.")]
    names = [c[len("params.") :] for c in cols]
    values = runs[cols].astype(object).to_numpy() if cols else [[] for _ in range(len(runs))]
    return [
        {n: str(v) for n, v in zip(names, row, strict=True) if not pd.isna(v)} for row in values
    ]


def split_reruns(
    runs: pd.DataFrame, keep_superseded: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(kept, superseded)``: results and unfinished runs, and the superseded results.

    Both get ``outcome`` and ``superseded_by`` (the run id of the later result) columns; rows
    keep their start-time order. ``keep_superseded``: every FINISHED run is a result.
    """
    out = runs.copy()
    out["outcome"] = pd.Series(NOT_FINISHED, index=out.index, dtype="string")
    out["superseded_by"] = pd.Series(pd.NA, index=out.index, dtype="string")
    finished = (out["status"] == FINISHED).fillna(False).to_numpy(dtype=bool)
    out.loc[finished, "outcome"] = RESULT
    if not keep_superseded and finished.any():
        done = out[finished]
        fingerprint = done.get(FINGERPRINT, pd.Series(pd.NA, index=done.index))
        key = (
            pd.Series([identity(p) for p in params_of(done)], index=done.index, dtype="string")
            + "|"
            + fingerprint.astype("string").fillna("")
        )
        order = done.assign(_key=key).sort_values(["start_time", "run_id"], kind="stable")
        latest = order.groupby("_key", sort=False)["run_id"].transform("last")
        replaced = order.index[order["run_id"] != latest]
        out.loc[replaced, "outcome"] = SUPERSEDED
        out.loc[replaced, "superseded_by"] = latest.loc[replaced].astype("string")
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
    "defining_params",
    "identity",
    "normalise_features",
    "params_of",
    "split_reruns",
]
