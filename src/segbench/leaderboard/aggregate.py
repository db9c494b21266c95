"""From runs to leaderboard tables: seeds aggregated, degenerate runs set apart, cells ranked.

For each *cell* (dataset × feature expression; block order is irrelevant, and a dataset whose
results carry several data fingerprints gets one cell per fingerprint) one table, one row per
algorithm:

1. Results of one algorithm that differ only in the seed form a *configuration* (defining
   params equal apart from ``seed`` and params that equal the seed in every run, such as
   ``random_state: ${seed}``). Its value for a metric is the mean over seeds, with an
   interval (:func:`segbench.leaderboard.stats.intervals`: the seeds' min–max below 5 seeds,
   a 95% t-interval clipped to the metric's range from 5). A metric missing for some seeds is
   averaged over the others and flagged.
2. When an algorithm ran in several configurations (a grid of hyperparameters) the row shows
   the best one by the *selection metric* (``select``, an internal index, default
   silhouette — never the ground truth, which would be tuning on the answer), preferring
   configurations that are not degenerate, and names the params that distinguish it.
3. A row is *degenerate* when any of its seeds is (fewer than 2 segments, or more than
   ``max_noise`` of the customers noise; :func:`segbench.leaderboard.stats.degenerate`).
   Degenerate rows are listed after every other row and are not ranked. ``coverage``
   (1 − noise share) is shown beside the segment count.
4. The order of the other rows:

   - **with ground truth** (any row has ``ari``): by ARI, then AMI, then NMI. The external
     metrics are ranked; internal indices, stability and fairness are context (shown with
     their intervals, not ranked);
   - **without**: by the *composite*, the mean of the ranks of silhouette, Davies–Bouldin,
     Calinski–Harabasz, stability, coverage and one fairness term (the mean of the
     ``fairness.<attr>.balance`` ranks, so fairness weighs as one metric however many
     attributes). Ranks follow each metric's better direction (:mod:`segbench.evaluation.
     registry`); ties share the average rank (Demšar 2006); a row missing a metric ranks last
     on it, its value stays missing, never zero.

   A metric whose value is the same in every ranked row is not ranked (it cannot tell rows
   apart) and is reported once under the table. ``fit_seconds`` is a cost, shown, never
   ranked.

Each row's ``rank`` (its place, ties averaged, degenerate rows after the others) feeds the
overall table (mean rank per algorithm × feature expression over datasets) and the test
across cells (:func:`segbench.leaderboard.stats.compare`: Friedman, then Nemenyi).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from segbench.errors import ConfigError
from segbench.evaluation.registry import direction, lookup
from segbench.leaderboard.reruns import (
    FINISHED,
    NOT_FINISHED,
    RESULT,
    defining_of,
    normalise_features,
)
from segbench.leaderboard.stats import MAX_NOISE, Comparison, compare, degenerate, intervals

#: External metrics (against ground truth), in the order that breaks ties.
EXTERNAL = ("ari", "ami", "nmi")
#: Internal quality metrics: context with ground truth, in the composite without.
INTERNAL = ("silhouette", "davies_bouldin", "calinski_harabasz", "stability")
#: Cost metrics: shown, never ranked.
COST = ("fit_seconds",)
FAIRNESS_BALANCE = re.compile(r"^fairness\.(?P<attr>.+)\.balance$")
#: The share of customers in a segment, derived from ``noise_fraction``.
COVERAGE = "coverage"
FAIRNESS_TERM = "fairness"


def headline_metrics(columns: list[str] | pd.Index) -> list[str]:
    """The metrics a table shows, among ``metrics.<name>`` columns, in display order."""
    present = {str(c)[len("metrics.") :] for c in columns if str(c).startswith("metrics.")}
    if "noise_fraction" in present:
        present.add(COVERAGE)
    fairness = sorted(m for m in present if FAIRNESS_BALANCE.match(m))
    order = [*EXTERNAL, *INTERNAL, COVERAGE]
    return [m for m in order if m in present] + fairness + [m for m in COST if m in present]


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


def _seed_following(params: list[dict[str, str]], seeds: list[str]) -> set[str]:
    """Keys whose value equals the run's seed in every run (``random_state: ${seed}``)."""
    keys = set.intersection(*(set(p) for p in params)) if params else set()
    return {k for k in keys if all(p[k] == s for p, s in zip(params, seeds, strict=True))}


