"""Tune a segmentation inside one run: the study, its trials, the refit of the best trial.

:func:`tune_segmentation` is what :func:`segbench.experiment.run_experiment` calls when
``tune`` is not ``none``. Each trial draws values from the search space
(:mod:`segbench.tuning.space`), fits the algorithm with :func:`segbench.algorithms.fit_segmentation`
and scores it with :func:`segbench.evaluation.suite.score` — the same two functions a plain
run uses, so every metric of a run can be an objective. The selected trial is refit and its
segmentation becomes the run's result.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any, NamedTuple

import optuna
from omegaconf import DictConfig, OmegaConf
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from segbench.algorithms import Segmentation, build_estimator, fit_segmentation
from segbench.customer_data import CustomerData
from segbench.errors import ConfigError, DataError, SegbenchError
from segbench.evaluation.suite import score
from segbench.fairness.scoring import sensitive_frame
from segbench.features import FeatureMatrix, FeaturePipeline
from segbench.tracking.mlflow_run import RunTracker, resolve_uri
from segbench.tuning import reporting
from segbench.tuning.features import TrialFeatures
from segbench.tuning.objectives import (
    Objective,
    check_available,
    check_weights,
    infeasibility,
    objective_values,
    parse_objectives,
    select_trial,
)
from segbench.tuning.space import SearchSpace
from segbench.tuning.study import (
    COUNTED,
    StopAtTotal,
    counted_trials,
    default_study_name,
    make_sampler,
    open_storage,
    open_study,
    redact,
    trials_to_run,
)
from segbench.tuning.trial_runs import TrialRuns

log = logging.getLogger(__name__)

PROGRESS = ("line", "bar", "none")


class Tuned(NamedTuple):
    """What tuning gives the run: the refit of the selected trial and how it was made."""

    segmentation: Segmentation
    metrics: dict[str, float]
    notes: dict[str, str]
    features: FeatureMatrix
    pipeline: FeaturePipeline | None


class TrialError(Exception):
    """A trial's fit or scoring raised; the trial is marked FAIL and the study goes on."""


class TrialObjective:
    """The objective function of the study: fit and score one trial's segmentation."""

    def __init__(
        self,
        cfg: DictConfig,
        data: CustomerData,
        features: FeatureMatrix,
        pipeline: FeaturePipeline | None,
        space: SearchSpace,
        objectives: list[Objective],
        runs: TrialRuns | None,
        names_checked: bool,
    ) -> None:
        self.cfg = cfg
        self.data = data
        self.space = space
        self.objectives = objectives
        self.runs = runs
        self.names_checked = names_checked
        self.algo = OmegaConf.to_container(cfg.algo, resolve=True)
        # fairness-aware estimators get the sensitive attributes (rows never change per trial)
        self.sensitive = sensitive_frame(data, features.index)
        self.features = TrialFeatures(
            cfg,
            data,
            features,
            pipeline,
            [p for p in space.paths if not p.startswith("algo.")],
            size=int(cfg.tune.get("feature_cache_size", 4)),
        )
        self.min_segments = int(cfg.tune.get("min_segments", 2))
        self.max_noise = float(cfg.tune.get("max_noise_fraction", 1.0))

    def fit(
        self, values: Mapping[str, Any]
    ) -> tuple[Segmentation, FeatureMatrix, FeaturePipeline | None]:
        """Fit the segmentation of ``values`` (path → value); also its features, pipeline."""
        pipeline, features = self.features.get_with_pipeline(SearchSpace.feature_values(values))
        algo = {**self.algo, **SearchSpace.algo_values(values)}
        return fit_segmentation(algo, features.X, self.sensitive), features, pipeline

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        values = self.space.suggest(trial)
        run_id = self.runs.start(trial.number) if self.runs else None
        if run_id:
            trial.set_user_attr(reporting.RUN_ATTR, run_id)
        metrics: dict[str, float] = {}
        try:
            seg, features, _ = self.fit(values)
            metrics, notes = score(self.cfg, features, self.data, seg)
        except DataError as err:  # e.g. more segments asked than customers: no solution
            reason: str | None = str(err)
        except SegbenchError as err:  # a config mistake: every trial would hit it
            trial.set_user_attr(reporting.ERROR_ATTR, str(err))
            if run_id:
                self.runs.finish(run_id, "FAIL", values, {}, str(err))
            raise
        except Exception as err:
            error = f"{type(err).__name__}: {err}"
            trial.set_user_attr(reporting.ERROR_ATTR, error)
            if run_id:
                self.runs.finish(run_id, "FAIL", values, {}, error)
            raise TrialError(error) from err
        else:
            reason = infeasibility(metrics, {}, [], self.min_segments, self.max_noise)
            if reason is None:
                if not self.names_checked:  # the first scored segmentation: names exist?
                    try:
                        check_available(self.objectives, metrics)
                    except ConfigError as err:
                        if run_id:
                            self.runs.finish(run_id, "FAIL", values, metrics, str(err))
                        raise
                    self.names_checked = True
                reason = infeasibility(
                    metrics, notes, self.objectives, self.min_segments, self.max_noise
                )
        if metrics:
            trial.set_user_attr(reporting.METRICS_ATTR, metrics)
        if reason is not None:
            trial.set_user_attr(reporting.INFEASIBLE_ATTR, reason)
            if run_id:
                self.runs.finish(run_id, "INFEASIBLE", values, metrics, reason)
            raise optuna.TrialPruned(reason)
        if run_id:
            self.runs.finish(run_id, "COMPLETE", values, metrics)
        result = objective_values(metrics, self.objectives)
        return result[0] if len(result) == 1 else tuple(result)


