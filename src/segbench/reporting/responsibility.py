"""What one run reports about fairness, privacy and transparency (a pure computation).

:func:`audit_segmentation` computes the report from the run's values;
:func:`segbench.tracking.outputs.log_responsibility` logs it. The experiment calls both once
per run, after the profiles; the fairness *metrics* themselves come from
:class:`segbench.evaluation.suite.Scorer` (they are tuning objectives too).

MLflow names (stable; the leaderboard may read them)
----------------------------------------------------

=================================  ==========================================================
metric                             meaning
=================================  ==========================================================
``fairness.<attr>.balance``        see :mod:`segbench.fairness.metrics` (logged by the scorer)
``fairness.<attr>.dp_difference``  〃
``fairness.<attr>.silhouette_gap`` 〃
``fairness.<attr>.distribution_distance`` 〃
``proxy.<attr>.score``             cross-validated balanced accuracy of predicting the
                                   attribute from the clustering features (lower is better)
``proxy.<attr>.chance``            1 / number of groups: the score of a blind guess
``surrogate.fidelity``             in-sample accuracy of the surrogate tree vs the segments
``surrogate.fidelity_cv``          3-fold cross-validated accuracy of such a tree
``surrogate.n_leaves``             rules in the surrogate tree
``privacy.small_segments``         segments with fewer than ``privacy.min_cell_size``
                                   customers
=================================  ==========================================================

Tags: ``segbench.min_cell_size``, ``segbench.small_segments`` (ids of segments with fewer than
``min_cell_size`` customers, or ``none``), ``segbench.fairness_attributes`` (audited
attributes, or ``none``). Artifacts: ``segment_card.md``; ``fairness/segment_groups.csv``
(per-segment × per-group counts and shares of every attribute, small cells suppressed);
``plots/fairness_<attr>.png``; ``fairness/proxy_importance.csv`` (permutation importance of
every feature per attribute); ``transparency/surrogate_rules.md``. Nothing here holds a
customer id or text: only aggregates over at least ``min_cell_size`` customers (or zero).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from segbench.data.disclosure import small_segments
from segbench.data.model import CustomerData
from segbench.fairness.metrics import crosstab, group_table, representation
from segbench.fairness.proxy import ProxyAudit, proxy_audit
from segbench.fairness.scoring import resolve_attributes, sensitive_frame
from segbench.features import FeatureMatrix
from segbench.reporting.card import (
    SegmentCard,
    bullet_section,
    group_section,
    profile_section,
)
from segbench.reporting.distinguishing import describe, distinguishing_features
from segbench.reporting.names import names_of, plain_name
from segbench.reporting.surrogate import Surrogate, fit_surrogate
from segbench.settings import FairnessSettings


@dataclass
class ResponsibilityReport:
    """What :func:`audit_segmentation` found (and :func:`log_responsibility` logged)."""

    attributes: list[str]
    min_cell_size: int
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    group_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    proxies: dict[str, ProxyAudit] = field(default_factory=dict)
    surrogate: Surrogate | None = None
    surrogate_note: str = ""
    small_segments: list[int] = field(default_factory=list)
    card: SegmentCard | None = None
    names: dict[int, str] = field(default_factory=dict)
    """The run's segment names (its profile table's), for the charts."""

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
    settings: FairnessSettings,
    data: CustomerData,
    features: FeatureMatrix,
    labels: np.ndarray,
    profiles: pd.DataFrame,
    *,
    min_cell_size: int,
    seed: int = 0,
    title: str = "",
    expression: str = "",
    metrics: Mapping[str, float] | None = None,
) -> ResponsibilityReport:
    """Per-group tables, proxy audits, surrogate rules, privacy flags and the segment card.

    ``title`` heads the segment card, ``expression`` (the feature expression) and ``metrics``
    (the run's metrics) are shown on it.
    """
    labels = np.asarray(labels)
    k = int(min_cell_size)
    attributes = resolve_attributes(settings.attributes, data)
    sensitive = sensitive_frame(data, features.index)
    if sensitive is None:
        attributes = []
    report = ResponsibilityReport(attributes=attributes, min_cell_size=k, names=names_of(profiles))

    report.small_segments = sorted(small_segments(labels, k))
    report.metrics["privacy.small_segments"] = float(len(report.small_segments))
    report.tags = {
        "segbench.min_cell_size": str(k),
        "segbench.small_segments": ",".join(map(str, report.small_segments)) or "none",
        "segbench.fairness_attributes": ",".join(attributes) or "none",
    }

    for attribute in attributes:
        groups = sensitive[attribute]
        report.group_tables[attribute] = group_table(labels, groups, min_cell_size=k)

    proxy = settings.proxy
    if attributes and proxy.enabled:
        for attribute in attributes:
            audit = proxy_audit(
                features.X,
                list(features.columns),
                sensitive[attribute],
                attribute,
                sample_size=proxy.sample_size,
                cv=proxy.cv,
                n_repeats=proxy.n_repeats,
                seed=seed,
            )
            if audit is not None:
                report.proxies[attribute] = audit
                report.metrics[f"proxy.{attribute}.score"] = audit.score
                report.metrics[f"proxy.{attribute}.chance"] = audit.chance

    if not settings.surrogate.enabled:
        report.surrogate_note = "turned off (fairness.surrogate.enabled=false)"
    elif len(np.unique(labels)) < 2:
        report.surrogate_note = "none — a single segment has nothing to tell apart"
    else:
        report.surrogate = fit_surrogate(
            features.profile.reset_index(drop=True),
            labels,
            max_depth=settings.surrogate.max_depth,
            min_samples_leaf=max(k, 1),
            seed=seed,
            sample_size=settings.surrogate.sample_size,
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

    if settings.card.enabled:
        all_metrics = {**(metrics or {}), **report.metrics}
        report.card = build_card(
            settings, data, features, labels, profiles, report, all_metrics, sensitive,
            title=title, expression=expression, seed=seed,
        )  # fmt: skip
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
                "too few customers in this segment to show"
            )
        else:
            flags[int(segment)] = (
                f"fairness ({attribute}): balance {seg_balance[segment]:.2f} < {threshold:g} — "
                f"{high} over-represented (×{row[high]:.2f}), {low} under-represented "
                f"(×{row[low]:.2f})"
            )
    return flags


def build_card(
    settings: FairnessSettings,
    data: CustomerData,
    features: FeatureMatrix,
    labels: np.ndarray,
    profiles: pd.DataFrame,
    report: ResponsibilityReport,
    metrics: Mapping[str, float],
    sensitive: pd.DataFrame | None,
    title: str = "",
    expression: str = "",
    seed: int = 0,
) -> SegmentCard:
    """The segment card of a run from its report (see :mod:`segbench.reporting.card`)."""
    k = report.min_cell_size
    segments, sizes = np.unique(labels, return_counts=True)
    card = SegmentCard(
        title=title or data.name,
        sizes={int(s): int(n) for s, n in zip(segments, sizes, strict=True)},
    )
    # the run's names (the profile table's, segbench.reporting.names): one name per segment
    card.set_names({s: n for s, n in names_of(profiles).items() if n != plain_name(s)})
    naming = profiles.attrs.get("naming")
    card.summary.append(
        f"{data.n_customers} customers, {int((segments != -1).sum())} segments"
        + (f" and noise ({(labels == -1).mean():.1%})" if (labels == -1).any() else "")
        + f"; features `{expression}`; seed {seed}."
    )
    for name in ("silhouette", "davies_bouldin", "ari"):
        if name in metrics:
            card.summary.append(f"- {name}: {metrics[name]:.3f}")
    if naming and card.names:
        card.summary.append(
            f"- segment names: {naming} (`segbench.reporting.names`; the same in every "
            "artifact of the run)"
        )
    threshold = settings.flag_balance
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
            top = ", ".join(proxy.top(settings.proxy.top_features)["feature"])
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
        f"\n**Privacy:** small-cell suppression at {k} customers: table cells about fewer "
        "customers are suppressed; small segments: "
        + (", ".join(map(str, report.small_segments)) or "none")
        + ". Customer ids are pseudonymised (HMAC-SHA256) and never shown."
    )

    for segment in report.small_segments:
        card.add_flag(segment, f"privacy: fewer than {k} customers, figures suppressed")
    if sensitive is not None:
        for attribute, table in report.group_tables.items():
            flags = _fairness_flags(labels, sensitive[attribute], table, attribute, threshold)
            for segment, text in flags.items():
                card.add_flag(segment, text)

    card.add_section("Profile", profile_section(profiles))
    if report.surrogate is not None:
        rules = {
            int(s): [r.text() for r in report.surrogate.rules.get(int(s), [])] for s in segments
        }
        card.add_section("Rules (surrogate tree)", bullet_section(rules, "no rule predicts it"))
    distinct = distinguishing_features(
        features.profile.reset_index(drop=True),
        labels,
        top=settings.card.top_features,
        min_cell_size=k,
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
