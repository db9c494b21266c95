"""Tune a segmentation inside one run, in named steps: open the study, optimise, refit,
summarise.

:func:`tune_segmentation` is what :func:`segbench.experiment.run_experiment` calls when
``tune`` is not ``none``; it chains the steps, each of which can be called alone (tests and
benchmarks do):

1. :func:`prepare` — objectives and search space, checked before any trial;
2. :func:`open_study` — the sampler and the (created or resumed) Optuna study, with the
   configured values queued as its first trial (:func:`start_at_configured`);
3. :func:`optimise` — run this run's share of the trials (:mod:`segbench.tuning.trials`);
4. :func:`refit` — select the trial (the best, or a Pareto-optimal one) and fit it again;
5. :func:`summarise` — the ``best.*``/``tune.*`` metrics and the study's artifacts.

Each trial draws values from the search space (:mod:`segbench.tuning.space`), fits the
algorithm with :func:`segbench.algorithms.fit_segmentation` and scores it with the run's
:class:`~segbench.evaluation.suite.Scorer` — the same two steps a plain run takes, so every
metric of a run can be an objective.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import optuna
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from segbench.algorithms import Segmentation, build_estimator, fit_segmentation
from segbench.data.model import CustomerData
from segbench.errors import ConfigError, DataError, SegbenchError
from segbench.evaluation.suite import Scorer
from segbench.fairness.scoring import sensitive_frame
from segbench.features import FeatureMatrix, FeaturePipeline
from segbench.tracking.mlflow_run import RunTracker, resolve_uri
from segbench.tuning import reporting
from segbench.tuning.objectives import (
    SELECTIONS,
    Objective,
    check_available,
    check_data,
    check_weights,
    infeasibility,
    parse_objectives,
    select_trial,
)
from segbench.tuning.space import SearchSpace
from segbench.tuning.spec import StudySpec
from segbench.tuning.study import (
    COUNTED,
    REPEAT_LIMIT,
    counted_trials,
    counts,
    exhausted,
    fail_stale_trials,
    make_sampler,
    open_storage,
    redact,
    stale_callback,
    study_name,
    trials_to_run,
)
from segbench.tuning.study import open_study as load_or_create_study
from segbench.tuning.trial_runs import TrialRuns
from segbench.tuning.trials import Progress, TrialError, TrialObjective, params_text

log = logging.getLogger(__name__)


class Tuned(NamedTuple):
    """What tuning gives the run: the refit of the selected trial and how it was made;
    ``values``, the selected trial's parameters by config path (``algo.n_clusters``)."""

    segmentation: Segmentation
    metrics: dict[str, float]
    notes: dict[str, str]
    features: FeatureMatrix
    pipeline: FeaturePipeline | None
    values: dict[str, Any]


@dataclass
class OpenedStudy:
    """A study ready to optimise: its name, storage (for messages) and sampler."""

    study: Study
    name: str
    where: str
    sampler: str


@dataclass
class Refit:
    """The selected trial, the Pareto front, and the selected trial fitted again."""

    best: FrozenTrial
    front: list[FrozenTrial]
    segmentation: Segmentation
    metrics: dict[str, float]
    notes: dict[str, str] = field(default_factory=dict)
    features: FeatureMatrix | None = None
    pipeline: FeaturePipeline | None = None


# -- 1. prepare -------------------------------------------------------------------------------


def prepare(spec: StudySpec, n_customers: int) -> tuple[list[Objective], SearchSpace]:
    """The objectives and the search space, checked before any trial runs."""
    objectives = parse_objectives(spec.tune.objectives)
    space = SearchSpace.from_settings(spec.algo, spec.tune, spec.features)
    if len(objectives) > 1:
        _check_selection(spec.tune.select, spec.tune.weights, objectives)
    check_space_buildable(spec, space, n_customers)
    return objectives, space


def _check_selection(select: str, weights: Any, objectives: list[Objective]) -> None:
    if select not in SELECTIONS:
        raise ConfigError(f"tune.select={select!r}; expected one of {list(SELECTIONS)}")
    if select == "weighted":
        check_weights(None if weights is None else list(weights), objectives)


def check_space_buildable(spec: StudySpec, space: SearchSpace, n_customers: int) -> None:
    """Fail before any trial if the algorithm cannot be built with the space's parameters."""
    point = {
        p.path[5:]: p.choices[0] if p.kind == "categorical" else p.low
        for p in space.params
        if p.path.startswith("algo.")
    }
    try:
        build_estimator(spec.algo.model_copy(update=point), n_customers)
    except ConfigError as err:
        raise ConfigError(
            f"the search space of algorithm '{spec.algo.name}' ({space.describe()}) "
            f"does not fit its estimator: {err}"
        ) from err


