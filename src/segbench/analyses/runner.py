"""Analyses after the segmentation, in the run: one call from the experiment.

:func:`run_analyses` is called by :func:`segbench.experiment.run_experiment` right after the
segment profiles. Settings: :class:`segbench.settings.AnalysisSettings` (the ``analysis``
config group; override with e.g. ``analysis.temporal.enabled=true``). Each analysis runs only
when enabled and when the dataset has the parts it needs; when it cannot run on this data (a
:class:`~segbench.errors.SegbenchError`, e.g. no transactions, too few customers), the run goes
on and the tag ``segbench.<analysis>.skipped`` says why. Any other error fails the run.

===============  =========================================  =====================================
analysis         needs                                      module (metric names)
===============  =========================================  =====================================
assign           ≥ 20 customers                             :mod:`segbench.serving.assignment`
predictive       outcomes (spend/churn, response) or        :mod:`segbench.analyses.predictive`
                 transactions (temporal split)
personalisation  transactions (products), ``spend_*``       :mod:`.personalisation`
                 columns (categories), texts (terms), RFM
temporal         transactions                               :mod:`segbench.analyses.temporal`
k_selection      an algorithm that takes k (on by default)  :mod:`segbench.analyses.k_selection`
===============  =========================================  =====================================

Each analysis also logs its wall time as ``<analysis>.seconds``. The analyses run with
``analysis.threads`` OpenMP threads (default 1): their many small refits and gradient-boosting
fits slow down by 10-500× when OpenMP threads outnumber free cores (measured on a shared
2-core machine: a 900-row ``HistGradientBoostingRegressor`` fit took 51 s with the default
threads under load, 0.28 s with one).

Privacy: per-segment tables leave out segments of fewer than ``privacy.min_cell_size``
customers (as the profiles do; tag ``segbench.personalisation.suppressed_segments``), and a
product or term must concern at least ``max(min_customers, min_cell_size)`` customers to be
reported. No table holds a customer id or a text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from segbench.data.disclosure import small_segments
from segbench.data.model import CustomerData
from segbench.errors import SegbenchError
from segbench.features import FeatureMatrix, FeaturePipeline
from segbench.parallel.side_by_side import Beside
from segbench.reporting.drawing import Sketch
from segbench.settings import AlgoSettings, AnalysisSettings

log = logging.getLogger(__name__)


@dataclass
class AnalysisResult:
    """What the analyses return to the experiment: metrics, and additions to the segment card."""

    metrics: dict[str, float] = field(default_factory=dict)
    offers: dict[int, str] = field(default_factory=dict)

    def extend_card(self, card: Any) -> None:
        """Add what to offer each segment to the run's segment card
        (:class:`segbench.reporting.card.SegmentCard`, via ``log_responsibility``); the card
        already has the run's segment names (from its profile table)."""
        if self.offers:
            card.add_section("What to offer", self.offers)


@dataclass(frozen=True)
class RunFacts:
    """The plain values of the run that analyses read besides their own settings."""

    seed: int
    min_cell_size: int
    silhouette_sample_size: int
    title: str


@dataclass(frozen=True)
class Fitted:
    """The fitted run the analyses look at: its data, features, segmentation ``seg``, fitted
    feature ``pipeline`` (refits use an unfitted copy of it) and segment profiles."""

    data: CustomerData
    features: FeatureMatrix
    seg: Any
    pipeline: FeaturePipeline
    profiles: pd.DataFrame


@dataclass
class _Context:
    """What every analysis reads, and where it logs."""

    run: Any
    facts: RunFacts
    data: CustomerData
    features: FeatureMatrix
    seg: Any
    pipeline: FeaturePipeline
    profiles: pd.DataFrame
    metrics: dict[str, float] = field(default_factory=dict)
    offers: dict[int, str] = field(default_factory=dict)
    #: Analyses started before the fit (:func:`started_early`), by name.
    early: dict[str, Beside] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from segbench.reporting.names import names_of

        self.seed = self.facts.seed
        # the run's one set of segment names (segbench.reporting.names), from its profiles
        self.names = names_of(self.profiles)
        self.labels = pd.Series(np.asarray(self.seg.labels), index=self.features.index.astype(str))
        # privacy: the same minimum as the profiles (privacy.min_cell_size; 0 = none)
        self.k = self.facts.min_cell_size
        self.small = small_segments(self.seg.labels, self.k)

    def sensitive(self, ids: pd.Index) -> Any:
        """Sensitive attributes of ``ids`` when the run's estimator needs them, else None."""
        if not getattr(self.seg.estimator, "requires_sensitive", False):
            return None
        from segbench.fairness.scoring import sensitive_frame

        return sensitive_frame(self.data, ids)

    def table(self, frame: pd.DataFrame, path: str, index: bool = False) -> None:
        """Log a per-segment table, without the rows of segments too small to show, with the
        run's segment name beside each segment id (column ``name``)."""
        segment = frame["segment"] if "segment" in frame.columns else None
        if segment is None and frame.index.name == "segment":
            segment = pd.Series(frame.index, index=frame.index)
        if segment is not None and self.small:
            keep = ~segment.astype(int).isin(self.small).to_numpy()
            frame, segment = frame[keep], segment[keep]
        if segment is not None and "name" not in frame.columns:
            named = [segment_label_name(s, self.names) for s in segment.astype(int)]
            at = frame.columns.get_loc("segment") + 1 if "segment" in frame.columns else 0
            frame = frame.copy()
            frame.insert(at, "name", named)
        self.run.table(frame, path, index=index)


