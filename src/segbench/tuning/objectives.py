"""Objectives of a study, the feasibility of a trial, and the trade-off picked from a front.

Objectives are named metrics with a direction, ``"silhouette:max"`` or
``"davies_bouldin:min"``; any metric that :class:`segbench.evaluation.suite.Scorer` returns can
be one (the direction may be left out for metrics with one in
:mod:`segbench.evaluation.registry`). Names are checked against what ``score``
actually returned, never against a fixed list.

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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial

from segbench.errors import ConfigError
from segbench.evaluation.registry import lookup

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
        if direction:
            if direction.strip().lower() not in _ALIASES:
                raise ConfigError(
                    f"tune.objectives: direction {direction!r} of {name!r} must be max or min"
                )
            direction = _ALIASES[direction.strip().lower()]
        elif (known := lookup(name)) is not None and known.direction is not None:
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