# -- 2. open the study ------------------------------------------------------------------------


def open_study(
    spec: StudySpec, objectives: list[Objective], space: SearchSpace, fingerprint: str = ""
) -> OpenedStudy:
    """Create or resume the study ``spec`` describes (storage, name, seeded sampler).

    ``fingerprint`` (the dataset's content hash) is stored with a persistent study, which
    refuses to be resumed on other data.
    """
    tune = spec.tune
    sampler = make_sampler(tune.sampler, spec.seed, space, len(objectives), tune.sampler_options)
    storage = open_storage(
        tune.storage, tune.heartbeat_interval, tune.grace_period, tune.max_retries
    )
    name = study_name(spec, objectives)
    if storage is not None:
        _say_other_studies(storage, name, spec.prefix)
    context = {
        **spec.context,
        "dataset_fingerprint": fingerprint,
        "objectives": ",".join(o.label for o in objectives),
        "space": space.describe(),
    }
    study = load_or_create_study(storage, name, objectives, sampler, context)
    where = redact(resolve_uri(tune.storage)) if tune.storage else "memory"
    return OpenedStudy(study, name, where, tune.sampler)


def start_at_configured(
    opened: OpenedStudy,
    spec: StudySpec,
    space: SearchSpace,
    resolved: Mapping[str, Any] | None = None,
) -> bool:
    """Queue the configured values as a trial of ``opened`` (``tune.start_at_configured``).

    The configured values are the algorithm's constructor arguments (its YAML, or the
    estimator's own default) and the configured feature values the space varies; a value an
    estimator resolves at fit time (``"auto"``, :mod:`segbench.algorithms.density`) is taken
    from ``resolved``, what the baseline fit resolved it to. They are
    queued only when every one lies in the space (a partly fixed trial would not be the
    configuration), and at most once per study (``skip_if_exists``: a resumed study or a
    second worker does not queue them again). Returns whether they are in the study.
    """
    tune = spec.tune
    if not tune.start_at_configured or tune.refit_only or tune.sampler == "grid":
        return False
    params = build_estimator(spec.algo).get_params(deep=False)
    configured = {f"algo.{k}": v for k, v in params.items()}
    configured.update({f"algo.{k}": v for k, v in (resolved or {}).items()})
    missing = object()
    for param in space.params:
        if not param.path.startswith("algo."):
            value = spec.features.value(param.path, missing)
            if value is not missing:
                configured[param.path] = value
    point, outside = space.point(configured)
    if outside:
        log.info(
            "study '%s': the configured values are not queued as a trial, %s outside the "
            "search space (%s)",
            opened.name,
            "one is" if len(outside) == 1 else "some are",
            ", ".join(outside),
        )
        return False
    opened.study.enqueue_trial(point, {"segbench.origin": "configured"}, skip_if_exists=True)
    log.info(
        "study '%s': the configured values (%s) are a trial of it",
        opened.name,
        params_text(point),
    )
    return True


def _say_other_studies(storage: Any, name: str, prefix: str) -> None:
    """Say when the storage holds studies of this prefix under other names (another search
    space, objectives or setup), so a changed space is never continued silently."""
    try:
        names = optuna.study.get_all_study_names(storage)
    except Exception:  # listing is a courtesy
        return
    others = sorted(n for n in names if n.startswith(prefix + ".") and n != name)
    if others and name not in names:
        log.info(
            "new study '%s': the storage holds %s of another search space, objectives or "
            "setup (%s)",
            name,
            "a study" if len(others) == 1 else f"{len(others)} studies",
            ", ".join(others[:3]) + (" …" if len(others) > 3 else ""),
        )


# -- 3. optimise ------------------------------------------------------------------------------