def segment_label_name(segment: int, names: dict[int, str]) -> str:
    """The run's name of ``segment`` (a plain ``segment <id>`` for an id it does not know)."""
    from segbench.reporting.names import plain_name

    return names.get(int(segment), plain_name(segment))


def _assign(ctx: _Context, s) -> None:
    from segbench.serving.assignment import holdout_agreement

    if ctx.features.shape[0] < 20:
        raise SegbenchError(f"{ctx.features.shape[0]} customers; agreement needs at least 20")
    metrics, method = holdout_agreement(
        ctx.seg.estimator,
        ctx.features.X,
        ctx.seg.labels,
        holdout=float(s.holdout),
        seed=ctx.seed,
        max_customers=int(s.max_customers),
        sensitive=ctx.sensitive(ctx.features.index),
    )
    ctx.metrics.update(metrics)
    ctx.run.tags({"segbench.assign.agreement_method": method})


def _predictive(ctx: _Context, s) -> None:
    from segbench.analyses.predictive import evaluate_outcomes, response_lift, temporal_split
    from segbench.evaluation.matching import match_by_overlap, relabel
    from segbench.serving.assignment import refit

    data, seed = ctx.data, ctx.seed
    outcomes = data.outcomes
    ran = False
    if outcomes is not None and {"next_period_spend", "churned"} & set(outcomes.columns):
        aligned = outcomes.reindex(ctx.features.index)
        result = evaluate_outcomes(
            ctx.features.X, ctx.seg.labels, aligned, int(s.folds), seed, int(s.max_customers)
        )
        ctx.run.tags({"segbench.predictive.source": "dataset outcomes"})
        ran = True
    elif data.has("transactions"):
        before, outcomes_split, cutoff = temporal_split(data, s.cutoff, int(s.horizon_days))
        pipeline = ctx.pipeline.unfitted()
        X = pipeline.fit_transform(before).X
        _, labels = refit(ctx.seg.estimator, X, ctx.sensitive(before.customer_ids))
        # the refit's segment ids matched to the run's (member overlap), so the per-segment
        # table speaks of the run's segments
        run_labels = ctx.labels.reindex(before.customer_ids.astype(str)).to_numpy()
        labels = relabel(labels, match_by_overlap(run_labels, labels))
        result = evaluate_outcomes(
            X,
            labels,
            outcomes_split.reindex(before.customer_ids),
            int(s.folds),
            seed,
            int(s.max_customers),
        )
        tags = {
            "segbench.predictive.source": "temporal split",
            "segbench.predictive.cutoff": str(cutoff.date()),
        }
        if "text" in pipeline.blocks:
            tags["segbench.predictive.note"] = (
                "texts carry no time: the text block saw every text of the customers, "
                "including what they bought after the cutoff"
            )
        ctx.run.tags(tags)
        result.metrics["predictive.horizon_days"] = float(s.horizon_days)
        ran = True
    else:
        result = None
    if result is not None:
        ctx.metrics.update(result.metrics)
        for path, frame in result.tables.items():
            ctx.table(frame, path, index=True)
    if outcomes is not None and "response" in outcomes.columns:
        response = outcomes["response"].reindex(ctx.features.index)
        lift = response_lift(ctx.features.X, ctx.seg.labels, response, int(s.folds), seed)
        ctx.metrics.update(lift.metrics)
        for path, frame in lift.tables.items():
            ctx.table(frame, path, index=True)
        ran = True
    if not ran:
        raise SegbenchError(
            f"dataset '{data.name}' has neither next-period outcomes, a campaign response nor "
            "transactions for a temporal split"
        )


