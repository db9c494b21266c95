"""One trial of a study: its objective function, and the progress line after each trial."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from segbench.algorithms import Segmentation, fit_segmentation
from segbench.data.model import CustomerData
from segbench.errors import ConfigError, DataError, SegbenchError
from segbench.evaluation.suite import Scorer
from segbench.fairness.scoring import sensitive_frame
from segbench.features import FeatureMatrix, FeaturePipeline
from segbench.tuning import reporting
from segbench.tuning.features import TrialFeatures
from segbench.tuning.objectives import (
    Objective,
    check_available,
    infeasibility,
    objective_values,
)
from segbench.tuning.space import SearchSpace
from segbench.tuning.spec import StudySpec
from segbench.tuning.study import counted_trials, counts, repeated_trial
from segbench.tuning.trial_runs import TrialRuns

log = logging.getLogger(__name__)

PROGRESS = ("line", "bar", "none")


class TrialError(Exception):
    """A trial's fit or scoring raised; the trial is marked FAIL and the study goes on."""


class TrialObjective:
    """The objective function of the study: fit and score one trial's segmentation."""

    def __init__(
        self,
        spec: StudySpec,
        scorer: Scorer,
        data: CustomerData,
        features: FeatureMatrix,
        pipeline: FeaturePipeline | None,
        space: SearchSpace,
        objectives: list[Objective],
        runs: TrialRuns | None = None,
        names_checked: bool = False,
    ) -> None:
        self.spec = spec
        self.scorer = scorer
        self.data = data
        self.space = space
        self.objectives = objectives
        self.runs = runs
        self.names_checked = names_checked
        # fairness-aware estimators get the sensitive attributes (rows never change per trial)
        self.sensitive = sensitive_frame(data, features.index)
        self.features = TrialFeatures(
            spec.features,
            data,
            features,
            pipeline,
            [p for p in space.paths if not p.startswith("algo.")],
            size=spec.tune.feature_cache_size,
        )
        self.min_segments = spec.tune.min_segments
        self.max_noise = spec.tune.max_noise_fraction

    def fit(
        self, values: Mapping[str, Any]
    ) -> tuple[Segmentation, FeatureMatrix, FeaturePipeline | None]:
        """Fit the segmentation of ``values`` (path → value); also its features, pipeline."""
        pipeline, features = self.features.get_with_pipeline(SearchSpace.feature_values(values))
        algo = self.spec.algo.model_copy(update=SearchSpace.algo_values(values))
        return fit_segmentation(algo, features.X, self.sensitive), features, pipeline

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        values = self.space.suggest(trial)
        earlier = repeated_trial(trial)
        if earlier is not None:
            return self.repeat(trial, earlier)
        run_id = self.runs.start(trial.number) if self.runs else None
        if run_id:
            trial.set_user_attr(reporting.RUN_ATTR, run_id)
        metrics: dict[str, float] = {}
        try:
            seg, features, _ = self.fit(values)
            metrics, notes = self.scorer(features, self.data, seg)
        except DataError as err:  # e.g. more segments asked than customers: no solution
            reason: str | None = str(err)
        except SegbenchError as err:  # a config mistake: every trial would hit it
            trial.set_user_attr(reporting.ERROR_ATTR, str(err))
            if run_id:
                self.runs.finish(run_id, "FAIL", values, {}, str(err))
            raise
        except Exception as err:
            error = f"{type(err).__name__}: {err}"
            log.debug("trial %d failed", trial.number, exc_info=True)
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

    def repeat(self, trial: optuna.Trial, earlier: FrozenTrial) -> float | tuple[float, ...]:
        """``trial`` drew the parameters of the finished trial ``earlier``: take its result
        (values, or its reason when infeasible) without fitting again, and no MLflow run."""
        trial.set_user_attr(reporting.REPEATS_ATTR, earlier.number)
        stored = earlier.user_attrs.get(reporting.METRICS_ATTR)
        if stored:
            trial.set_user_attr(reporting.METRICS_ATTR, stored)
        if earlier.state == TrialState.PRUNED:
            reason = earlier.user_attrs.get(reporting.INFEASIBLE_ATTR, "pruned")
            trial.set_user_attr(reporting.INFEASIBLE_ATTR, reason)
            raise optuna.TrialPruned(reason)
        values = list(earlier.values)
        return values[0] if len(values) == 1 else tuple(values)


