"""Migration between consecutive windows, stability over time, and drift flags.

For consecutive window fits ``t-1 → t``:

- **matching**: window ``t``'s segment ids are matched to window ``t-1``'s (already matched)
  ids by Hungarian assignment, so ids mean the same segment along the chain; a segment with
  no partner gets a fresh id. ``match="centroids"`` (default) pairs segments by behaviour:
  window ``t``'s customers are put through window ``t-1``'s fitted feature pipeline, and the
  segment centroids of both windows are compared in that one space
  (:func:`~segbench.evaluation.matching.match_by_centroids`). ``match="overlap"`` pairs
  segments by membership over the customers active in both windows
  (:func:`~segbench.evaluation.matching.match_by_overlap`) — which hides a mass movement of
  customers (it then looks like two segments swapping names), so it suits only stable
  customer bases.
- **migration matrix**: customers by (segment in ``t-1``, segment in ``t``), with the row
  ``inactive`` (active in ``t`` only: new or returning) and the column ``inactive`` (active in
  ``t-1`` only).
- **stay rate**: share of the customers active in both windows whose matched segment is the same.
- **model ARI**: adjusted Rand index between window ``t``'s labels and the labels window
  ``t-1``'s *model* (its fitted pipeline and assignment method) gives the same customers —
  1 when the segmentation rule did not change, whatever the customers did.
- **share TVD**: total variation distance ``½ Σ_s |share_t(s) − share_{t-1}(s)|`` between the
  matched segment shares.

A window is flagged as **drift** when ``model ARI < drift_ari`` or ``share TVD > drift_share``.

Metrics (stable names)::

    temporal.windows          windows segmented
    temporal.stability        mean model ARI over transitions (the stability-over-time metric)
    temporal.stay_rate        mean stay rate over transitions
    temporal.mean_share_tvd   mean share TVD over transitions
    temporal.drift_windows    number of windows flagged

Tag ``segbench.temporal.drift``: the flagged windows (comma-separated) or ``none``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from segbench.analyses.temporal.windows import WindowFit
from segbench.errors import ConfigError
from segbench.evaluation.matching import match_by_centroids, match_by_overlap, relabel

INACTIVE = "inactive"


@dataclass
class Transition:
    """What happened between two consecutive windows."""

    source: str
    target: str
    matrix: pd.DataFrame
    shared_customers: int
    stay_rate: float
    model_ari: float
    share_tvd: float
    drift: bool = False


@dataclass
class TemporalSegments:
    """Matched labels per window, transitions, shares and the summary metrics."""

    windows: list[str]
    labels: dict[str, pd.Series]
    shares: pd.DataFrame
    transitions: list[Transition]
    metrics: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def drift_windows(self) -> list[str]:
        return [t.target for t in self.transitions if t.drift]


def migration_matrix(previous: pd.Series, current: pd.Series) -> pd.DataFrame:
    """Customers by (segment in ``previous``, segment in ``current``) with ``inactive``."""
    prev = previous.astype(str)
    cur = current.astype(str)
    ids = prev.index.union(cur.index)
    frame = pd.DataFrame(
        {"source": prev.reindex(ids).fillna(INACTIVE), "target": cur.reindex(ids).fillna(INACTIVE)}
    )
    table = pd.crosstab(frame["source"], frame["target"])

    def order(values) -> list[str]:
        segs = sorted((v for v in values if v != INACTIVE), key=lambda v: int(v))
        return [*segs, INACTIVE]

    table = table.reindex(index=order(table.index), columns=order(table.columns), fill_value=0)
    table.index.name, table.columns.name = "from", "to"
    return table


def _shares(labels: pd.Series) -> pd.Series:
    return labels.value_counts(normalize=True).sort_index()


def _centroids(X: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    labels = np.asarray(labels)
    return {int(s): X[labels == s].mean(axis=0) for s in np.unique(labels) if s != -1}


def track_segments(
    fits: list[WindowFit],
    drift_ari: float = 0.5,
    drift_share: float = 0.15,
    match: str = "centroids",
) -> TemporalSegments:
    """Match, migrate, measure and flag drift along the window fits (module docstring)."""
    if match not in ("centroids", "overlap"):
        raise ConfigError(f"temporal match={match!r}; expected 'centroids' or 'overlap'")
    labels: dict[str, pd.Series] = {}
    transitions: list[Transition] = []
    previous: WindowFit | None = None
    for fit in fits:
        raw = pd.Series(np.asarray(fit.labels), index=fit.ids.astype(str))
        name = fit.window.label
        if previous is None:
            labels[name] = raw
            previous = fit
            continue
        before = labels[previous.window.label]
        shared = raw.index.intersection(before.index)
        if match == "overlap":
            mapping = match_by_overlap(before.loc[shared].to_numpy(), raw.loc[shared].to_numpy())
        else:  # both windows' centroids in window t-1's feature space
            X_here = previous.pipeline.transform(fit.data).X
            mapping = match_by_centroids(
                _centroids(previous.X, before.loc[previous.ids.astype(str)].to_numpy()),
                _centroids(X_here, fit.labels),
            )
        matched = pd.Series(relabel(raw.to_numpy(), mapping), index=raw.index)
        labels[name] = matched
        stay = float((before.loc[shared] == matched.loc[shared]).mean()) if len(shared) else np.nan
        model_ari = float(adjusted_rand_score(fit.labels, previous.predict(fit.data)))
        a, b = _shares(before), _shares(matched)
        keys = a.index.union(b.index)
        tvd = float(
            0.5 * np.abs(a.reindex(keys, fill_value=0) - b.reindex(keys, fill_value=0)).sum()
        )
        transitions.append(
            Transition(
                source=previous.window.label,
                target=name,
                matrix=migration_matrix(before, matched),
                shared_customers=len(shared),
                stay_rate=stay,
                model_ari=model_ari,
                share_tvd=tvd,
                drift=model_ari < drift_ari or tvd > drift_share,
            )
        )
        previous = fit
    shares = pd.DataFrame({w: _shares(s) for w, s in labels.items()}).fillna(0.0).T
    shares.index.name = "window"
    result = TemporalSegments(list(labels), labels, shares, transitions)
    result.metrics["temporal.windows"] = float(len(labels))
    if transitions:
        result.metrics["temporal.stability"] = float(np.mean([t.model_ari for t in transitions]))
        result.metrics["temporal.stay_rate"] = float(np.nanmean([t.stay_rate for t in transitions]))
        result.metrics["temporal.mean_share_tvd"] = float(
            np.mean([t.share_tvd for t in transitions])
        )
        result.metrics["temporal.drift_windows"] = float(sum(t.drift for t in transitions))
    return result


def migration_table(result: TemporalSegments) -> pd.DataFrame:
    """All migration matrices as one long table (from_window, to_window, from, to, customers)."""
    rows = []
    for t in result.transitions:
        long = t.matrix.stack().rename("customers").reset_index()
        long.insert(0, "to_window", t.target)
        long.insert(0, "from_window", t.source)
        rows.append(long)
    if not rows:
        return pd.DataFrame(columns=["from_window", "to_window", "from", "to", "customers"])
    return pd.concat(rows, ignore_index=True)


def transitions_table(result: TemporalSegments) -> pd.DataFrame:
    """One row per transition: shared customers, stay rate, model ARI, share TVD, drift."""
    return pd.DataFrame(
        [
            {
                "from_window": t.source,
                "to_window": t.target,
                "shared_customers": t.shared_customers,
                "stay_rate": t.stay_rate,
                "model_ari": t.model_ari,
                "share_tvd": t.share_tvd,
                "drift": t.drift,
            }
            for t in result.transitions
        ]
    )
