"""Migration between consecutive windows, stability over time, and drift flags.

Every window's segment ids are the **run's**: each window's segments are matched to the run's
segments (the *reference*; :class:`Reference`) by Hungarian assignment, so segment 2 is the
same segment — with the same name — in the run's profiles, its segment card and every window.
A window segment left without a partner (more segments than the run has) gets a fresh id
above the run's. ``match="centroids"`` (default) pairs segments by behaviour: the window's
customers are put through the run's fitted feature pipeline, and the window's segment
centroids are compared with the run's in that one space
(:func:`~segbench.evaluation.matching.match_by_centroids`; measured on Online Retail, a
quarter's segments pair with the run's alike whether the two clouds are compared as they are
or each standardised over its own customers, although a quarter's frequency and spend are
lower than a year's). ``match="overlap"`` pairs segments by membership: a window's labels
against the run's labels of the same customers
(:func:`~segbench.evaluation.matching.match_by_overlap`) — which hides a mass movement of
customers (it then looks like two segments swapping names), so it suits only stable customer
bases. Without a reference (:func:`track_segments` called on window fits alone) the first
window is the reference.

For consecutive windows ``t-1 → t``:

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

Small-cell suppression (``min_cell_size``, :mod:`segbench.data.disclosure`): a migration cell
of more than zero but fewer than ``min_cell_size`` customers, and the complementary cells that
would give it away from the row and column totals, are marked in ``Transition.suppressed``;
the logged table leaves their counts out, the heat maps grey them, and the Sankey diagram
leaves out their flows (:func:`segbench.fairness.metrics.suppress_cells`, the rule of the
group tables).

Metrics (stable names)::

    temporal.windows          windows segmented
    temporal.stability        mean model ARI over transitions (the stability-over-time metric)
    temporal.stay_rate        mean stay rate over transitions
    temporal.mean_share_tvd   mean share TVD over transitions
    temporal.drift_windows    number of windows flagged

Tag ``segbench.temporal.drift``: the flagged windows (comma-separated) or ``none``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from segbench.analyses.temporal.windows import WindowFit
from segbench.data.model import CustomerData
from segbench.errors import ConfigError
from segbench.evaluation.matching import match_by_centroids, match_by_overlap, relabel

INACTIVE = "inactive"


@dataclass(frozen=True)
class Reference:
    """The segmentation every window's segments are matched to (the run's): its customers'
    ids, features and labels, and how new customers enter its feature space."""

    ids: pd.Index
    X: np.ndarray
    labels: np.ndarray
    transform: Callable[[CustomerData], np.ndarray]

    @classmethod
    def of_window(cls, fit: WindowFit) -> Reference:
        """A window's own segmentation as the reference."""
        ids, labels = fit.ids.astype(str), np.asarray(fit.labels)
        return cls(ids, fit.X, labels, lambda d: fit.pipeline.transform(d).X)

    def match(self, fit: WindowFit, how: str) -> dict[int, int]:
        """``{window segment id: run segment id}`` for one window fit (module docstring)."""
        if how == "overlap":
            run = pd.Series(np.asarray(self.labels), index=self.ids.astype(str))
            ids = fit.ids.astype(str)
            shared = ids.isin(run.index)
            return match_by_overlap(
                run.reindex(ids[shared]).to_numpy(), np.asarray(fit.labels)[shared]
            )
        return match_by_centroids(
            _centroids(self.X, self.labels), _centroids(self.transform(fit.data), fit.labels)
        )


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
    suppressed: pd.DataFrame | None = None
    """``True`` where a cell of ``matrix`` is not shown (small-cell suppression)."""

    def shown(self) -> pd.DataFrame:
        """``matrix`` with the suppressed cells missing."""
        if self.suppressed is None:
            return self.matrix.astype(float)
        return self.matrix.astype(float).mask(self.suppressed)


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


def suppressed_cells(matrix: pd.DataFrame, min_cell_size: int) -> pd.DataFrame:
    """``True`` for the cells of a migration matrix that small-cell suppression hides (primary
    and complementary, :func:`segbench.fairness.metrics.suppress_cells`).

    >>> m = pd.DataFrame([[20, 3, 2], [15, 4, 1], [30, 40, 50]], index=list("abc"))
    >>> suppressed_cells(m, 10).to_numpy().tolist()
    [[False, True, True], [False, True, True], [False, False, False]]
    """
    from segbench.fairness.metrics import suppress_cells

    long = matrix.stack().rename("count").reset_index()
    long.columns = ["segment", "group", "count"]
    for column in ("segment_share", "group_share", "population_share", "representation"):
        long[column] = np.nan
    out = suppress_cells(long.astype({"count": "Int64"}), int(min_cell_size))
    hidden = out["suppressed"] if "suppressed" in out else pd.Series(False, index=out.index)
    return pd.DataFrame(
        hidden.to_numpy(dtype=bool).reshape(matrix.shape),
        index=matrix.index,
        columns=matrix.columns,
    )


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
    reference: Reference | None = None,
    min_cell_size: int = 0,
) -> TemporalSegments:
    """Match (to ``reference``, the run's segments; default the first window's), migrate,
    measure and flag drift along the window fits; mark the migration cells small-cell
    suppression hides (module docstring)."""
    if match not in ("centroids", "overlap"):
        raise ConfigError(f"temporal match={match!r}; expected 'centroids' or 'overlap'")
    if reference is None and fits:
        reference = Reference.of_window(fits[0])
    labels: dict[str, pd.Series] = {}
    transitions: list[Transition] = []
    previous: WindowFit | None = None
    for fit in fits:
        raw = pd.Series(np.asarray(fit.labels), index=fit.ids.astype(str))
        name = fit.window.label
        matched = pd.Series(relabel(raw.to_numpy(), reference.match(fit, match)), index=raw.index)
        labels[name] = matched
        if previous is None:
            previous = fit
            continue
        before = labels[previous.window.label]
        shared = matched.index.intersection(before.index)
        stay = float((before.loc[shared] == matched.loc[shared]).mean()) if len(shared) else np.nan
        model_ari = float(adjusted_rand_score(fit.labels, previous.predict(fit.data)))
        a, b = _shares(before), _shares(matched)
        keys = a.index.union(b.index)
        tvd = float(
            0.5 * np.abs(a.reindex(keys, fill_value=0) - b.reindex(keys, fill_value=0)).sum()
        )
        matrix = migration_matrix(before, matched)
        transitions.append(
            Transition(
                source=previous.window.label,
                target=name,
                matrix=matrix,
                suppressed=suppressed_cells(matrix, min_cell_size) if min_cell_size else None,
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
    """All migration matrices as one long table (from_window, to_window, from, to, customers);
    suppressed cells have no count."""
    rows = []
    for t in result.transitions:
        long = t.shown().astype("Int64").stack().rename("customers").reset_index()
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