def _datasets(runs: pd.DataFrame, results: pd.Series) -> pd.Series:
    """The dataset name, with the data fingerprint when its results have several."""
    name = _column(runs, "dataset.name", "dataset")
    fp = runs.get("tags.segbench.dataset_fingerprint")
    if fp is None:
        return name
    fp = fp.astype("string")
    counts = fp[results].dropna().groupby(name[results]).nunique()
    split = name.isin(counts[counts > 1].index)
    label = name + " @" + fp.str.slice(0, 8).fillna("unknown")
    return name.where(~split, label)


KEYS = ["dataset", "features", "algorithm"]


def describe(
    runs: pd.DataFrame, max_noise: float = MAX_NOISE
) -> tuple[pd.DataFrame, dict[str, dict[str, str]]]:
    """``runs`` with ``dataset, features, algorithm, seed, variant, degenerate`` (the reason,
    ``""`` if not) and ``metrics.coverage`` added (and an ``outcome`` if it had none), and the
    params of each variant."""
    out = runs.copy()
    if "outcome" not in out:
        finished = (out["status"] == FINISHED).fillna(False)
        out["outcome"] = np.where(finished, RESULT, NOT_FINISHED)
    results = (out["outcome"] == RESULT).fillna(False).astype(bool)
    added = {
        "dataset": _datasets(out, results),
        "features": _column(out, "features", "features").map(normalise_features),
        "algorithm": _column(out, "algo.name", "algo"),
        "seed": _column(out, "seed", "seed"),
    }
    nan = pd.Series(np.nan, index=out.index)
    noise = out.get("metrics.noise_fraction", nan)
    added["metrics.coverage"] = 1.0 - noise
    added["degenerate"] = degenerate(out.get("metrics.n_segments", nan), noise, max_noise)
    frame = pd.DataFrame(
        {
            k: pd.Series(
                np.asarray(v), index=out.index, dtype=float if k.startswith("m") else object
            )
            for k, v in added.items()
        }
    )
    params = defining_of(out)
    seeds = frame["seed"].to_numpy()
    variant = np.empty(len(out), dtype=object)
    variants: dict[str, dict[str, str]] = {}
    for rows in frame.groupby(KEYS, sort=False).indices.values():
        for r in rows:
            params[r].pop("seed", None)
        follow = _seed_following([params[r] for r in rows], [seeds[r] for r in rows])
        for r in rows:
            kept = {k: v for k, v in params[r].items() if k not in follow}
            key = repr(sorted(kept.items()))
            variant[r] = key
            variants[key] = kept
    frame["variant"] = pd.Series(variant, index=out.index, dtype=object)
    out = pd.concat([out.drop(columns=[c for c in frame if c in out]), frame], axis=1)
    return out, variants


def describe_runs(runs: pd.DataFrame, max_noise: float = MAX_NOISE) -> pd.DataFrame:
    """The frame of :func:`describe`."""
    return describe(runs, max_noise)[0]


def records(table: pd.DataFrame) -> list[dict[str, object]]:
    """``table.to_dict("records")``, without pandas' per-cell indexing."""
    names = list(table.columns)
    return [dict(zip(names, row, strict=True)) for row in table.to_numpy(dtype=object)]


@dataclass
class Cell:
    """One table of the leaderboard and how it was ranked."""

    dataset: str
    features: str
    table: pd.DataFrame
    #: whether the ordering follows ground truth (external metrics)
    truth: bool
    #: metrics ranked in this table (for the composite: with the fairness balances)
    ranked: list[str]
    #: metrics shown without a rank
    context: list[str]
    #: metrics with one value for every ranked row: not ranked, reported once
    constant: dict[str, float] = field(default_factory=dict)
    #: terms of the composite (no ground truth): metric names and ``"fairness"``
    composite: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return self.dataset, self.features

    @cached_property
    def records(self) -> list[dict[str, object]]:
        """The table's rows as dicts (the writers read them many times)."""
        return records(self.table)

    @property
    def order_by(self) -> str:
        """What orders the rows, in words."""
        if self.truth:
            return "ARI (then AMI, NMI)"
        if not self.composite:
            return "composite: nothing to rank (one row, or no metric that varies)"
        return "composite: mean rank of " + ", ".join(self.composite)


