"""A protocol study's conditions, each ranked on its own, and what the protocol was.

A run of a protocol study carries ``protocol.condition`` (:mod:`segbench.settings.protocol`):
``defaults`` (configured hyperparameters), ``select`` (the tuning run of a cell × algorithm
at the selection seed) or ``tuned`` (the selected configuration at an evaluation seed). Two
conditions are never ranked in one table: :func:`split` gives each its runs, and
``python -m segbench.leaderboard`` writes one board per condition into ``<out>/<condition>/``
and an index ``<out>/leaderboard.md`` (:func:`index_markdown`) with the protocol, each
condition's headline and test across cells, and the configurations the selection chose
(:func:`selection_table`, also ``<out>/selection.csv``).

The protocol is read from the runs' params, not from a config file: the seeds, the budget
(``tune.n_trials``), the criterion (``tune.objectives``), the sampler, the feasibility rules
and each algorithm's search space (:func:`describe`). :func:`extra_trials` lists evaluation
runs that ran trials of their own (the selection's study was missing or incomplete), which
would break the protocol.

>>> import pandas as pd
>>> runs = pd.DataFrame({"params.protocol.condition": ["tuned", "defaults", "select", None]})
>>> {k: len(v) for k, v in split(runs)[0].items()}, len(split(runs)[1])
({'tuned': 1, 'defaults': 1}, 1)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from segbench.settings.protocol import CONDITIONS
from segbench.settings.tune import TuneSettings

COLUMN = "params.protocol.condition"
SELECT = "select"
#: What each condition is, in a sentence.
MEANING = {
    "defaults": "each algorithm with the hyperparameters of its `conf/algo` file, no tuning",
    "tuned": (
        "the configuration the selection study chose for the cell × algorithm, refit at each "
        "evaluation seed (the run reopens the stored study and adds no trial)"
    ),
}
_SPACE = re.compile(r"^params\.algo\.search_space\.([^.]+)\.(type|low|high|choices|log|step)$")
_TUNED = re.compile(r"^params\.(?:algo\.search_space\.([^.]+)|tune\.search_space\.(.+))\.type$")


def conditions(runs: pd.DataFrame) -> list[str]:
    """The protocol conditions among ``runs`` (``select`` excluded), in display order."""
    if COLUMN not in runs:
        return []
    present = {str(v) for v in runs[COLUMN].dropna().unique()} - {SELECT, "none"}
    return [c for c in CONDITIONS if c in present] + sorted(present - set(CONDITIONS))


def split(runs: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """``({condition: its runs}, the selection runs)``; ``({}, empty)`` outside a protocol."""
    if COLUMN not in runs:
        return {}, runs.iloc[0:0]
    value = runs[COLUMN].astype("string")
    groups = {c: runs[(value == c).fillna(False).to_numpy()] for c in conditions(runs)}
    return groups, runs[(value == SELECT).fillna(False).to_numpy()]


def _values(runs: pd.DataFrame, column: str) -> list[str]:
    if column not in runs:
        return []
    return sorted({str(v) for v in runs[column].dropna().unique()}, key=_natural)


def _natural(text: str) -> tuple:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def _seeds(runs: pd.DataFrame) -> str:
    seeds = _values(runs, "params.seed")
    if not seeds:
        return "unknown"
    numbers = [int(float(s)) for s in seeds]
    if len(numbers) > 2 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"{numbers[0]}–{numbers[-1]} ({len(numbers)} seeds)"
    return ", ".join(seeds) + f" ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})"


def _one(runs: pd.DataFrame, column: str, default: object = None) -> str:
    values = _values(runs, column)
    if not values:
        values = ["unknown" if default is None else str(default)]
    return " / ".join(re.sub(r"[\[\]']", "", v) for v in values)


def search_spaces(runs: pd.DataFrame) -> dict[str, str]:
    """Per algorithm, its search space as the runs logged it (``n_clusters int [2, 12]``)."""
    out: dict[str, str] = {}
    algo = runs.get("params.algo.name", pd.Series("?", index=runs.index)).fillna("?")
    for name, group in runs.groupby(algo, sort=True):
        spec: dict[str, dict[str, str]] = {}
        for column in group.columns:
            found = _SPACE.match(column)
            if found and group[column].notna().any():
                spec.setdefault(found[1], {})[found[2]] = str(group[column].dropna().iloc[0])
        parts = []
        for param, s in spec.items():
            if s.get("type") == "categorical":
                parts.append(f"{param} ∈ {s.get('choices', '?')}")
            else:
                log = " log" if s.get("log", "False") == "True" else ""
                parts.append(f"{param} {s.get('type', '?')}{log} [{s.get('low')}, {s.get('high')}]")
        if parts:
            out[str(name)] = "; ".join(parts)
    return out


def extra_trials(runs: pd.DataFrame) -> pd.DataFrame:
    """Evaluation (``tuned``) runs that ran trials themselves (``tune.n_trials_run`` > 0)."""
    column = "metrics.tune.n_trials_run"
    if column not in runs:
        return runs.iloc[0:0]
    return runs[(runs[column].astype(float) > 0).to_numpy()]


def describe(condition: str, runs: pd.DataFrame, select: pd.DataFrame) -> list[str]:
    """Markdown lines: the protocol of ``condition`` as its runs (and the selection's) say."""
    lines = [
        f"- protocol condition **{condition}**: {MEANING.get(condition, condition)}; evaluation "
        f"seeds {_seeds(runs)}; the other condition(s) of the study are ranked on their own"
    ]
    if condition != "tuned":
        return lines
    source = select if len(select) else runs
    defaults = TuneSettings()
    budget = _one(source, "params.tune.n_trials", defaults.n_trials)
    lines.append(
        f"- selection: an Optuna study per cell × algorithm at seed(s) {_seeds(select)}, the same "
        f"budget for every algorithm: **{budget} trials** (`tune.n_trials`; a finite search "
        "space stops once every point is evaluated); sampler "
        f"`{_one(source, 'params.tune.sampler', defaults.sampler)}` seeded "
        f"(options `{_one(source, 'params.tune.sampler_options.n_startup_trials', 'default')}` "
        "random start-up trials; the configured hyperparameters queued as a trial where they "
        "lie in the space: "
        f"`{_one(source, 'params.tune.start_at_configured', 'False')}`); criterion "
        f"`{_one(source, 'params.tune.objectives', defaults.objectives)}` for every algorithm (an "
        "internal index, never ARI); a trial with fewer than "
        f"{_one(source, 'params.tune.min_segments', defaults.min_segments)} segments or more "
        f"than {_one(source, 'params.tune.max_noise_fraction', defaults.max_noise_fraction)} "
        "of the customers noise is infeasible"
    )
    spaces = search_spaces(source)
    if spaces:
        lines.append(
            "- search spaces (`conf/algo/*.yaml`): "
            + "; ".join(f"{a}: {s}" for a, s in spaces.items())
        )
    finished = (select.get("status", pd.Series(dtype=object)) == "FINISHED").sum()
    lines.append(f"- selection runs: {len(select)} ({int(finished)} finished)")
    extra = extra_trials(runs)
    if len(extra):
        lines.append(
            f"- **{len(extra)} evaluation run(s) ran trials of their own** (the selection's "
            "study was missing or incomplete): "
            + ", ".join(f"`{r}`" for r in extra["run_id"].head(5))
        )
    elif "metrics.tune.n_trials_run" in runs:
        lines.append("- every evaluation run reopened its study and ran no trial of its own")
    return lines


def tuned_paths(runs: pd.DataFrame) -> list[str]:
    """The config paths the runs' studies varied (``algo.n_clusters``)."""
    paths = []
    for column in runs.columns:
        found = _TUNED.match(str(column))
        if found and runs[column].notna().any():
            paths.append(f"algo.{found[1]}" if found[1] else str(found[2]))
    return paths


def selection_table(select: pd.DataFrame) -> pd.DataFrame:
    """One row per selection run: the cell, the algorithm, the configuration chosen, the
    criterion's value for it and for the configured defaults, the trials, the run."""
    columns = ["dataset", "features", "algorithm", "selected", "criterion", "trials", "run"]
    if select.empty:
        return pd.DataFrame(columns=columns)
    paths = tuned_paths(select)
    rows = []
    for _, run in select.iterrows():
        objective = str(run.get("params.tune.objectives", "") or "")
        metric = re.sub(r"[\[\]'\s]", "", objective).split(",")[0].split(":")[0]
        chosen = [
            f"{p.removeprefix('algo.')}={_value(run.get('params.' + p))}"
            for p in paths
            if pd.notna(run.get(f"params.{p}")) and pd.notna(run.get(f"params.baseline.{p}"))
        ]
        best = run.get(f"metrics.{metric}", np.nan)
        base = run.get(f"metrics.baseline.{metric}", np.nan)
        trials = run.get("metrics.tune.n_complete", np.nan)
        infeasible = run.get("metrics.tune.n_infeasible", np.nan)
        rows.append(
            {
                "dataset": run.get("params.dataset.name"),
                "features": run.get("params.features"),
                "algorithm": run.get("params.algo.name"),
                "selected": ", ".join(chosen) or "—",
                "criterion": (
                    f"{metric} {_num(best)} (defaults {_num(base)})"
                    if run.get("status") == "FINISHED"
                    else f"{run.get('status')}: {str(run.get('error') or '')[:160]}"
                ),
                "trials": (
                    f"{_int(trials)} complete, {_int(infeasible)} infeasible"
                    if pd.notna(trials)
                    else "—"
                ),
                "run": run.get("run_id"),
            }
        )
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["dataset", "features", "algorithm"], kind="stable").reset_index(
        drop=True
    )


