"""Hyperparameter tuning with Optuna inside one run (``tune=optuna``).

``python -m segbench algo=hdbscan tune=optuna tune.n_trials=50`` runs a study over the
algorithm's ``search_space`` (plus ``tune.search_space`` for feature values); each trial is a
nested MLflow run; the selected trial is refit and logged as the run's result. Hydra multirun
stays the grid of experiment factors; Optuna tunes inside each job. Options:
:class:`segbench.settings.TuneSettings`.

Modules: :mod:`~segbench.tuning.spec` (what a study is about), :mod:`~segbench.tuning.space`
(search spaces), :mod:`~segbench.tuning.objectives` (objectives, feasibility, the
multi-objective trade-off), :mod:`~segbench.tuning.study` (storage, study name, samplers,
budget), :mod:`~segbench.tuning.features` (features per trial), :mod:`~segbench.tuning.trials`
(one trial, progress), :mod:`~segbench.tuning.trial_runs` (MLflow child runs),
:mod:`~segbench.tuning.reporting` (tables, plots), :mod:`~segbench.tuning.tuner` (the steps:
prepare, open the study, optimise, refit, summarise).

What the job's run gets (names are stable; the leaderboard may read them)
-------------------------------------------------------------------------

=============================  ==============================================================
name                           meaning
=============================  ==============================================================
metrics: regular names         the refit of the selected trial (``silhouette``, ``ari``, …)
``best.<metric>``              the selected trial's metrics as the trial scored them: a trial
                               computes its objectives and what its feasibility needs
                               (``n_segments``, ``noise_fraction``, ``fit_seconds``), nothing
                               else (the refit, under the regular names, computes every one)
``baseline.<metric>``          the untuned config's metrics (``tune.baseline=true``)
``tune.n_trials``              evaluations in the study (all workers): complete and
                               infeasible trials that did not repeat an evaluated point
``tune.n_complete``            evaluations with objective values
``tune.n_infeasible``          evaluations pruned as infeasible (reason in the trial's
                               ``segbench.infeasible`` tag and the trials table)
``tune.n_repeats``             trials that drew an evaluated point and took its result
``tune.n_failed``              trials whose fit or scoring raised, or whose worker was lost
``tune.n_running``             trials other workers were still running at the end
``tune.n_trials_run``          trials this run executed (repeats included)
``tune.best_trial``            number of the selected trial
``tune.n_pareto``              several objectives: size of the Pareto front
``tune.seconds``               wall time of this run's trials
``tune.trials_per_second``     ``tune.n_trials_run / tune.seconds``
``tune.trial_logging_seconds`` wall time spent logging the trials' MLflow runs
``tune.feature_builds``        feature matrices rebuilt (space covering feature values)
params: ``<path>``             the selected trial's values (``algo.n_clusters``), logged by
                               the experiment after the study; the configured values are
                               ``baseline.<path>``, and the search space and the main tuning
                               options are params too (:mod:`segbench.tracking.params`)
tags: ``segbench.tune.*``      ``study_name``, ``storage`` (password hidden), ``sampler``,
                               ``objectives``, ``space``, ``select``, ``best_number``,
                               ``best_run_id`` (no tag key of the job's run contains
                               "trial": the leaderboard treats such runs as trials)
artifacts: ``tune/``           see :mod:`segbench.tuning.reporting`
=============================  ==============================================================

Each trial's child run: see :mod:`segbench.tuning.trial_runs`. Each trial of the Optuna study
carries user attributes ``metrics`` (all scored metrics), ``mlflow_run_id``, and
``infeasible`` or ``error`` with the reason; a repeat carries ``repeats_trial`` (the number of
the trial whose result it took) and no run. Budget, repeats, heartbeat and the study name:
:mod:`segbench.tuning.study`.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from segbench.tuning.features import FeatureSpec
    from segbench.tuning.objectives import Objective, parse_objectives, select_trial
    from segbench.tuning.space import Param, SearchSpace
    from segbench.tuning.spec import StudySpec
    from segbench.tuning.tuner import Tuned, tune_segmentation

#: Where each public name lives: imported on first use, so a run that does not tune never
#: imports Optuna (``segbench.tuning.features`` and ``.spec`` are light).
_HOMES = {
    "FeatureSpec": "features",
    "Objective": "objectives",
    "parse_objectives": "objectives",
    "select_trial": "objectives",
    "Param": "space",
    "SearchSpace": "space",
    "StudySpec": "spec",
    "Tuned": "tuner",
    "tune_segmentation": "tuner",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"segbench.tuning.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'segbench.tuning' has no attribute {name!r}")


__all__ = [
    "FeatureSpec",
    "Objective",
    "Param",
    "SearchSpace",
    "StudySpec",
    "Tuned",
    "parse_objectives",
    "select_trial",
    "tune_segmentation",
]
