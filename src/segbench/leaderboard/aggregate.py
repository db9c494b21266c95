"""From runs to leaderboard tables: seeds aggregated with 95% intervals, direction-aware ranks.

For each (dataset, feature expression) one table, one row per algorithm:

1. Runs of one algorithm that differ only in the seed form a *configuration* (params equal
   apart from ``seed``, those :func:`~segbench.leaderboard.store.defining_params` leaves out,
   and params that equal the seed in every run, such as ``random_state: ${seed}``). Its value for
   a metric is the mean over seeds, with a 95% Student-t interval
   ``mean ± t(0.975, n−1) · s / √n`` (``s`` the sample standard deviation, ``n`` the seeds
   that have the metric); with one seed there is no interval. A metric missing for some
   seeds is averaged over the others and flagged.
2. When an algorithm ran in several configurations (a grid of hyperparameters) the row shows
   the best one by the *selection metric* (``select``, default silhouette), and names the
   params that distinguish it.
3. Each metric ranks the rows in its better direction (:mod:`segbench.evaluation.registry`):
   rank 1 is best, ties share the average rank (as in Demšar 2006, "Statistical comparisons
   of classifiers over multiple data sets"). A row without the metric (e.g. no
   silhouette because fewer than two segments were found) ranks below every row that has
   it; its value stays missing, never zero. A metric no row has is left out of the table.
   Beside them, unranked context: ``segments`` and ``noise`` (means of ``n_segments`` and
   ``noise_fraction``), since a density method's internal indices cover only its non-noise
   points and a many-segment or one-segment answer reads differently.
4. ``mean_rank`` averages the ranks of the quality headline metrics present (silhouette,
   davies_bouldin, calinski_harabasz, stability, ari) and *one* fairness term, the mean of the
   ``fairness.<attr>.balance`` ranks, so fairness weighs as one metric however many sensitive
   attributes the dataset has. ``fit_seconds`` is shown and ranked but is a cost, not part of
   the mean rank.

The overall table averages each (algorithm, feature expression) row's mean rank over the
datasets where it ran.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from segbench.evaluation.registry import direction
from segbench.leaderboard.store import defining_params

#: Quality metrics shown and ranked, in this order, when present.
QUALITY = ("silhouette", "davies_bouldin", "calinski_harabasz", "stability", "ari")
#: Cost metrics shown and ranked, never part of the mean rank.
COST = ("fit_seconds",)
#: Context shown beside the ranks, never ranked: how many segments, how much noise (a density
#: method's silhouette covers only its non-noise points).
CONTEXT = {"n_segments": "segments", "noise_fraction": "noise"}
FAIRNESS_BALANCE = re.compile(r"^fairness\.(?P<attr>.+)\.balance$")
FINISHED = "FINISHED"


def headline_metrics(columns: list[str] | pd.Index) -> list[str]:
    """The headline metrics present among ``metrics.<name>`` columns, in display order."""
    present = {c[len("metrics.") :] for c in columns if str(c).startswith("metrics.")}
    fairness = sorted(m for m in present if FAIRNESS_BALANCE.match(m))
    return [m for m in QUALITY if m in present] + fairness + [m for m in COST if m in present]


def interval95(values: pd.Series) -> tuple[float, float, int]:
    """``(mean, half-width, n)`` of the 95% Student-t interval of the non-missing values."""
    v = values.dropna().to_numpy(dtype=float)
    n = len(v)
    if n == 0:
        return float("nan"), float("nan"), 0
    mean = float(v.mean())
    if n == 1:
        return mean, float("nan"), 1
    half = float(stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / np.sqrt(n))
    return mean, half, n


def _params(row: pd.Series) -> dict[str, str]:
    params = {
        str(col)[len("params.") :]: str(value)
        for col, value in row.items()
        if str(col).startswith("params.") and not pd.isna(value)
    }
    out = defining_params(params)
    out.pop("seed", None)
    return out


def _seed_following(params: list[dict[str, str]], seeds: list[str]) -> set[str]:
    """Keys whose value equals the run's seed in every run (``random_state: ${seed}``)."""
    keys = set.intersection(*(set(p) for p in params)) if params else set()
    return {k for k in keys if all(p[k] == s for p, s in zip(params, seeds, strict=True))}


