"""Objectives of a study, the feasibility of a trial, and the trade-off picked from a front.

Objectives are named metrics with a direction, ``"silhouette:max"`` or
``"davies_bouldin:min"``; any metric that :class:`segbench.evaluation.suite.Scorer` returns for
a trial can be one (the direction may be left out for metrics with one in
:mod:`segbench.evaluation.registry`). Names are checked three times, each as early as it can
be: against the registry at composition (:func:`check_trial_metric`: an unknown name gets the
closest known ones, a run-level metric such as ``stability`` is refused); against the data and
the settings before the study (:func:`check_data`: ground truth, audited sensitive attributes,
the estimator's own scores); and against what the untuned config actually scored
(:func:`check_available`), so no trial ever runs for an objective that cannot be computed.

A trial is *infeasible* (see :func:`infeasibility`) when it finds fewer than ``min_segments``
segments, labels more than ``max_noise_fraction`` of the customers as noise, or leaves an
objective uncomputed; it is then pruned with the reason, not scored as a bad number.

With several objectives the refit takes one Pareto-optimal trial (:func:`select_trial`).
Each objective is first normalised over the front to ``[0, 1]`` with 1 at its best end:
``u_i = (v_i − worst_i) / (best_i − worst_i)`` (``u_i = 1`` when the front is flat in ``i``).

- ``knee``: the trial closest to the ideal point ``(1, …, 1)``, i.e. the smallest
  ``sqrt(Σ_i (1 − u_i)²)`` — the compromise solution of compromise programming
  (Zeleny, *Compromise programming*, 1973), the usual operational definition of the front's
  knee when no preference is given;
- ``first``: the best trial on the first objective (ties broken by the next objectives);
- ``weighted``: the largest ``Σ_i w_i·u_i`` with ``w = tune.weights`` (default equal weights).

Ties are broken by the lowest trial number, so the choice is deterministic.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial

from segbench.data.model import CustomerData
from segbench.errors import ConfigError
from segbench.evaluation.registry import METRICS, MetricDef, lookup
from segbench.settings import EvaluationSettings, FairnessSettings

SELECTIONS = ("knee", "first", "weighted")
_ALIASES = {"max": "max", "maximize": "max", "min": "min", "minimize": "min"}


@dataclass(frozen=True)
class Objective:
    """A metric to optimise and its direction (``"max"`` or ``"min"``)."""

    metric: str
    direction: str

    @property
    def optuna_direction(self) -> str:
        return "maximize" if self.direction == "max" else "minimize"

    @property
    def label(self) -> str:
        return f"{self.metric}:{self.direction}"

    def better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "max" else a < b


def parse_objectives(spec: str | Sequence[str]) -> list[Objective]:
    """``["silhouette:max", "davies_bouldin"]`` → objectives (default directions from the
    registry, :mod:`segbench.evaluation.registry`).

    >>> [o.label for o in parse_objectives("silhouette:max,davies_bouldin")]
    ['silhouette:max', 'davies_bouldin:min']
    """
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    objectives = []
    for item in items:
        text = str(item).strip()
        name, _, direction = text.rpartition(":") if ":" in text else (text, "", "")
        name = name.strip()
        if not name:
            raise ConfigError(f"tune.objectives: {text!r} names no metric; use e.g. silhouette:max")
        known = check_trial_metric(name)
        if direction:
            if direction.strip().lower() not in _ALIASES:
                raise ConfigError(
                    f"tune.objectives: direction {direction!r} of {name!r} must be max or min"
                )
            direction = _ALIASES[direction.strip().lower()]
        elif known.direction is not None:
            direction = known.direction
        else:
            raise ConfigError(
                f"tune.objectives: give a direction for {name!r} ({name}:max or {name}:min); "
                "it has no known default"
            )
        objectives.append(Objective(name, direction))
    if not objectives:
        raise ConfigError("tune.objectives is empty; e.g. tune.objectives=[silhouette:max]")
    names = [o.metric for o in objectives]
    if len(set(names)) != len(names):
        raise ConfigError(f"tune.objectives names a metric twice: {names}")
    return objectives


#: What a trial scores (:class:`segbench.evaluation.suite.Scorer`): these families of the
#: registry, the per-attribute fairness metrics and a few context and cost metrics. Everything
#: else in the registry (stability, analyses, the responsibility report) is computed once per
#: run, after the refit, and cannot steer a study.
TRIAL_FAMILIES = ("internal", "external", "model")
TRIAL_NAMES = ("n_segments", "noise_fraction", "fit_seconds", "silhouette_sample_size")
EXAMPLES = (
    "silhouette, davies_bouldin, calinski_harabasz, ari, ami, nmi, bic, aic, inertia, "
    "noise_fraction, fit_seconds, fairness.<attribute>.balance (or .dp_difference, "
    ".distribution_distance, .silhouette_gap)"
)


def check_trial_metric(name: str) -> MetricDef:
    """The registry's entry of ``name`` if a trial scores it; else one clear
    :class:`ConfigError` (unknown name, with the closest known names, or a run-level metric).

    >>> check_trial_metric("silhouette").direction
    'max'
    >>> check_trial_metric("silhuette")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    segbench.errors.ConfigError: tune.objectives: 'silhuette' is not a metric segbench \
