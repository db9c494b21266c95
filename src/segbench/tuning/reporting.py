"""Tables and plots of a study, logged on the job's run under ``tune/``.

=================================  ==========================================================
artifact                           content
=================================  ==========================================================
``tune/trials.csv``                one row per trial of the study (all workers): ``number``,
                                   ``state`` (COMPLETE, INFEASIBLE, FAIL, RUNNING), ``reason``,
                                   ``repeats``, ``params.<path>``, ``metrics.<name>`` (every
                                   metric the trial scored), ``start``, ``duration_seconds``,
                                   ``mlflow_run_id``
``tune/pareto_front.csv``          several objectives: the Pareto-optimal complete trials
                                   (same columns) and ``selected`` (the refit trial)
``tune/param_importances.csv``     ``objective, param, importance`` (Optuna's default
                                   evaluator, PED-ANOVA, toward each objective's better
                                   direction; normalised to sum 1 per objective)
``tune/optimization_history.png``  each objective per trial, best so far, infeasible and
                                   failed trials marked
``tune/param_importances.png``     the importances as bars
``tune/pareto_front.png``          several objectives: every pair of objectives, complete
                                   trials, the front and the selected trial
``tune/slice.png``                 each objective against each parameter, one dot per
                                   complete trial coloured by trial number (Optuna's slice
                                   plot); ``slice_<metric>.png`` per objective with several
``tune/contour.png``               the objective over each pair of parameters (Optuna's
                                   contour plot; two or more parameters);
                                   ``contour_<metric>.png`` per objective with several
=================================  ==========================================================

A trial that drew the parameters of an earlier finished trial took its result without being
fitted again: its ``repeats`` column names that trial (:meth:`TrialObjective.repeat
<segbench.tuning.trials.TrialObjective.repeat>`).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import optuna
import pandas as pd
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from segbench.tuning.objectives import Objective

log = logging.getLogger(__name__)

#: User attributes segbench sets on a trial.
METRICS_ATTR = "metrics"
INFEASIBLE_ATTR = "infeasible"
ERROR_ATTR = "error"
RUN_ATTR = "mlflow_run_id"
REPEATS_ATTR = "repeats_trial"


def trial_state(trial: FrozenTrial) -> str:
    """COMPLETE, INFEASIBLE (pruned with a reason), FAIL, RUNNING, WAITING or PRUNED."""
    if trial.state == TrialState.PRUNED and INFEASIBLE_ATTR in trial.user_attrs:
        return "INFEASIBLE"
    return trial.state.name


def trials_table(trials: Sequence[FrozenTrial]) -> pd.DataFrame:
    """One row per trial (see the module docstring for the columns)."""
    rows = []
    for t in sorted(trials, key=lambda t: t.number):
        row: dict[str, Any] = {
            "number": t.number,
            "state": trial_state(t),
            "reason": t.user_attrs.get(INFEASIBLE_ATTR) or t.user_attrs.get(ERROR_ATTR) or "",
            "repeats": t.user_attrs.get(REPEATS_ATTR, pd.NA),
        }
        row.update({f"params.{k}": v for k, v in t.params.items()})
        row.update({f"metrics.{k}": v for k, v in t.user_attrs.get(METRICS_ATTR, {}).items()})
        row["start"] = t.datetime_start.isoformat() if t.datetime_start else ""
        row["duration_seconds"] = t.duration.total_seconds() if t.duration else math.nan
        row["mlflow_run_id"] = t.user_attrs.get(RUN_ATTR, "")
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["number", "state", "reason"])
    frame["repeats"] = frame["repeats"].astype("Int64")
    lead = ["number", "state", "reason", "repeats"]
    params = sorted(c for c in frame.columns if c.startswith("params."))
    metrics = sorted(c for c in frame.columns if c.startswith("metrics."))
    rest = [c for c in frame.columns if c not in {*lead, *params, *metrics}]
    return frame[lead + params + metrics + rest]


def pareto_table(
    front: Sequence[FrozenTrial], selected: FrozenTrial, objectives: Sequence[Objective]
) -> pd.DataFrame:
    """The Pareto-optimal trials, with the objective values and the ``selected`` flag."""
    table = trials_table(front)
    for i, o in enumerate(objectives):
        table[f"objective.{o.label}"] = [t.values[i] for t in sorted(front, key=lambda t: t.number)]
    table["selected"] = table["number"] == selected.number
    return table


def param_importances(
    study: Study, objectives: Sequence[Objective]
) -> tuple[pd.DataFrame, str | None]:
    """Importances per objective (Optuna's default evaluator); ``(table, why-skipped)``."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return pd.DataFrame(columns=["objective", "param", "importance"]), (
            f"{len(complete)} complete trial(s); importances need at least 2"
        )
    rows = []
    try:
        for i, o in enumerate(objectives):
            # PED-ANOVA rates parameters by how they reach *low* target values: negate maxima
            sign = -1.0 if o.direction == "max" else 1.0
            target = None if len(objectives) == 1 else (lambda t, i=i, s=sign: s * t.values[i])
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*low `target` values")
                values = optuna.importance.get_param_importances(study, target=target)
            rows += [
                {"objective": o.label, "param": p, "importance": float(v)}
                for p, v in values.items()
            ]
    except (RuntimeError, ValueError) as err:  # e.g. no parameter varied
        return pd.DataFrame(columns=["objective", "param", "importance"]), str(err)
    return pd.DataFrame(rows, columns=["objective", "param", "importance"]), None