@dataclass
class Leaderboard:
    """Everything the writers need (see the module docstring for how it is computed)."""

    runs: pd.DataFrame
    cells: dict[tuple[str, str], Cell]
    overall: pd.DataFrame
    failed: pd.DataFrame
    metrics: list[str]
    select: str
    superseded: pd.DataFrame = field(default_factory=pd.DataFrame)
    title: str = "segbench leaderboard"
    max_noise: float = MAX_NOISE
    comparison: Comparison | str | None = None
    notes: list[str] = field(default_factory=list)
    #: Markdown lines saying the protocol of a protocol study's condition
    #: (:func:`segbench.leaderboard.protocol.describe`), shown under the provenance
    protocol: list[str] = field(default_factory=list)

    @property
    def tables(self) -> dict[tuple[str, str], pd.DataFrame]:
        """The table of every cell."""
        return {key: cell.table for key, cell in self.cells.items()}

    def winners(self) -> pd.DataFrame:
        """Per cell, the first row if it is not degenerate."""
        rows = []
        for (dataset, features), cell in self.cells.items():
            first = cell.table.iloc[0]
            if first["degenerate"]:
                continue
            rows.append({"dataset": dataset, "features": features, **first.to_dict()})
        return pd.DataFrame(rows)


def _bounds(metric: str) -> tuple[float, float]:
    found = lookup(metric)
    return found.bounds if found is not None else (-math.inf, math.inf)


def _configs(results: pd.DataFrame, metrics: list[str], select: str) -> pd.DataFrame:
    """One row per (cell, algorithm, variant): means, intervals, seeds, degenerate seeds."""
    keys = [*KEYS, "variant"]
    nan = np.full(len(results), np.nan)
    values = pd.DataFrame(
        {m: results.get(f"metrics.{m}", nan) for m in metrics},
        index=results.index,
    ).astype(float)
    extra = {
        "_segments": results.get("metrics.n_segments", pd.Series(nan, index=results.index)),
        "_noise": results.get("metrics.noise_fraction", pd.Series(nan, index=results.index)),
        "_degenerate": (results["degenerate"] != "").astype(float),
    }
    values = values.assign(**{k: v.astype(float) for k, v in extra.items()})
    by = [results[k].astype(object) for k in keys]
    g = values.groupby(by, sort=True)
    mean, std = g.mean(), g.std(ddof=1)
    low, high, count = g.min(), g.max(), g.count()
    columns: dict[str, object] = {
        "seeds": g.size(),
        "degenerate_seeds": g["_degenerate"].sum().astype(int),
        "segments": mean["_segments"],
        "noise": mean["_noise"],
    }
    for m in metrics:
        iv = intervals(mean[m], std[m], low[m], high[m], count[m], _bounds(m))
        columns |= {
            m: mean[m],
            f"{m}.low": iv["low"],
            f"{m}.high": iv["high"],
            f"{m}.n": count[m],
        }
    ids = results["run_id"].astype(object)
    columns["run_ids"] = ids.groupby(by, sort=True).agg(" ".join)
    why = results["degenerate"].astype(object)
    columns["why"] = (
        why[why != ""]
        .groupby([b[why != ""] for b in by], sort=True)
        .agg(lambda s: "; ".join(sorted(set(s))))
        .reindex(mean.index, fill_value="")
    )
    # the best seed of each configuration by the selection metric (first seed if missing)
    sel = values[select] if select in values else pd.Series(nan, index=results.index)
    better = (sel if direction(select) == "max" else -sel).fillna(-np.inf)
    order = np.argsort(-better.to_numpy(), kind="stable")
    columns["run_id"] = ids.iloc[order].groupby([b.iloc[order] for b in by], sort=True).first()
    out = pd.DataFrame(columns, index=mean.index)
    out.index.names = keys
    out = out.reset_index()
    text = [c for c in out.columns if not pd.api.types.is_numeric_dtype(out[c])]
    return out.astype({c: object for c in text})


def _differing(params: dict[str, dict[str, str]], chosen: str) -> str:
    if len(params) < 2:
        return ""
    keys = sorted({k for p in params.values() for k in p})
    varying = [k for k in keys if len({p.get(k) for p in params.values()}) > 1]
    return ", ".join(f"{k}={params[chosen].get(k, '∅')}" for k in varying)