class Progress:
    """Callback: a progress line per trial (or a tqdm bar) with the best values so far."""

    def __init__(self, mode: str, total: int, objectives: list[Objective]) -> None:
        if mode not in PROGRESS:
            raise ConfigError(f"tune.progress={mode!r}; expected one of {list(PROGRESS)}")
        self.mode = mode
        self.total = total
        self.objectives = objectives
        self.done = 0
        self.started = time.perf_counter()
        self.bar = None
        if mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="tuning", unit="trial")

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        self.done += 1
        state = reporting.trial_state(trial)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"{state} · best {_best_text(study, self.objectives)}")
        elif self.mode == "line":
            rate = self.done / max(time.perf_counter() - self.started, 1e-9)
            value = (
                " ".join(f"{v:.4g}" for v in trial.values)
                if trial.state == TrialState.COMPLETE
                else trial.user_attrs.get(reporting.INFEASIBLE_ATTR)
                or trial.user_attrs.get(reporting.ERROR_ATTR, "")
            )
            log.info(
                "trial %d (%d/%d this run, %d in study) %s %s · best %s · %.2f trials/s",
                trial.number,
                self.done,
                self.total,
                counted_trials(study),
                state,
                value,
                _best_text(study, self.objectives),
                rate,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _best_text(study: Study, objectives: list[Objective]) -> str:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return "none yet"
    if len(objectives) == 1:
        best = study.best_trial
        return f"{objectives[0].metric} {best.values[0]:.4g} (trial {best.number})"
    return f"{len(study.best_trials)} Pareto-optimal trial(s)"


def tune_segmentation(
    cfg: DictConfig,
    features: FeatureMatrix,
    data: CustomerData,
    run: RunTracker,
    pipeline: FeaturePipeline | None = None,
) -> Tuned:
    """Run the study ``cfg.tune`` describes and refit its selected trial.

    ``features`` (built by ``pipeline``) are the run's features with the config's values.
    Returns the refit segmentation, its metrics (regular names, plus ``best.*``,
    ``baseline.*`` and ``tune.*``, see :mod:`segbench.tuning`), notes, and the feature matrix
    and pipeline of the refit (the run's own unless the space tunes feature values).
    Trials are logged as child runs of ``run``; study artifacts are logged on ``run``.
    """
    tune = cfg.tune
    spec = tune.get("objectives", ["silhouette:max"])
    objectives = parse_objectives(
        OmegaConf.to_container(spec, resolve=True) if OmegaConf.is_config(spec) else spec
    )
    space = SearchSpace.from_config(cfg)
    select = str(tune.get("select", "knee"))
    weights = tune.get("weights")
    if len(objectives) > 1:
        select_trial_check(select, weights, objectives)
    check_space_buildable(cfg, space, data.n_customers)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own progress line instead
    try:
        return _tune(cfg, features, data, run, pipeline, objectives, space)
    finally:
        optuna.logging.set_verbosity(verbosity)


def _tune(
    cfg: DictConfig,
    features: FeatureMatrix,
    data: CustomerData,
    run: RunTracker,
    pipeline: FeaturePipeline | None,
    objectives: list[Objective],
    space: SearchSpace,
) -> Tuned:
    tune = cfg.tune
    notes: dict[str, str] = {}
    metrics: dict[str, float] = {}
    select = str(tune.get("select", "knee"))
    weights = tune.get("weights")
    seed = int(cfg.seed)
    sampler_name = str(tune.get("sampler", "tpe"))
    options = tune.get("sampler_options") or {}
    if OmegaConf.is_config(options):
        options = OmegaConf.to_container(options, resolve=True)
    sampler = make_sampler(sampler_name, seed, space, len(objectives), options)
    names_checked = False  # objective names exist among the scored metrics?
    if tune.get("baseline", True):
        baseline, names_checked = _baseline(cfg, features, data, objectives)
        metrics.update({f"baseline.{k}": v for k, v in baseline.items()})
    storage_url = tune.get("storage")
    storage = open_storage(storage_url)
    name = default_study_name(cfg, objectives)
    context = {
        "dataset": str(cfg.dataset.name),
        "dataset_fingerprint": data.meta.fingerprint,
        "features": str(cfg.features),
        "preprocess": str(cfg.preprocess.get("name", "")),
        "algo": str(cfg.algo.get("name", "")),
        "objectives": ",".join(o.label for o in objectives),
    }
    study = open_study(storage, name, objectives, sampler, context)
    n_trials = int(tune.n_trials)
    budget = str(tune.get("budget", "study"))
    n_run = trials_to_run(study, n_trials, budget)
    if sampler_name == "grid" and sampler.is_exhausted(study):  # type: ignore[attr-defined]
        n_run = 0
    before = counted_trials(study)
    where = redact(resolve_uri(str(storage_url))) if storage_url else "memory"
    log.info(
        "study '%s' (%s): %d trial(s) present, running %d; objectives %s; space %s",
        name,
        where,
        before,
        n_run,
        ", ".join(o.label for o in objectives),
        space.describe(),
    )
    run.tags(
        {
            "segbench.tune.study_name": name,
            "segbench.tune.storage": where,
            "segbench.tune.sampler": sampler_name,
            "segbench.tune.objectives": ",".join(o.label for o in objectives),
            "segbench.tune.space": space.describe(),
            **({"segbench.tune.select": select} if len(objectives) > 1 else {}),
        }
    )

    runs = TrialRuns(run, name) if tune.get("log_trials", True) else None
    objective = TrialObjective(
        cfg, data, features, pipeline, space, objectives, runs, names_checked
    )
    progress = Progress(str(tune.get("progress", "line")), n_run, objectives)
    callbacks: list[Any] = [progress]
    if budget == "study":
        callbacks.insert(0, StopAtTotal(n_trials))
    started = time.perf_counter()
    try:
        if n_run > 0:
            study.optimize(
                objective,
                n_trials=n_run,
                timeout=tune.get("timeout"),
                catch=(TrialError,),
                callbacks=callbacks,
            )
    finally:
        progress.close()
    seconds = time.perf_counter() - started

    trials = study.get_trials(deepcopy=False)
    best, front = _select(study, trials, objectives, select, weights)
    values = dict(best.params)
    seg, best_features, best_pipeline = objective.fit(values)
    refit, refit_notes = score(cfg, best_features, data, seg)
    notes.update(refit_notes)
    stored = best.user_attrs.get(reporting.METRICS_ATTR, {})
    gaps = [
        f"{o.metric} {refit.get(o.metric)} (trial {stored.get(o.metric)})"
        for o in objectives
        if not _close(refit.get(o.metric), stored.get(o.metric))
    ]
    if gaps:
        notes["tune_refit"] = (
            f"the refit of trial {best.number} differs from the trial: {', '.join(gaps)} "
            "(the algorithm is not deterministic for this seed)"
        )
    states = Counter(reporting.trial_state(t) for t in trials)
    if states.get("FAIL"):
        first = next(t for t in trials if reporting.trial_state(t) == "FAIL")
        notes["tune_failed"] = (
            f"{states['FAIL']} trial(s) failed; first: trial {first.number}: "
            f"{first.user_attrs.get(reporting.ERROR_ATTR, 'see the log')}"
        )
    metrics.update(refit)
    metrics.update({f"best.{k}": float(v) for k, v in stored.items()})
    n_done = progress.done
    metrics.update(
        {
            "tune.n_trials": float(sum(states[s] for s in states if s != "WAITING")),
            "tune.n_complete": float(states.get("COMPLETE", 0)),
            "tune.n_infeasible": float(states.get("INFEASIBLE", 0)),
            "tune.n_failed": float(states.get("FAIL", 0)),
            "tune.n_running": float(states.get("RUNNING", 0)),
            "tune.n_trials_run": float(n_done),
            "tune.best_trial": float(best.number),
            "tune.seconds": seconds,
            "tune.trials_per_second": n_done / seconds if seconds > 0 and n_done else 0.0,
        }
    )
    if len(objectives) > 1:
        metrics["tune.n_pareto"] = float(len(front))
    if runs is not None:
        metrics["tune.trial_logging_seconds"] = runs.seconds
    if space.covers_features:
        metrics["tune.feature_builds"] = float(objective.features.builds)
    run.params({f"best.{k}": v for k, v in values.items()})
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
    _log_study(run, cfg, study, trials, objectives, best, front, notes)
    log.info(
        "study '%s': %d trials (%d complete, %d infeasible, %d failed); refit trial %d: %s",
        name,
        metrics["tune.n_trials"],
        states.get("COMPLETE", 0),
        states.get("INFEASIBLE", 0),
        states.get("FAIL", 0),
        best.number,
        ", ".join(f"{k}={v}" for k, v in values.items()),
    )
    return Tuned(seg, metrics, notes, best_features, best_pipeline)


def select_trial_check(select: str, weights: Any, objectives: list[Objective]) -> None:
    """Validate ``tune.select``/``tune.weights`` before any trial runs."""
    from segbench.tuning.objectives import SELECTIONS

    if select not in SELECTIONS:
        raise ConfigError(f"tune.select={select!r}; expected one of {list(SELECTIONS)}")
    if select == "weighted":
        check_weights(None if weights is None else list(weights), objectives)


def check_space_buildable(cfg: DictConfig, space: SearchSpace, n_customers: int) -> None:
    """Fail before any trial if the algorithm cannot be built with the space's parameters."""
    algo = OmegaConf.to_container(cfg.algo, resolve=True)
    point = {}
    for p in space.params:
        if p.path.startswith("algo."):
            point[p.path[5:]] = p.choices[0] if p.kind == "categorical" else p.low
    try:
        build_estimator({**algo, **point}, n_customers)
    except ConfigError as err:
        raise ConfigError(
            f"the search space of algorithm '{cfg.algo.get('name')}' ({space.describe()}) "
            f"does not fit its estimator: {err}"
        ) from err


def _baseline(
    cfg: DictConfig, features: FeatureMatrix, data: CustomerData, objectives: list[Objective]
) -> tuple[dict[str, float], bool]:
    """Metrics of the untuned config; checks the objective names when it scores."""
    try:
        seg = fit_segmentation(cfg.algo, features.X, sensitive_frame(data, features.index))
    except DataError as err:  # e.g. the default k above the number of customers
        log.warning("no baseline: %s", err)
        return {}, False
    metrics, _ = score(cfg, features, data, seg)
    if infeasibility(metrics, {}, [], 2, 1.0) is None:
        check_available(objectives, metrics)
        return metrics, True
    return metrics, False


def _select(
    study: Study,
    trials: list[FrozenTrial],
    objectives: list[Objective],
    select: str,
    weights: Any,
) -> tuple[FrozenTrial, list[FrozenTrial]]:
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        reasons = Counter(
            (
                t.user_attrs.get(reporting.INFEASIBLE_ATTR)
                or t.user_attrs.get(reporting.ERROR_ATTR)
                or t.state.name
            )
            for t in trials
            if t.state in COUNTED
        )
        detail = "; ".join(f"{n}× {r}" for r, n in reasons.most_common(3)) or "no trials ran"
        raise SegbenchError(
            f"no feasible trial in study '{study.study_name}' ({len(trials)} trials): {detail}. "
            "Widen the search space, raise tune.n_trials or tune.max_noise_fraction."
        )
    if len(objectives) == 1:
        return study.best_trial, [study.best_trial]
    front = study.best_trials
    chosen = select_trial(front, objectives, select, None if weights is None else list(weights))
    return chosen, front


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))


def _log_study(
    run: RunTracker,
    cfg: DictConfig,
    study: Study,
    trials: list[FrozenTrial],
    objectives: list[Objective],
    best: FrozenTrial,
    front: list[FrozenTrial],
    notes: dict[str, str],
) -> None:
    """The study's artifacts on the job's run (see :mod:`segbench.tuning.reporting`)."""
    title = f"{cfg.algo.get('name')} · {cfg.features} · {cfg.dataset.name} · {study.study_name}"
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
    if not cfg.tracking.get("log_plots", True):
        return
    run.figure(reporting.history_figure(trials, objectives, title), "tune/optimization_history.png")
    if not skipped and len(importances):
        run.figure(reporting.importance_figure(importances, title), "tune/param_importances.png")
    if len(objectives) > 1:
        run.figure(
            reporting.pareto_figure(trials, front, best, objectives, title), "tune/pareto_front.png"
        )