def history_figure(trials: Sequence[FrozenTrial], objectives: Sequence[Objective], title: str):
    """Each objective per trial number, the best so far, infeasible and failed trials marked."""
    n = len(objectives)
    fig, axes = plt.subplots(n, 1, figsize=(7, 2.8 * n + 0.6), squeeze=False, sharex=True)
    ordered = sorted(trials, key=lambda t: t.number)
    complete = [t for t in ordered if t.state == TrialState.COMPLETE]
    for i, (ax, o) in enumerate(zip(axes[:, 0], objectives, strict=True)):
        x = np.array([t.number for t in complete])
        y = np.array([t.values[i] for t in complete], dtype=float)
        ax.scatter(x, y, s=14, color="steelblue", label="complete trial", zorder=3)
        if len(y):
            best = np.maximum.accumulate(y) if o.direction == "max" else np.minimum.accumulate(y)
            if n == 1:
                ax.step(x, best, where="post", color="darkorange", label="best so far")
        for state, marker, color in (("INFEASIBLE", "x", "crimson"), ("FAIL", "X", "black")):
            xs = [t.number for t in ordered if trial_state(t) == state]
            if xs:
                ax.scatter(
                    xs,
                    np.zeros(len(xs)),
                    transform=ax.get_xaxis_transform(),
                    marker=marker,
                    color=color,
                    s=22,
                    clip_on=False,
                    label=f"{state.lower()} ({len(xs)})",
                )
        ax.set_ylabel(o.label)
        ax.legend(fontsize=7, loc="best")
    axes[-1, 0].set_xlabel("trial")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def importance_figure(table: pd.DataFrame, title: str):
    """Horizontal bars: importance of each parameter, one group per objective."""
    objectives = list(dict.fromkeys(table["objective"]))
    params = list(dict.fromkeys(table["param"]))
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(params) * len(objectives) + 1.5))
    height = 0.8 / max(1, len(objectives))
    for j, o in enumerate(objectives):
        part = table[table["objective"] == o].set_index("param")["importance"]
        values = [float(part.get(p, 0.0)) for p in params]
        ax.barh(np.arange(len(params)) + j * height, values, height=height, label=o)
    ax.set_yticks(np.arange(len(params)) + height * (len(objectives) - 1) / 2, params)
    ax.invert_yaxis()
    ax.set_xlabel("importance (share)")
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def pareto_figure(
    trials: Sequence[FrozenTrial],
    front: Sequence[FrozenTrial],
    selected: FrozenTrial,
    objectives: Sequence[Objective],
    title: str,
):
    """Every pair of objectives: complete trials, the Pareto front, the selected trial."""
    pairs = [(a, b) for a in range(len(objectives)) for b in range(a + 1, len(objectives))]
    fig, axes = plt.subplots(1, len(pairs), figsize=(5.5 * len(pairs), 4.5), squeeze=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    numbers = {t.number for t in front}
    for ax, (a, b) in zip(axes[0], pairs, strict=True):
        rest = [t for t in complete if t.number not in numbers]
        ax.scatter(
            [t.values[a] for t in rest],
            [t.values[b] for t in rest],
            s=12,
            color="lightgrey",
            label="dominated",
        )
        on = sorted(front, key=lambda t: t.values[a])
        ax.plot(
            [t.values[a] for t in on],
            [t.values[b] for t in on],
            "o-",
            color="steelblue",
            ms=5,
            label="Pareto front",
        )
        ax.scatter(
            [selected.values[a]],
            [selected.values[b]],
            marker="*",
            s=220,
            color="darkorange",
            zorder=4,
            label=f"selected (trial {selected.number})",
        )
        ax.set_xlabel(objectives[a].label)
        ax.set_ylabel(objectives[b].label)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def optuna_figures(
    study: Study, objectives: Sequence[Objective], kind: str, title: str
) -> list[tuple[str, Any]]:
    """Optuna's slice (``kind="slice"``) or contour (``kind="contour"``) plot of each
    objective, as ``(artifact path, figure)``; none when the study has fewer than two
    parameters (contour) or no complete trial."""
    from optuna.exceptions import ExperimentalWarning
    from optuna.visualization import matplotlib as optuna_plots

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    names = sorted({p for t in complete for p in t.params})
    if not complete or (kind == "contour" and len(names) < 2):
        return []
    plot = optuna_plots.plot_slice if kind == "slice" else optuna_plots.plot_contour
    figures = []
    for i, objective in enumerate(objectives):
        target = None if len(objectives) == 1 else (lambda t, i=i: t.values[i])
        path = f"tune/{kind}.png" if len(objectives) == 1 else f"tune/{kind}_{objective.metric}.png"
        # Optuna's matplotlib plots are experimental and switch the style to ggplot: both
        # stay inside this block
        with warnings.catch_warnings(), matplotlib.rc_context():
            warnings.simplefilter("ignore", ExperimentalWarning)
            axes = plot(study, params=names, target=target, target_name=objective.label)
            fig = np.asarray(axes).flat[0].figure
            n = len(names) if kind == "slice" else max(1, len(names))
            width = 3.6 * n + 1.6 if kind == "slice" else 3.2 * n + 1.6
            fig.set_size_inches(width, 4.4 if kind == "slice" else 3.0 * n + 0.8)
            for ax in np.asarray(axes).flat:  # categorical values as slanted labels
                labels = [t.get_text() for t in ax.get_xticklabels()]
                if any(text and not _numeric(text) for text in labels):
                    ax.tick_params(axis="x", labelrotation=25)
            lift = 0.08  # room below for the slanted labels: every axes up (colour bar too)
            for ax in fig.axes:
                box = ax.get_position()
                ax.set_position([box.x0, box.y0 + lift, box.width, box.height - lift])
            fig.suptitle(title, fontsize=10)
        figures.append((path, fig))
    return figures


def _numeric(text: str) -> bool:
    try:
        float(text.replace("\u2212", "-"))
    except ValueError:
        return False
    return True