def _personalisation(ctx: _Context, s) -> None:
    from segbench.analyses import personalisation as p

    data, labels = ctx.data, ctx.labels
    min_customers = max(int(s.min_customers), ctx.k)
    # the run's names and sizes (its profile table): the same names as the card and plots
    names = ctx.profiles[["name", "size"]].rename_axis("segment").reset_index()
    affinity = categories = terms = None
    if data.has("transactions"):
        lines = p.LineCodes(data.transactions, labels)  # integer codes, once for both tables
        top = p.top_products(data.transactions, labels, int(s.top_n), lines=lines)
        ctx.table(top[top["customers"] >= ctx.k], "personalisation/top_products.csv")
        affinity = p.product_affinity(
            data.transactions, labels, int(s.top_n), float(s.min_support), min_customers, lines
        )
        ctx.table(affinity, "personalisation/product_affinity.csv")
    categories = p.category_affinity(data.customers, labels)
    if len(categories):
        ctx.table(categories, "personalisation/category_affinity.csv")
    else:
        categories = None
    if data.has("texts"):
        terms = p.ctfidf_terms(data.texts, labels, int(s.top_n), min_customers)
        ctx.table(terms, "personalisation/terms.csv")
    recs = p.recommendations(names, affinity, categories, int(s.n_offers))
    if ctx.small:
        shown = ~recs["segment"].isin(ctx.small)
        recs = recs[shown]
        ctx.run.tags(
            {
                "segbench.personalisation.suppressed_segments": ",".join(
                    str(x) for x in sorted(ctx.small)
                )
            }
        )
    for _, rec in recs.iterrows():
        words = [] if terms is None else terms[terms["segment"] == rec["segment"]]["term"].head(5)
        ctx.offers[int(rec["segment"])] = (
            f"{rec['action']}. Offer: {rec['offer']}"
            + (
                f" (to {rec['offers_to_members_not_yet_buying']} members not yet buying)"
                if rec["offers_to_members_not_yet_buying"]
                else ""
            )
            + (f". Distinctive terms: {', '.join(words)}" if len(words) else "")
        )
    ctx.table(recs, "personalisation/recommendations.csv")
    ctx.run.text(recs.to_markdown(index=False), "personalisation/recommendations.md")


def _temporal(ctx: _Context, s) -> None:
    from segbench.analyses.temporal import charts
    from segbench.analyses.temporal.migration import (
        Reference,
        migration_table,
        track_segments,
        transitions_table,
    )
    from segbench.analyses.temporal.online import online_vs_refit
    from segbench.analyses.temporal.windows import fit_windows, time_windows

    data, seed = ctx.data, ctx.seed
    windows = time_windows(data, str(s.freq))
    fits, skipped = fit_windows(
        data, windows, ctx.pipeline.unfitted, ctx.seg.estimator, seed, int(s.min_customers)
    )
    if not fits:
        raise SegbenchError(f"no {s.freq!r} window has {s.min_customers} customers")
    # every window's segments matched to the run's, so ids and names are the run's
    run = Reference(
        ctx.labels.index,
        ctx.features.X,
        np.asarray(ctx.seg.labels),
        lambda part: ctx.pipeline.transform(part).X,
    )
    result = track_segments(
        fits,
        float(s.drift_ari),
        float(s.drift_share),
        str(s.match),
        reference=run,
        min_cell_size=ctx.k,
    )
    ctx.metrics.update(result.metrics)
    drift = result.drift_windows
    tags = {"segbench.temporal.drift": ",".join(drift) if drift else "none"}
    if skipped:
        tags["segbench.temporal.skipped_windows"] = "; ".join(skipped)
    ctx.run.tags(tags)
    ctx.table(migration_table(result), "temporal/migration.csv")
    ctx.table(transitions_table(result), "temporal/transitions.csv")
    ctx.table(result.shares, "temporal/shares.csv", index=True)
    names = ctx.names
    ctx.run.figure(Sketch(charts.migration_heatmaps, (result, names)), "temporal/migration.png")
    ctx.run.figure(Sketch(charts.share_chart, (result, names)), "temporal/shares.png")
    ctx.run.text(
        charts.migration_sankey(result, names, f"Segment migration · {ctx.facts.title}"),
        "temporal/migration_sankey.html",
    )
    if s.online.enabled:
        online = online_vs_refit(
            data,
            ctx.pipeline.unfitted,
            ctx.seg.estimator,
            s.online.batch_freq,
            seed,
            history_days=s.online.history_days,
            warmup_batches=s.online.warmup_batches,
        )
        ctx.metrics.update(online.metrics)
        ctx.table(online.batches, "temporal/online_batches.csv")