def _value(text: object) -> str:
    """A param as logged, a float to 4 significant digits (``eps=1.812``)."""
    value = str(text)
    if "." in value:
        try:
            return f"{float(value):.4g}"
        except ValueError:
            pass
    return value


def _num(value: object) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    return "—" if np.isnan(number) else f"{number:.3f}"


def _int(value: object) -> str:
    try:
        return str(int(float(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"


def index_markdown(
    title: str,
    boards: Iterable[tuple[str, list[str], str, list[str]]],
    selection: pd.DataFrame,
    source: str = "",
) -> str:
    """The study's index page: the protocol, then per condition (name, headline lines, the
    test across cells in full — empty when there was none —, protocol lines) and a link to
    its board, then the selection table."""
    parts = [f"# {title}", ""]
    if source:
        parts += [source, ""]
    parts += [
        "A protocol study: each condition is ranked on its own board (never two conditions in "
        "one table); the headline of each and its test across cells (Friedman, Nemenyi; "
        "Demšar 2006) follow, the full tables, charts and critical-difference diagram are in "
        "the condition's folder.",
        "",
    ]
    for condition, headline, comparison, protocol in boards:
        diagram = (
            f" · critical-difference diagram [{condition}/cd_diagram.png]"
            f"({condition}/cd_diagram.png)"
            if comparison
            else ""
        )
        parts += [
            f"## Condition `{condition}`",
            "",
            f"Board: [{condition}/leaderboard.md]({condition}/leaderboard.md) · "
            f"[{condition}/leaderboard.html]({condition}/leaderboard.html){diagram}",
            "",
            "Protocol:",
            "",
            *protocol,
            "",
            "Headline:",
            "",
            *headline,
            "",
            comparison,
            "",
        ]
    parts += [
        "## Configurations chosen by the selection",
        "",
        "The `tuned` condition evaluates these. `criterion`: the selection criterion of the "
        "chosen trial, refit at the selection seed, beside the configured defaults' value.",
        "",
        selection.to_markdown(index=False) if len(selection) else "_none_",
        "",
    ]
    return "\n".join(parts)


__all__ = [
    "COLUMN",
    "MEANING",
    "SELECT",
    "conditions",
    "describe",
    "extra_trials",
    "index_markdown",
    "search_spaces",
    "selection_table",
    "split",
    "tuned_paths",
]
