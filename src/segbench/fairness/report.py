"""Everything one run reports about fairness, privacy and transparency, and its logging.

:func:`audit_segmentation` computes (a pure function of the run's values);
:func:`log_responsibility` computes and logs. The experiment calls the latter once per run,
after the profiles; the fairness *metrics* themselves come from
:func:`segbench.evaluation.suite.score` (they are tuning objectives too).

MLflow names (stable; the leaderboard may read them)
----------------------------------------------------

=================================  ==========================================================
metric                             meaning
=================================  ==========================================================
``fairness.<attr>.balance``        see :mod:`segbench.fairness.metrics` (logged by ``score``)
``fairness.<attr>.dp_difference``  〃
``fairness.<attr>.silhouette_gap`` 〃
``fairness.<attr>.distribution_distance`` 〃
``proxy.<attr>.score``             cross-validated balanced accuracy of predicting the
                                   attribute from the clustering features (lower is better)
``proxy.<attr>.chance``            1 / number of groups: the score of a blind guess
``surrogate.fidelity``             in-sample accuracy of the surrogate tree vs the segments
``surrogate.fidelity_cv``          3-fold cross-validated accuracy of such a tree
``surrogate.n_leaves``             rules in the surrogate tree
``privacy.small_segments``         segments with fewer than k customers
=================================  ==========================================================

Tags: ``segbench.k_anonymity`` (k), ``segbench.small_segments`` (ids of segments with fewer
than k customers, or ``none``), ``segbench.fairness_attributes`` (audited attributes, or
``none``). Artifacts: ``segment_card.md``; ``fairness/segment_groups.csv`` (per-segment ×
per-group counts and shares of every attribute, cells of fewer than k customers suppressed);
``plots/fairness_<attr>.png``; ``fairness/proxy_importance.csv`` (permutation importance of
every feature per attribute); ``transparency/surrogate_rules.md``. Nothing here holds a
customer id or text: only aggregates over at least k customers (or zero).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segbench.customer_data import CustomerData
from segbench.fairness.metrics import FAIRNESS_DIRECTIONS, crosstab, group_table, representation
from segbench.fairness.proxy import ProxyAudit, proxy_audit
from segbench.fairness.scoring import resolve_attributes, sensitive_frame
from segbench.features import FeatureMatrix
from segbench.transparency.card import (
    SegmentCard,
    bullet_section,
    group_section,
    profile_section,
)
from segbench.transparency.distinguishing import describe, distinguishing_features
from segbench.transparency.surrogate import Surrogate, fit_surrogate

#: Better direction of the metrics this module and ``score`` add (by name pattern).
DIRECTIONS = {
    **{f"fairness.*.{name}": d for name, d in FAIRNESS_DIRECTIONS.items()},
    "proxy.*.score": "min",
    "surrogate.fidelity": "max",
    "surrogate.fidelity_cv": "max",
    "privacy.small_segments": "min",
}


def direction(metric: str) -> str | None:
    """``"max"``/``"min"`` for a fairness, proxy, surrogate or privacy metric name, else None.

    >>> direction("fairness.gender.balance"), direction("proxy.age_band.score")
    ('max', 'min')
    """
    parts = metric.split(".")
    if len(parts) == 3 and parts[0] in ("fairness", "proxy"):
        return DIRECTIONS.get(f"{parts[0]}.*.{parts[2]}")
    return DIRECTIONS.get(metric)


def k_anonymity(cfg: Mapping[str, Any]) -> int:
    """The configured k (``fairness.k_anonymity``; 0 = no suppression when unset)."""
    fairness = cfg.get("fairness") or {}
    return int(fairness.get("k_anonymity", 0) or 0)


@dataclass
class ResponsibilityReport:
    """What :func:`audit_segmentation` found (and :func:`log_responsibility` logged)."""

    attributes: list[str]
    k_anonymity: int
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    group_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    proxies: dict[str, ProxyAudit] = field(default_factory=dict)
    surrogate: Surrogate | None = None
    surrogate_note: str = ""
    small_segments: list[int] = field(default_factory=list)
    card: SegmentCard | None = None

    def groups_frame(self) -> pd.DataFrame:
        """All per-segment × per-group tables in one frame (column ``attribute`` first)."""
        frames = [t.assign(attribute=a) for a, t in self.group_tables.items()]
        if not frames:
            return pd.DataFrame()
        out = pd.concat(frames, ignore_index=True)
        return out[["attribute", *[c for c in out.columns if c != "attribute"]]]

    def proxy_frame(self) -> pd.DataFrame:
        frames = [p.importances.assign(attribute=a) for a, p in self.proxies.items()]
        if not frames:
            return pd.DataFrame()
        out = pd.concat(frames, ignore_index=True)
        return out[["attribute", *[c for c in out.columns if c != "attribute"]]]


def audit_segmentation(
    cfg: Mapping[str, Any],
    data: CustomerData,
    features: FeatureMatrix,
    labels: np.ndarray,
    profiles: pd.DataFrame,
    metrics: Mapping[str, float] | None = None,
) -> ResponsibilityReport:
    """Per-group tables, proxy audits, surrogate rules, privacy flags and the segment card."""
    fairness = cfg.get("fairness") or {}
    labels = np.asarray(labels)
    seed = int(cfg.get("seed", 0))
    k = k_anonymity(cfg)
    attributes = resolve_attributes(fairness, data) if fairness else []
    sensitive = sensitive_frame(data, features.index)
    if sensitive is None:
        attributes = []
    report = ResponsibilityReport(attributes=attributes, k_anonymity=k)

    segments, sizes = np.unique(labels, return_counts=True)
    report.small_segments = [int(s) for s, n in zip(segments, sizes, strict=True) if n < k]
    report.metrics["privacy.small_segments"] = float(len(report.small_segments))
    report.tags = {
        "segbench.k_anonymity": str(k),
        "segbench.small_segments": ",".join(map(str, report.small_segments)) or "none",
        "segbench.fairness_attributes": ",".join(attributes) or "none",
    }

    for attribute in attributes:
        groups = sensitive[attribute].to_numpy()
        report.group_tables[attribute] = group_table(labels, groups, k_anonymity=k)

    proxy_cfg = fairness.get("proxy") or {}
    if attributes and proxy_cfg.get("enabled", True):
        for attribute in attributes:
            audit = proxy_audit(
                features.X,
                list(features.columns),
                sensitive[attribute].to_numpy(),
                attribute,
                sample_size=int(proxy_cfg.get("sample_size", 5000)),
                cv=int(proxy_cfg.get("cv", 5)),
                n_repeats=int(proxy_cfg.get("n_repeats", 5)),
                seed=seed,
            )
            if audit is not None:
                report.proxies[attribute] = audit
                report.metrics[f"proxy.{attribute}.score"] = audit.score
                report.metrics[f"proxy.{attribute}.chance"] = audit.chance

    surrogate_cfg = fairness.get("surrogate") or {}
    if not surrogate_cfg.get("enabled", True):
        report.surrogate_note = "turned off (fairness.surrogate.enabled=false)"
    elif len(np.unique(labels)) < 2:
        report.surrogate_note = "none — a single segment has nothing to tell apart"
    else:
        report.surrogate = fit_surrogate(
            features.profile.reset_index(drop=True),
            labels,
            max_depth=int(surrogate_cfg.get("max_depth", 3)),
            min_samples_leaf=max(k, 1),
            seed=seed,
        )
        if report.surrogate is None:
            report.surrogate_note = (
                "none — the feature set has no human-readable columns (e.g. text embeddings "
                "only), so there are no rules to show"
            )
        else:
            report.metrics["surrogate.fidelity"] = report.surrogate.fidelity
            report.metrics["surrogate.n_leaves"] = float(report.surrogate.tree.get_n_leaves())
            if report.surrogate.fidelity_cv is not None:
                report.metrics["surrogate.fidelity_cv"] = report.surrogate.fidelity_cv

    card_cfg = fairness.get("card") or {}
    if card_cfg.get("enabled", True):
        all_metrics = {**(metrics or {}), **report.metrics}
        report.card = build_card(
            cfg, data, features, labels, profiles, report, all_metrics, sensitive
        )
    return report


def _fairness_flags(
    labels: np.ndarray,
    groups: np.ndarray,
    table: pd.DataFrame,
    attribute: str,
    threshold: float,
) -> dict[int, str]:
    """Segments whose balance for ``attribute`` is below ``threshold``, with who is off."""
    counts = crosstab(labels, groups)
    if counts.shape[1] < 2:
        return {}
    rho = representation(counts)
    seg_balance = rho.min(axis=1) / rho.max(axis=1)
    shown = table.set_index(["segment", "group"])
    flags = {}
    for segment in seg_balance.index[seg_balance < threshold]:
        row = rho.loc[segment]
        low, high = row.idxmin(), row.idxmax()
        hidden = pd.isna(shown.loc[(segment, low), "count"]) or pd.isna(
            shown.loc[(segment, high), "count"]
        )
        if hidden:
            flags[int(segment)] = (
                f"fairness ({attribute}): balance below {threshold:g}, involving a group with "
                "fewer than k customers in this segment"
            )
        else:
            flags[int(segment)] = (
                f"fairness ({attribute}): balance {seg_balance[segment]:.2f} < {threshold:g} — "
                f"{high} over-represented (×{row[high]:.2f}), {low} under-represented "
                f"(×{row[low]:.2f})"
            )
    return flags


def build_card(
    cfg: Mapping[str, Any],
    data: CustomerData,
    features: FeatureMatrix,
    labels: np.ndarray,
    profiles: pd.DataFrame,
    report: ResponsibilityReport,
    metrics: Mapping[str, float],
    sensitive: pd.DataFrame | None,
) -> SegmentCard:
    """The segment card of a run from its report (see :mod:`segbench.transparency.card`)."""
    fairness = cfg.get("fairness") or {}
    algo = cfg.get("algo") or {}
    k = report.k_anonymity
    segments, sizes = np.unique(labels, return_counts=True)
    card = SegmentCard(
        title=f"{algo.get('name', 'algorithm')} · {cfg.get('features')} · {data.name}",
        sizes={int(s): int(n) for s, n in zip(segments, sizes, strict=True)},
    )
    card.summary.append(
        f"{data.n_customers} customers, {int((segments != -1).sum())} segments"
        + (f" and noise ({(labels == -1).mean():.1%})" if (labels == -1).any() else "")
        + f"; features `{cfg.get('features')}`; seed {cfg.get('seed')}."
    )
    for name in ("silhouette", "davies_bouldin", "ari"):
        if name in metrics:
            card.summary.append(f"- {name}: {metrics[name]:.3f}")
    threshold = float(fairness.get("flag_balance", 0.8))
    if report.attributes:
        card.summary += [
            "",
            "**Fairness** (noise counts as a segment of its own; 1 = balanced, 0 = no gap):",
            "",
            "| attribute | balance | dp_difference | distribution_distance | silhouette_gap "
            "| proxy score (chance) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for attribute in report.attributes:

            def value(metric: str, attribute: str = attribute) -> str:
                name = f"fairness.{attribute}.{metric}"
                return f"{metrics[name]:.3f}" if name in metrics else "–"

            proxy = report.proxies.get(attribute)
            proxy_text = f"{proxy.score:.3f} ({proxy.chance:.3f})" if proxy else "–"
            card.summary.append(
                f"| {attribute} | {value('balance')} | {value('dp_difference')} | "
                f"{value('distribution_distance')} | {value('silhouette_gap')} | {proxy_text} |"
            )
        for attribute, proxy in report.proxies.items():
            top = ", ".join(
                proxy.top(int((fairness.get("proxy") or {}).get("top_features", 5)))["feature"]
            )
            card.summary.append(f"\nFeatures that carry the most {attribute} signal: {top}.")
    else:
        card.summary.append("\nFairness: no sensitive attribute audited.")
    if report.surrogate is not None:
        s = report.surrogate
        card.summary.append(
            f"\n**Surrogate tree** (depth ≤ {s.tree.get_params()['max_depth']}, "
            f"{s.tree.get_n_leaves()} rules, each about at least {max(k, 1)} customers): "
            f"fidelity {s.fidelity:.3f}"
            + (f", cross-validated {s.fidelity_cv:.3f}" if s.fidelity_cv is not None else "")
            + "."
        )
    else:
        card.summary.append(f"\n**Surrogate tree:** {report.surrogate_note}.")
    card.summary.append(
        f"\n**Privacy:** k-anonymity k = {k}: table cells about fewer than k customers are "
        "suppressed; small segments: "
        + (", ".join(map(str, report.small_segments)) or "none")
        + ". Customer ids are pseudonymised (HMAC-SHA256) and never shown."
    )

    for segment in report.small_segments:
        card.add_flag(segment, f"privacy: fewer than k = {k} customers, figures suppressed")
    if sensitive is not None:
        for attribute, table in report.group_tables.items():
            flags = _fairness_flags(
                labels, sensitive[attribute].to_numpy(), table, attribute, threshold
            )
            for segment, text in flags.items():
                card.add_flag(segment, text)

    card.add_section("Profile", profile_section(profiles))
    if report.surrogate is not None:
        rules = {
            int(s): [r.text() for r in report.surrogate.rules.get(int(s), [])] for s in segments
        }
        card.add_section("Rules (surrogate tree)", bullet_section(rules, "no rule predicts it"))
    top = int((fairness.get("card") or {}).get("top_features", 5))
    distinct = distinguishing_features(
        features.profile.reset_index(drop=True), labels, top=top, k_anonymity=k
    )
    card.add_section(
        "Most distinguishing features",
        bullet_section(
            {s: [describe(row) for _, row in t.iterrows()] for s, t in distinct.items()},
            "suppressed or no readable features",
        ),
    )
    if report.group_tables:
        card.add_section("Group composition", group_section(report.group_tables))
    return card


def log_responsibility(
    run: Any,
    cfg: Mapping[str, Any],
    data: CustomerData,
    features: FeatureMatrix,
    seg: Any,
    profiles: pd.DataFrame,
    metrics: Mapping[str, float] | None = None,
    extend_card: Callable[[SegmentCard], Any] | None = None,
) -> ResponsibilityReport:
    """Audit the run's segmentation ``seg`` and log it to ``run`` (a ``RunTracker``).

    ``extend_card`` is called with the :class:`SegmentCard` before it is written, so later
    stages can add to it (``card.set_names(...)``, ``card.add_section("Offers", ...)``).
    """
    from segbench.fairness.charts import group_mix_chart

    report = audit_segmentation(cfg, data, features, seg.labels, profiles, metrics)
    if extend_card is not None and report.card is not None:
        extend_card(report.card)
    run.metrics(report.metrics)
    run.tags(report.tags)
    if report.group_tables:
        run.table(report.groups_frame(), "fairness/segment_groups.csv", index=False)
        tracking = cfg.get("tracking") or {}
        if tracking.get("log_plots", True):
            for attribute, table in report.group_tables.items():
                title = f"{attribute} by segment · {data.name}"
                run.figure(
                    group_mix_chart(table, attribute, title), f"plots/fairness_{attribute}.png"
                )
    if report.proxies:
        run.table(report.proxy_frame(), "fairness/proxy_importance.csv", index=False)
    if report.surrogate is not None:
        run.text(report.surrogate.rules_markdown(), "transparency/surrogate_rules.md")
    if report.card is not None:
        run.text(report.card.to_markdown(), "segment_card.md")
    return report