def _k_selection(ctx: _Context, s) -> None:
    from segbench.analyses import k_selection as ks

    estimator = ctx.seg.estimator
    if not ks.takes_k(estimator):
        raise _NotApplicable(
            f"{type(estimator).__name__} takes no number of segments, so there is no k to choose"
        )
    early = ctx.early.get("k_selection")
    curve = (
        early.result()
        if early is not None
        else ks.k_curve(
            estimator,
            ctx.features.X,
            s.k_min,
            s.k_max,
            sample_size=s.sample_size,
            seed=ctx.seed,
            n_init=s.n_init,
            sensitive=ctx.sensitive(ctx.features.index),
        )
    )
    ctx.metrics.update(ks.choices(curve))
    run_k = estimator.get_params(deep=False).get(ks.k_parameter(estimator))
    title = f"Choice of k · {ctx.facts.title}"
    ctx.table(curve, "k_selection/curve.csv")
    ctx.run.figure(Sketch(ks.k_choice_figure, (curve, run_k, title)), "k_selection/k_choice.png")


class _NotApplicable(SegbenchError):
    """An analysis that does not apply to the run's algorithm: tagged, not logged."""


ANALYSES: dict[str, Callable[[_Context, Any], None]] = {
    "k_selection": _k_selection,
    "assign": _assign,
    "personalisation": _personalisation,
    "predictive": _predictive,
    "temporal": _temporal,
}


@contextmanager
def started_early(
    settings: AnalysisSettings,
    algo: AlgoSettings,
    data: CustomerData,
    features: FeatureMatrix,
    seed: int,
) -> Iterator[dict[str, Beside]]:
    """Start, beside the fit, the analyses that read only the features and the configured
    algorithm: the choice of k, whose fits would otherwise wait for the fit, its scoring and
    stability (a forked process fits them one after another while the run fits and scores,
    a core the run leaves idle meanwhile). Yields them by name for :func:`run_analyses`;
    leaving the block stops any still at work. The results are those of the analysis run
    later: each fit is a fresh copy of the configured estimator with its own seed.

    Not for the subsample-then-assign mode (the fitted estimator is a wrapper) nor for a
    tuned run (its refit's values are known only after the study): those compute it in turn.
    """
    early: dict[str, Beside] = {}
    s = settings.k_selection
    n = features.shape[0]
    if s.enabled and (algo.subsample is None or n <= algo.subsample):
        from segbench.algorithms import build_estimator
        from segbench.analyses import k_selection as ks
        from segbench.fairness.scoring import sensitive_frame

        try:
            estimator = build_estimator(algo, n)
        except SegbenchError:  # the fit says so
            estimator = None
        if estimator is not None and ks.takes_k(estimator):
            needs = getattr(estimator, "requires_sensitive", False)
            sensitive = sensitive_frame(data, features.index) if needs else None
            early["k_selection"] = Beside(
                ks.k_curve,
                estimator,
                features.X,
                s.k_min,
                s.k_max,
                sample_size=s.sample_size,
                seed=seed,
                n_init=s.n_init,
                sensitive=sensitive,
                workers=1,  # the forked process alone: the run fits on the other core
            )
    with ExitStack() as stack:
        for started in early.values():
            stack.enter_context(started)
        yield early


def run_analyses(
    run: Any,
    settings: AnalysisSettings,
    facts: RunFacts,
    fitted: Fitted,
    early: dict[str, Beside] | None = None,
) -> AnalysisResult:
    """Run the enabled analyses on the fitted run; log their artifacts and tags on ``run``.
    ``early``: analyses already under way (:func:`started_early`), whose results are taken.

    Returns the analyses' metrics (the caller logs them with the run's other metrics) and the
    segment names and offers for the segment card (:meth:`AnalysisResult.extend_card`).
    """
    ctx = _Context(
        run,
        facts,
        fitted.data,
        fitted.features,
        fitted.seg,
        fitted.pipeline,
        fitted.profiles,
        early=dict(early or {}),
    )
    with threadpool_limits(limits=settings.threads, user_api="openmp"):
        _run_all(ctx, settings)
    return AnalysisResult(ctx.metrics, ctx.offers)


def _run_all(ctx: _Context, settings: AnalysisSettings) -> None:
    run = ctx.run
    for name, analyse in ANALYSES.items():
        options = getattr(settings, name)
        if not options.enabled:
            continue
        tic = time.perf_counter()
        try:
            analyse(ctx, options)
        except SegbenchError as err:
            if not isinstance(err, _NotApplicable):
                log.info("analysis %s skipped: %s", name, err)
            run.tags({f"segbench.{name}.skipped": str(err)})
            continue
        ctx.metrics[f"{name}.seconds"] = time.perf_counter() - tic