def optimise(opened: OpenedStudy, objective: TrialObjective, spec: StudySpec) -> tuple[int, float]:
    """Run this run's share of the trials; returns ``(trials run, seconds)``.

    One trial at a time (``study.optimize(n_trials=1)``, so Optuna's heartbeat, stale-trial
    checks and queued retries apply to each), until

    - ``tune.budget=study``: the study holds ``tune.n_trials`` evaluations (finished,
      not repeated trials; all workers counted); ``budget=run``: this run added as many;
    - every point of a finite search space has been evaluated, or the sampler proposed only
      evaluated points for many trials in a row (it has converged);
    - ``tune.timeout`` seconds have passed (no new trial is started);
    - as many of this run's trials failed as the budget (a broken setup does not loop).

    See "Budget" in :mod:`segbench.tuning.study`.
    """
    tune, study = spec.tune, opened.study
    if tune.refit_only:
        held = counted_trials(study)
        if held == 0:
            raise ConfigError(
                f"tune.refit_only=true: expected the study '{opened.name}' in {opened.where} "
                "to hold finished trials to refit, found none; run the study first (without "
                "refit_only, e.g. experiment=benchmark_select for the benchmark protocol), or "
                "check tune.storage and tune.study_name"
            )
        log.info(
            "study '%s' (%s): %d finished trial(s) present; refit only (tune.refit_only), no "
            "trial run",
            opened.name,
            opened.where,
            held,
        )
        return 0, 0.0
    n_run = trials_to_run(study, tune.n_trials, tune.budget)
    log.info(
        "study '%s' (%s): %d finished trial(s) present, running up to %d; objectives %s; space %s",
        opened.name,
        opened.where,
        counted_trials(study),
        n_run,
        ", ".join(o.label for o in objective.objectives),
        objective.space.describe(),
    )
    progress = Progress(tune.progress, tune.n_trials, objective.objectives, tune.budget)
    started = time.perf_counter()
    repeat_limit = max(REPEAT_LIMIT, tune.n_trials)
    why = ""
    try:
        while True:
            if tune.budget == "study" and counted_trials(study) >= tune.n_trials:
                break
            if tune.budget == "run" and progress.evaluated >= tune.n_trials:
                break
            if exhausted(study, objective.space):
                why = "every point of the search space is evaluated"
                break
            if progress.repeats_in_row >= repeat_limit:
                why = (
                    f"the sampler proposed only evaluated points in the last "
                    f"{progress.repeats_in_row} trials"
                )
                break
            if tune.timeout is not None and time.perf_counter() - started >= tune.timeout:
                why = f"tune.timeout={tune.timeout:g} s reached"
                break
            if progress.failed >= max(1, tune.n_trials):
                why = f"{progress.failed} trial(s) of this run failed"
                break
            study.optimize(objective, n_trials=1, catch=(TrialError,), callbacks=[progress])
    finally:
        progress.close()
    if why:
        log.info("study '%s': stopped starting trials: %s", opened.name, why)
    return progress.done, time.perf_counter() - started


# -- 4. refit ---------------------------------------------------------------------------------


def refit(
    study: Study, objective: TrialObjective, spec: StudySpec, scorer: Scorer, data: CustomerData
) -> Refit:
    """Select the trial to keep and fit it again (its features too, when they were tuned)."""
    objectives = objective.objectives
    trials = study.get_trials(deepcopy=False)
    best, front = select(study, trials, objectives, spec.tune.select, spec.tune.weights)
    seg, features, pipeline = objective.fit(dict(best.params))
    metrics, notes = scorer(features, data, seg)
    stored = best.user_attrs.get(reporting.METRICS_ATTR, {})
    gaps = [
        f"{o.metric} {metrics.get(o.metric)} (trial {stored.get(o.metric)})"
        for o in objectives
        if not _close(metrics.get(o.metric), stored.get(o.metric))
    ]
    if gaps:
        notes["tune_refit"] = (
            f"the refit of trial {best.number} differs from the trial: {', '.join(gaps)} "
            "(the algorithm is not deterministic for this seed)"
        )
    return Refit(best, front, seg, metrics, notes, features, pipeline)