def _choose(configs: pd.DataFrame, select: str, variants: dict[str, dict]) -> pd.DataFrame:
    """Per (cell, algorithm) the configuration to show (module docstring, point 2)."""
    key = configs[select] if select in configs else pd.Series(np.nan, index=configs.index)
    key = (key if direction(select) == "max" else -key).fillna(-np.inf)
    ordered = configs.assign(_deg=configs["degenerate_seeds"] > 0, _key=key).sort_values(
        [*KEYS, "_deg", "_key"], ascending=[True, True, True, True, False], kind="stable"
    )
    groups = ordered.groupby(KEYS, sort=True)
    chosen = groups.head(1).copy()
    chosen["configs"] = groups["variant"].transform("size").loc[chosen.index]
    texts = []
    for record in chosen[[*KEYS, "variant", "configs"]].to_dict("records"):
        if record["configs"] < 2:
            texts.append("")
            continue
        same = (ordered[KEYS] == [record[k] for k in KEYS]).all(axis=1)
        others = ordered.loc[same, "variant"]
        texts.append(_differing({v: variants[v] for v in others}, str(record["variant"])))
    chosen["config"] = texts
    return chosen.drop(columns=["_deg", "_key"]).reset_index(drop=True)


def _varies(values: pd.Series) -> bool:
    v = values.dropna().to_numpy(dtype=float)
    return len(v) > 1 and float(np.ptp(v)) > 1e-12 * max(1.0, float(np.abs(v).max()))


def _rank(values: pd.Series, metric: str) -> pd.Series:
    return values.rank(ascending=direction(metric) == "min", method="average", na_option="bottom")


def _ranks_among(values: pd.Series, mask: np.ndarray, metric: str) -> np.ndarray:
    """Ranks of ``values`` among the rows of ``mask`` (NaN elsewhere)."""
    out = np.full(len(values), np.nan)
    if mask.any():
        out[mask] = _rank(values[mask], metric).to_numpy()
    return out


def _composite(table: pd.DataFrame, ranked: list[str], mask: np.ndarray) -> np.ndarray:
    """Mean rank among the rows of ``mask`` of the ranked metrics, fairness as one term."""
    terms = [_ranks_among(table[m], mask, m) for m in ranked if not FAIRNESS_BALANCE.match(m)]
    balance = [_ranks_among(table[m], mask, m) for m in ranked if FAIRNESS_BALANCE.match(m)]
    if balance:
        terms.append(np.mean(balance, axis=0))
    if not terms:
        return np.full(len(table), np.nan)
    return np.mean(terms, axis=0)


def rank_cell(dataset: str, features: str, table: pd.DataFrame) -> Cell:
    """Rank one cell's rows (module docstring, points 3 and 4)."""
    table = table.reset_index(drop=True)
    deg = (table["degenerate_seeds"] > 0).to_numpy()
    ok = ~deg
    truth = "ari" in table and bool(table["ari"].notna().any())
    shown = _shown(table)
    fairness = [m for m in shown if FAIRNESS_BALANCE.match(m)]
    candidates = list(EXTERNAL) if truth else [*INTERNAL, COVERAGE, *fairness]
    candidates = [m for m in candidates if m in shown]
    ranked = [m for m in candidates if _varies(table.loc[ok, m])]
    constant = {
        m: float(table.loc[ok, m].dropna().iloc[0])
        for m in candidates
        if m not in ranked and table.loc[ok, m].notna().sum() > 1
    }
    new: dict[str, object] = {"degenerate": deg}
    new |= {f"{m}.rank": _ranks_among(table[m], ok, m) for m in ranked}
    composite: list[str] = []
    if truth:
        primary = -table["ari"].to_numpy(dtype=float)
        ties = [-table[m].to_numpy(dtype=float) for m in ("ami", "nmi") if m in shown]
    else:
        composite = [m for m in ranked if not FAIRNESS_BALANCE.match(m)]
        if any(FAIRNESS_BALANCE.match(m) for m in ranked):
            composite.append(FAIRNESS_TERM)
        # degenerate rows: a composite among themselves, on the same terms
        score = np.where(ok, _composite(table, ranked, ok), _composite(table, ranked, deg))
        new["composite"] = score
        primary, ties = score, []
    primary = np.nan_to_num(primary, nan=np.inf)
    rank = np.empty(len(table))
    rank[ok] = pd.Series(primary[ok]).rank(method="average").to_numpy()
    rank[deg] = ok.sum() + pd.Series(primary[deg]).rank(method="average").to_numpy()
    new["rank"] = rank
    table = pd.concat([table, pd.DataFrame(new, index=table.index)], axis=1)
    order = np.lexsort(
        [table["algorithm"].astype(str).to_numpy()]
        + [np.nan_to_num(t, nan=np.inf) for t in reversed(ties)]
        + [rank, deg]
    )
    table = table.iloc[order].reset_index(drop=True)
    table.insert(0, "position", range(1, len(table) + 1))
    context = [m for m in shown if m not in ranked and m not in constant]
    return Cell(dataset, features, table, truth, ranked, context, constant, composite)