scores. Did you mean silhouette or silhouette_all? A trial scores: ...
    """
    known = lookup(name)
    if known is None:
        names = [m.name for m in METRICS if not m.is_pattern]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        hint = f"Did you mean {' or '.join(close)}? " if close else ""
        raise ConfigError(
            f"tune.objectives: {name!r} is not a metric segbench scores. {hint}"
            f"A trial scores: {EXAMPLES}."
        )
    trial = (
        known.family in TRIAL_FAMILIES
        or known.name in TRIAL_NAMES
        or known.name.startswith("fairness.")
    )
    if not trial:
        raise ConfigError(
            f"tune.objectives: {name!r} is a {known.family} metric, computed once for the run "
            f"after the refit, not for each trial; an objective must be one a trial scores: "
            f"{EXAMPLES}."
        )
    return known


def check_data(
    objectives: Sequence[Objective],
    data: CustomerData,
    evaluation: EvaluationSettings,
    fairness: FairnessSettings,
    estimator: Any = None,
) -> None:
    """Fail before any trial if an objective cannot be scored on ``data`` with these settings:
    external indices need ground-truth labels (and ``evaluation.external``), a fairness metric
    an audited sensitive attribute of the dataset, ``bic``/``aic`` an estimator that has them.
    """
    from segbench.fairness.scoring import resolve_attributes

    for objective in objectives:
        name = objective.metric
        known = lookup(name)
        family = known.family if known is not None else ""
        if family == "external":
            if data.labels is None:
                raise ConfigError(
                    f"tune.objectives: {name} compares segments with ground-truth labels, and "
                    f"dataset '{data.name}' has none; use an internal index (e.g. silhouette)"
                )
            if not evaluation.external:
                raise ConfigError(
                    f"tune.objectives: {name} is not scored with evaluation.external=false"
                )
        elif name.startswith("fairness."):
            attribute = name.split(".")[1]
            audited = resolve_attributes(fairness.attributes, data)
            if attribute not in audited:
                raise ConfigError(
                    f"tune.objectives: {name} needs the sensitive attribute {attribute!r}, "
                    f"which this run does not audit on dataset '{data.name}'; audited "
                    f"attributes: {', '.join(audited) or 'none'} (fairness.attributes)"
                )
            if name.endswith(".silhouette_gap") and not fairness.silhouette_gap:
                raise ConfigError(
                    f"tune.objectives: {name} is not scored with fairness.silhouette_gap=false"
                )
        elif name in ("bic", "aic") and estimator is not None and not hasattr(estimator, name):
            raise ConfigError(
                f"tune.objectives: {name} is a model score that {type(estimator).__name__} "
                "does not have (GaussianMixture has it); use an internal index"
            )


def check_available(objectives: Sequence[Objective], metrics: Mapping[str, float]) -> None:
    """Fail with the list of available metrics if an objective is not among ``metrics``."""
    missing = [o.metric for o in objectives if o.metric not in metrics]
    if missing:
        raise ConfigError(
            f"tune.objectives: {missing} not among the metrics this run scores; available: "
            f"{', '.join(sorted(metrics))}"
        )


def infeasibility(
    metrics: Mapping[str, float],
    notes: Mapping[str, str],
    objectives: Sequence[Objective],
    min_segments: int = 2,
    max_noise_fraction: float = 1.0,
) -> str | None:
    """Why a scored segmentation cannot be a solution, or ``None`` when it is feasible."""
    n = int(metrics.get("n_segments", 0))
    if n < min_segments:
        return f"found {n} segment(s); at least {min_segments} required (tune.min_segments)"
    noise = float(metrics.get("noise_fraction", 0.0))
    if noise > max_noise_fraction:
        return f"noise fraction {noise:.3f} above tune.max_noise_fraction={max_noise_fraction}"
    for objective in objectives:
        value = metrics.get(objective.metric)
        if value is None or not math.isfinite(value):
            why = "; ".join(notes.values())
            return f"{objective.metric} not computed" + (f" ({why})" if why else "")
    return None


def normalised(values: np.ndarray, objectives: Sequence[Objective]) -> np.ndarray:
    """Each column of ``values`` (trials × objectives) mapped to [0, 1], 1 = best."""
    values = np.asarray(values, dtype=float)
    out = np.ones_like(values)
    for i, objective in enumerate(objectives):
        col = values[:, i]
        best = col.max() if objective.direction == "max" else col.min()
        worst = col.min() if objective.direction == "max" else col.max()
        if best != worst:
            out[:, i] = (col - worst) / (best - worst)
    return out


def select_trial(
    front: Sequence[FrozenTrial],
    objectives: Sequence[Objective],
    method: str = "knee",
    weights: Sequence[float] | None = None,
) -> FrozenTrial:
    """The Pareto-optimal trial to refit (see the module docstring for the rules)."""
    if method not in SELECTIONS:
        raise ConfigError(f"tune.select={method!r}; expected one of {list(SELECTIONS)}")
    if not front:
        raise ValueError("no trial to select from")
    trials = sorted(front, key=lambda t: t.number)
    values = np.array([t.values for t in trials], dtype=float)
    if len(trials) == 1:
        return trials[0]
    u = normalised(values, objectives)
    if method == "first":
        keys = [tuple(-u[j, i] for i in range(len(objectives))) for j in range(len(trials))]
        return trials[min(range(len(trials)), key=lambda j: keys[j])]
    if method == "knee":
        score = -np.sqrt(((1.0 - u) ** 2).sum(axis=1))
    else:
        w = check_weights(weights, objectives)
        score = u @ w
    return trials[int(np.argmax(score))]  # first maximum = lowest trial number


def check_weights(weights: Sequence[float] | None, objectives: Sequence[Objective]) -> np.ndarray:
    """``tune.weights`` as an array (equal weights when ``None``), validated."""
    if weights is None:
        return np.ones(len(objectives)) / len(objectives)
    w = np.asarray(list(weights), dtype=float)
    if w.shape != (len(objectives),) or (w < 0).any() or w.sum() == 0:
        raise ConfigError(
            f"tune.weights={list(weights)}: expected {len(objectives)} non-negative weights "
            f"(one per objective: {[o.metric for o in objectives]}), not all zero"
        )
    return w / w.sum()


def objective_values(metrics: Mapping[str, Any], objectives: Sequence[Objective]) -> list[float]:
    return [float(metrics[o.metric]) for o in objectives]