def select(
    study: Study,
    trials: list[FrozenTrial],
    objectives: list[Objective],
    select: str,
    weights: Any,
) -> tuple[FrozenTrial, list[FrozenTrial]]:
    """The trial to refit and the Pareto front (the best trial alone with one objective)."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        reasons = Counter(
            (
                t.user_attrs.get(reporting.INFEASIBLE_ATTR)
                or t.user_attrs.get(reporting.ERROR_ATTR)
                or t.state.name
            )
            for t in trials
            if t.state.is_finished()
        )
        detail = "; ".join(f"{n}× {r}" for r, n in reasons.most_common(3)) or "no trials ran"
        raise SegbenchError(
            f"no feasible trial in study '{study.study_name}' ({len(trials)} trials): {detail}. "
            "Widen the search space, raise tune.n_trials or tune.max_noise_fraction."
        )
    by_number = {t.number: t for t in trials}

    def original(trial: FrozenTrial) -> FrozenTrial:  # a repeat stands for the trial it repeats
        return by_number.get(trial.user_attrs.get(reporting.REPEATS_ATTR, -1), trial)

    if len(objectives) == 1:
        best = original(study.best_trial)
        return best, [best]
    front = list({t.number: t for t in map(original, study.best_trials)}.values())
    chosen = select_trial(front, objectives, select, None if weights is None else list(weights))
    return chosen, front


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))


# -- 5. summarise -----------------------------------------------------------------------------


def summarise(
    opened: OpenedStudy,
    result: Refit,
    objective: TrialObjective,
    trials_run: int,
    seconds: float,
    runs: TrialRuns | None = None,
) -> tuple[dict[str, float], dict[str, str]]:
    """The run's metrics of the study (the refit's regular names, ``best.*``, ``tune.*``) and
    notes (failed trials, refit differences)."""
    trials = opened.study.get_trials(deepcopy=False)
    states = Counter(reporting.trial_state(t) for t in trials)
    repeats = sum(t.state in COUNTED and not counts(t) for t in trials)
    notes = dict(result.notes)
    if states.get("FAIL"):
        first = next(t for t in trials if reporting.trial_state(t) == "FAIL")
        notes["tune_failed"] = (
            f"{states['FAIL']} trial(s) failed; first: trial {first.number}: "
            f"{first.user_attrs.get(reporting.ERROR_ATTR, 'see the log')}"
        )
    stored = result.best.user_attrs.get(reporting.METRICS_ATTR, {})
    metrics = dict(result.metrics)
    metrics.update({f"best.{k}": float(v) for k, v in stored.items()})
    metrics.update(
        {
            "tune.n_trials": float(sum(counts(t) for t in trials)),
            "tune.n_complete": float(
                sum(counts(t) and t.state == TrialState.COMPLETE for t in trials)
            ),
            "tune.n_infeasible": float(
                sum(counts(t) and t.state == TrialState.PRUNED for t in trials)
            ),
            "tune.n_repeats": float(repeats),
            "tune.n_failed": float(states.get("FAIL", 0)),
            "tune.n_running": float(states.get("RUNNING", 0)),
            "tune.n_trials_run": float(trials_run),
            "tune.best_trial": float(result.best.number),
            "tune.seconds": seconds,
            "tune.trials_per_second": trials_run / seconds if seconds > 0 and trials_run else 0.0,
        }
    )
    if len(objective.objectives) > 1:
        metrics["tune.n_pareto"] = float(len(result.front))
    if runs is not None:
        metrics["tune.trial_logging_seconds"] = runs.seconds
    if objective.space.covers_features:
        metrics["tune.feature_builds"] = float(objective.features.builds)
    log.info(
        "study '%s': %d evaluated trials (%d complete, %d infeasible), %d repeated an "
        "evaluated point, %d failed; refit trial %d: %s",
        opened.name,
        metrics["tune.n_trials"],
        metrics["tune.n_complete"],
        metrics["tune.n_infeasible"],
        repeats,
        states.get("FAIL", 0),
        result.best.number,
        params_text(result.best.params),
    )
    return metrics, notes


def log_study(
    run: RunTracker,
    spec: StudySpec,
    opened: OpenedStudy,
    result: Refit,
    objectives: list[Objective],
    notes: dict[str, str],
) -> None:
    """The study's params, tags and artifacts on the job's run
    (see :mod:`segbench.tuning.reporting`)."""
    study, best, front = opened.study, result.best, result.front
    run.tags(
        {
            "segbench.tune.best_number": str(best.number),
            **(
                {"segbench.tune.best_run_id": best.user_attrs[reporting.RUN_ATTR]}
                if reporting.RUN_ATTR in best.user_attrs
                else {}
            ),
        }
    )
    trials = study.get_trials(deepcopy=False)
    title = f"{spec.title} · {opened.name}"
    run.table(reporting.trials_table(trials), "tune/trials.csv", index=False)
    importances, skipped = reporting.param_importances(study, objectives)
    if skipped:
        notes["tune_importances"] = f"no parameter importances: {skipped}"
    else:
        run.table(importances, "tune/param_importances.csv", index=False)
    if len(objectives) > 1:
        run.table(
            reporting.pareto_table(front, best, objectives), "tune/pareto_front.csv", index=False
        )
    if not spec.log_plots:
        return
    run.figure(reporting.history_figure(trials, objectives, title), "tune/optimization_history.png")
    if not skipped and len(importances):
        run.figure(reporting.importance_figure(importances, title), "tune/param_importances.png")
    for kind in ("slice", "contour"):
        for path, figure in reporting.optuna_figures(study, objectives, kind, title):
            run.figure(figure, path)
    if len(objectives) > 1:
        run.figure(
            reporting.pareto_figure(trials, front, best, objectives, title), "tune/pareto_front.png"
        )


# -- the whole study ----------------------------------------------------------------------------


def tune_segmentation(
    spec: StudySpec,
    scorer: Scorer,
    data: CustomerData,
    features: FeatureMatrix,
    run: RunTracker,
    pipeline: FeaturePipeline | None = None,
) -> Tuned:
    """Run the study ``spec`` describes and refit its selected trial.

    ``features`` (built by ``pipeline``) are the run's features with the configured values.
    Returns the refit segmentation, its metrics (regular names, plus ``best.*``,
    ``baseline.*`` and ``tune.*``, see :mod:`segbench.tuning`), notes, and the feature matrix
    and pipeline of the refit (the run's own unless the space tunes feature values).
    Trials are logged as child runs of ``run``; the study's artifacts on ``run``.
    """
    objectives, space = prepare(spec, data.n_customers)
    check_data(
        objectives,
        data,
        scorer.evaluation,
        scorer.fairness,
        build_estimator(spec.algo),
    )
    verbosity = optuna.logging.get_verbosity()
    # our own line per trial instead of Optuna's (whose failed-trial lines carry tracebacks)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        metrics: dict[str, float] = {}
        names_checked = False  # objective names exist among the scored metrics?
        resolved: dict[str, Any] = {}
        if spec.tune.baseline:
            baseline, names_checked, resolved = _baseline(spec, scorer, features, data, objectives)
            metrics.update({f"baseline.{k}": v for k, v in baseline.items()})
        opened = open_study(spec, objectives, space, data.meta.fingerprint)
        start_at_configured(opened, spec, space, resolved)
        run.tags(
            {
                "segbench.tune.study_name": opened.name,
                "segbench.tune.storage": opened.where,
                "segbench.tune.sampler": opened.sampler,
                "segbench.tune.objectives": ",".join(o.label for o in objectives),
                "segbench.tune.space": space.describe(),
                **({"segbench.tune.select": spec.tune.select} if len(objectives) > 1 else {}),
            }
        )
        runs = TrialRuns(run, opened.name) if spec.tune.log_trials else None
        stale = stale_callback(opened.study)
        if stale is not None and runs is not None:
            stale.close_run = runs.kill
        fail_stale_trials(opened.study)  # trials of lost workers: failed, closed, queued again
        # a trial computes what its objectives need (the refit and the baseline: every metric)
        trial_scorer = scorer.for_metrics([o.metric for o in objectives])
        objective = TrialObjective(
            spec, trial_scorer, data, features, pipeline, space, objectives, runs, names_checked
        )
        trials_run, seconds = optimise(opened, objective, spec)
        result = refit(opened.study, objective, spec, scorer, data)
        summary, notes = summarise(opened, result, objective, trials_run, seconds, runs)
        metrics.update(summary)
        log_study(run, spec, opened, result, objectives, notes)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return Tuned(
        result.segmentation,
        metrics,
        notes,
        result.features,
        result.pipeline,
        dict(result.best.params),
    )


def _baseline(
    spec: StudySpec,
    scorer: Scorer,
    features: FeatureMatrix,
    data: CustomerData,
    objectives: list[Objective],
) -> tuple[dict[str, float], bool, dict[str, Any]]:
    """Metrics of the untuned config, whether it checked the objective names (when it
    scores), and the values its estimator resolved at fit time (``resolved_params_``)."""
    try:
        seg = fit_segmentation(spec.algo, features.X, sensitive_frame(data, features.index))
    except DataError as err:  # e.g. the default k above the number of customers
        log.warning("no baseline: %s", err)
        return {}, False, {}
    resolved = dict(getattr(seg.estimator, "resolved_params_", None) or {})
    metrics, _ = scorer(features, data, seg)
    if infeasibility(metrics, {}, [], 2, 1.0) is None:
        check_available(objectives, metrics)  # before any trial
        return metrics, True, resolved
    return metrics, False, resolved