class Progress:
    """Callback: a progress line per trial (or a tqdm bar) with the trial's parameters, its
    result and the best so far; it also counts this run's trials by outcome. A trial that
    repeats an evaluated point gets no line of its own: the next line says how many there
    were.

    ``total`` and ``budget`` (``study`` or ``run``) say what the ``k/n`` of a line counts:
    the study's evaluations or this run's.
    """

    def __init__(
        self, mode: str, total: int, objectives: list[Objective], budget: str = "study"
    ) -> None:
        if mode not in PROGRESS:
            raise ConfigError(f"tune.progress={mode!r}; expected one of {list(PROGRESS)}")
        self.mode = mode
        self.total = total
        self.objectives = objectives
        self.budget = budget
        self.done = 0  # trials this run ran, whatever their outcome
        self.evaluated = 0  # of which counted (finished, not a repeat)
        self.failed = 0
        self.repeats_in_row = 0
        self.skipped = 0  # repeats not yet said on a line
        self.started = time.perf_counter()
        self.bar = None
        if mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="tuning", unit="trial")

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        self.done += 1
        repeats = trial.user_attrs.get(reporting.REPEATS_ATTR)
        self.repeats_in_row = self.repeats_in_row + 1 if repeats is not None else 0
        self.failed += trial.state == TrialState.FAIL
        self.evaluated += counts(trial)
        state = reporting.trial_state(trial)
        count = counted_trials(study) if self.budget == "study" else self.evaluated
        if self.bar is not None:
            self.bar.update(counts(trial))
            self.bar.set_postfix_str(f"{state} · best {best_text(study, self.objectives)}")
        elif self.mode == "line":
            if repeats is not None:  # said with the next evaluated trial (and the summary)
                self.skipped += 1
                return
            rate = self.done / max(time.perf_counter() - self.started, 1e-9)
            if trial.state == TrialState.COMPLETE:
                value = " ".join(f"{v:.4g}" for v in trial.values)
            else:
                value = trial.user_attrs.get(reporting.INFEASIBLE_ATTR) or trial.user_attrs.get(
                    reporting.ERROR_ATTR, ""
                )
            skipped = ""
            if self.skipped:
                skipped = f" ({self.skipped} proposed point(s) already evaluated, skipped)"
                self.skipped = 0
            log.info(
                "trial %d %s · %s %s · best %s · %d/%d%s · %.2f trials/s%s",
                trial.number,
                params_text(trial.params),
                state,
                value,
                best_text(study, self.objectives),
                count,
                self.total,
                "" if self.budget == "study" else " this run",
                rate,
                skipped,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def params_text(params: Mapping[str, Any]) -> str:
    """``n_clusters=5 covariance_type=full`` (the ``algo.`` prefix left out).

    >>> params_text({"algo.n_clusters": 5, "blocks.text.pca_components": 8, "algo.eps": 0.25})
    'n_clusters=5 text.pca_components=8 eps=0.25'
    """
    parts = []
    for path, value in params.items():
        name = path.removeprefix("algo.").removeprefix("blocks.")
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        parts.append(f"{name}={shown}")
    return " ".join(parts)


def best_text(study: Study, objectives: list[Objective]) -> str:
    """The best value so far, or the size of the Pareto front, for a progress line."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return "none yet"
    if len(objectives) == 1:
        best = study.best_trial
        return f"{objectives[0].metric} {best.values[0]:.4g} (trial {best.number})"
    return f"{len(study.best_trials)} Pareto-optimal trial(s)"