def _shown(table: pd.DataFrame) -> list[str]:
    """Metrics with a value in some row of ``table``."""
    return [
        m
        for m in headline_metrics([f"metrics.{c}" for c in table.columns])
        if m in table and table[m].notna().any()
    ]


def build_leaderboard(
    runs: pd.DataFrame,
    select: str = "silhouette",
    superseded: pd.DataFrame | None = None,
    title: str = "segbench leaderboard",
    max_noise: float = MAX_NOISE,
    alpha: float = 0.05,
) -> Leaderboard:
    """Aggregate the runs of :func:`segbench.leaderboard.store.load_runs` (module docstring).

    ``runs`` may hold runs of any status: only results (``outcome == "result"``, or FINISHED
    when there is no ``outcome`` column) fill the tables; the others are listed.
    """
    direction(select)
    missing = [c for c in ("start_time", "end_time", "error") if c not in runs]
    if missing:  # a frame made by hand, or by mlflow.search_runs
        runs = runs.assign(**{c: pd.Series(pd.NA, index=runs.index, dtype=object) for c in missing})
    if not 0 <= max_noise <= 1:
        raise ConfigError(f"max_noise={max_noise}: expected a share between 0 and 1")
    described, variants = describe(runs, max_noise)
    is_result = (described["outcome"] == RESULT).fillna(False).astype(bool)
    results = described[is_result].copy()
    metrics = headline_metrics(list(results.columns))
    if select not in metrics and f"metrics.{select}" in results:
        metrics.append(select)
    cells: dict[tuple[str, str], Cell] = {}
    if len(results):
        chosen = _choose(_configs(results, metrics, select), select, variants)
        for (dataset, features), table in chosen.groupby(["dataset", "features"], sort=True):
            cell = rank_cell(str(dataset), str(features), table.reset_index(drop=True))
            cells[cell.key] = cell
    columns = ["dataset", "features", "algorithm", "seed", "status", "error", "run_id"]
    failed = described.loc[~is_result, columns].reset_index(drop=True)
    long = pd.DataFrame(
        [
            {"cell": f"{d} · {f}", "algorithm": a, "rank": r}
            for (d, f), cell in cells.items()
            for a, r in zip(cell.table["algorithm"], cell.table["rank"], strict=True)
        ],
        columns=["cell", "algorithm", "rank"],
    )
    return Leaderboard(
        runs=runs,
        cells=cells,
        overall=overall_ranks(cells),
        failed=failed,
        metrics=metrics,
        select=select,
        superseded=superseded if superseded is not None else runs.iloc[0:0],
        title=title,
        max_noise=max_noise,
        comparison=compare(long, alpha) if len(long) else None,
    )


def overall_ranks(cells: dict[tuple[str, str], Cell]) -> pd.DataFrame:
    """Mean over datasets of each (algorithm, feature expression)'s rank in its cell.

    One row per algorithm; a column per feature expression (and ``all``: the mean over every
    cell the algorithm appears in); ``cells`` counts the cells averaged.
    """
    long = [
        {"algorithm": a, "features": features, "rank": r}
        for (_, features), cell in cells.items()
        for a, r in zip(cell.table["algorithm"], cell.table["rank"], strict=True)
    ]
    if not long:
        return pd.DataFrame(columns=["algorithm", "all", "cells"])
    frame = pd.DataFrame(long)
    wide = frame.pivot_table(index="algorithm", columns="features", values="rank", aggfunc="mean")
    wide.columns = [str(c) for c in wide.columns]
    summary = frame.groupby("algorithm")["rank"].agg(["mean", "count"])
    wide["all"] = summary["mean"]
    wide["cells"] = summary["count"].astype(int)
    return wide.sort_values(["all"], kind="stable").reset_index()


__all__ = [
    "COST",
    "COVERAGE",
    "EXTERNAL",
    "INTERNAL",
    "Cell",
    "Leaderboard",
    "build_leaderboard",
    "describe",
    "describe_runs",
    "direction",
    "headline_metrics",
    "overall_ranks",
    "rank_cell",
]