def _column(runs: pd.DataFrame, param: str, tag: str) -> pd.Series:
    value = runs.get(f"params.{param}")
    fallback = runs.get(f"tags.segbench.{tag}")
    if value is None:
        value = fallback
    elif fallback is not None:
        value = value.fillna(fallback)
    if value is None:
        return pd.Series("?", index=runs.index, dtype="string")
    return value.astype("string").fillna("?")


def describe_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with ``dataset, features, algorithm, seed, variant`` columns added."""
    out = runs.copy()
    out["dataset"] = _column(runs, "dataset.name", "dataset")
    out["features"] = _column(runs, "features", "features")
    out["algorithm"] = _column(runs, "algo.name", "algo")
    out["seed"] = _column(runs, "seed", "seed")
    params = {i: _params(row) for i, row in runs.iterrows()}
    variants: dict[object, dict[str, str]] = {}
    for _, group in out.groupby(["dataset", "features", "algorithm"]):
        follow = _seed_following([params[i] for i in group.index], list(group["seed"]))
        for i in group.index:
            variants[i] = {k: v for k, v in params[i].items() if k not in follow}
    out["variant"] = pd.Series(
        [repr(sorted(variants[i].items())) for i in out.index], index=out.index, dtype="string"
    )
    out.attrs["variant_params"] = {out.at[i, "variant"]: variants[i] for i in out.index}
    return out


@dataclass
class Leaderboard:
    """Everything the writers need (see the module docstring for how it is computed)."""

    runs: pd.DataFrame
    tables: dict[tuple[str, str], pd.DataFrame]
    overall: pd.DataFrame
    failed: pd.DataFrame
    metrics: list[str]
    rank_metrics: list[str]
    select: str
    superseded: int = 0
    title: str = "segbench leaderboard"
    notes: list[str] = field(default_factory=list)

    def winners(self) -> pd.DataFrame:
        """Per table, the row(s) with the best mean rank."""
        rows = []
        for (dataset, features), table in self.tables.items():
            best = table["mean_rank"].min()
            for _, row in table[table["mean_rank"] == best].iterrows():
                rows.append(
                    {
                        "dataset": dataset,
                        "features": features,
                        "algorithm": row["algorithm"],
                        "mean_rank": row["mean_rank"],
                        "segments": row["segments"],
                        "noise": row["noise"],
                    }
                )
        return pd.DataFrame(rows)


def _better_first(values: pd.Series, metric: str) -> pd.Series:
    return values.rank(ascending=direction(metric) == "min", method="average", na_option="bottom")


def _differing(params: dict[str, dict[str, str]], chosen: str) -> str:
    if len(params) < 2:
        return ""
    keys = sorted({k for p in params.values() for k in p})
    varying = [k for k in keys if len({p.get(k) for p in params.values()}) > 1]
    return ", ".join(f"{k}={params[chosen].get(k, '∅')}" for k in varying)


def _table(
    group: pd.DataFrame, metrics: list[str], select: str, variants: dict
) -> tuple[pd.DataFrame, list[str]]:
    rows = []
    for algorithm, runs in group.groupby("algorithm", sort=True):
        configs = {}
        for variant, vruns in runs.groupby("variant", sort=True):
            configs[variant] = {
                m: interval95(vruns.get(f"metrics.{m}", pd.Series(dtype=float))) for m in metrics
            }
        order = pd.Series(
            {v: c[select][0] if select in c else np.nan for v, c in configs.items()},
            dtype=float,
        )
        if order.notna().any():
            chosen = str(_better_first(order, select).idxmin())
        else:
            chosen = next(iter(configs))
        vruns = runs[runs["variant"] == chosen]
        sel = vruns.get(f"metrics.{select}")
        if sel is not None and sel.notna().any():
            best = sel.idxmax() if direction(select) == "max" else sel.idxmin()
        else:
            best = vruns.index[0]
        row = {
            "algorithm": algorithm,
            "config": _differing({v: variants[v] for v in configs}, chosen),
            "configs": len(configs),
            "seeds": len(vruns),
            "run_id": vruns.loc[best, "run_id"],
            "run_ids": " ".join(vruns["run_id"].astype(str)),
        }
        for m in metrics:
            mean, half, n = configs[chosen][m]
            row[m], row[f"{m}.ci95"], row[f"{m}.n"] = mean, half, n
        for metric, column in CONTEXT.items():
            values = vruns.get(f"metrics.{metric}", pd.Series(dtype=float))
            row[column] = float(values.mean()) if values.notna().any() else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    present = [m for m in metrics if table[m].notna().any()]
    for m in present:
        table[f"{m}.rank"] = _better_first(table[m], m)
    return table, present


def mean_rank(table: pd.DataFrame, ranked: list[str]) -> pd.Series:
    """Mean of the quality ranks and one fairness term (the mean of the balance ranks)."""
    quality = [table[f"{m}.rank"] for m in ranked if not FAIRNESS_BALANCE.match(m)]
    fairness = [f"{m}.rank" for m in ranked if FAIRNESS_BALANCE.match(m)]
    if fairness:
        quality.append(table[fairness].mean(axis=1))
    if not quality:
        return pd.Series(np.nan, index=table.index)
    return pd.concat(quality, axis=1).mean(axis=1)


def build_leaderboard(
    runs: pd.DataFrame,
    select: str = "silhouette",
    superseded: int = 0,
    title: str = "segbench leaderboard",
) -> Leaderboard:
    """Aggregate the runs of :func:`segbench.leaderboard.store.load_runs` (module docstring)."""
    direction(select)
    described = describe_runs(runs)
    variants = described.attrs["variant_params"]
    finished = described[described["status"] == FINISHED]
    failed_runs = described[described["status"] != FINISHED]
    metrics = headline_metrics(list(finished.columns))
    if select not in metrics and f"metrics.{select}" in finished:
        metrics.append(select)
    rank_metrics_all = [m for m in metrics if m not in COST]
    tables: dict[tuple[str, str], pd.DataFrame] = {}
    used: set[str] = set()
    for (dataset, features), group in finished.groupby(["dataset", "features"], sort=True):
        table, present = _table(group, metrics, select, variants)
        ranked = [m for m in present if m in rank_metrics_all]
        used.update(ranked)
        table["mean_rank"] = mean_rank(table, ranked)
        table = table.sort_values(["mean_rank", "algorithm"], kind="stable").reset_index(drop=True)
        tables[(str(dataset), str(features))] = table
    failed = failed_runs[
        ["dataset", "features", "algorithm", "seed", "status", "error", "run_id"]
    ].reset_index(drop=True)
    return Leaderboard(
        runs=runs,
        tables=tables,
        overall=overall_ranks(tables),
        failed=failed,
        metrics=metrics,
        rank_metrics=[m for m in rank_metrics_all if m in used],
        select=select,
        superseded=superseded,
        title=title,
    )


def overall_ranks(tables: dict[tuple[str, str], pd.DataFrame]) -> pd.DataFrame:
    """Mean over datasets of each (algorithm, feature expression)'s mean rank.

    One row per algorithm; a column per feature expression (and ``all``: the mean over every
    table the algorithm appears in); ``tables`` counts the tables averaged.
    """
    long = [
        {"algorithm": row["algorithm"], "features": features, "mean_rank": row["mean_rank"]}
        for (_, features), table in tables.items()
        for _, row in table.iterrows()
    ]
    if not long:
        return pd.DataFrame(columns=["algorithm", "all", "tables"])
    frame = pd.DataFrame(long)
    wide = frame.pivot_table(
        index="algorithm", columns="features", values="mean_rank", aggfunc="mean"
    )
    wide.columns = [str(c) for c in wide.columns]
    summary = frame.groupby("algorithm")["mean_rank"].agg(["mean", "count"])
    wide["all"] = summary["mean"]
    wide["tables"] = summary["count"].astype(int)
    return wide.sort_values(["all"]).reset_index()


__all__ = [
    "CONTEXT",
    "COST",
    "QUALITY",
    "Leaderboard",
    "build_leaderboard",
    "describe_runs",
    "direction",
    "headline_metrics",
    "interval95",
    "mean_rank",
    "overall_ranks",
]
