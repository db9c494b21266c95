"""What a run shows in the MLflow runs table: its params (the settings in effect) and its name.

Params
    The settings that are *in effect* and *define* the result
    (:func:`segbench.settings.identity.defining`), so the runs table offers columns worth
    comparing; the whole resolved config stays the artifact ``config.yaml``.

    - always: ``seed``, ``features``, ``study`` (when set), the dataset's and the algorithm's
      options, the options of the blocks in the feature expression, the preprocessing;
    - ``analyses``: the analyses switched on (``assign,k_selection,personalisation``);
    - when tuning: the tuning space (``algo.search_space.*``, ``tune.search_space.*``) and
      ``tune.name``, ``tune.sampler``, ``tune.n_trials``, ``tune.objectives``;
    - every other defining setting whose value differs from its default (the schema's,
      :mod:`segbench.settings`), such as ``evaluation.stability.n_resamples=20``.

    Left out: what does not define the result (``tracking.*``, thread counts, progress bars),
    the options of switched-off sections and unused blocks, ``_target_`` class paths and
    descriptions (the names say which component), and unset (null) options. Two runs of one
    segbench version that differ in a defining setting therefore differ in their params, which
    is what the leaderboard needs to tell reruns apart (:mod:`segbench.leaderboard.store`).

    A tuned run holds the values of its refit at the tuned paths (``algo.n_clusters=5``) and the
    configured, untuned ones under ``baseline.<path>`` (``baseline.algo.n_clusters=6``);
    :func:`segbench.settings.identity.configured` maps them back.

Run name
    ``<algorithm> · <features> · <dataset>``, then what the command changed from the defaults
    (its overrides that define the result, values as resolved: ``n_clusters=5 · seed=3``),
    then ``tuned ×<trials>`` for a tuned run. A name already taken in the experiment gets
    ``#2``, ``#3``… (:func:`unique_name`), so every run of the table is told apart.

>>> from segbench.settings import RunSettings
>>> s = RunSettings.model_validate({
...     "dataset": {"_target_": "m.Toy", "name": "toy", "n_customers": 300},
...     "algo": {"_target_": "sklearn.cluster.KMeans", "name": "kmeans", "n_clusters": 5},
...     "blocks": {"rfm": {"_target_": "m.RFM", "weight": 1.0}, "text": {"_target_": "m.T"}},
...     "features": "rfm", "seed": 3, "evaluation": {"stability": {"n_resamples": 20}}})
>>> sorted(run_params(s))  # doctest: +NORMALIZE_WHITESPACE
['algo.n_clusters', 'algo.name', 'analyses', 'blocks.rfm.weight', 'dataset.n_customers',
 'dataset.name', 'evaluation.stability.n_resamples', 'features', 'preprocess.block_weighting',
 'preprocess.name', 'preprocess.scaler', 'seed']
>>> run_name(s, ["algo=kmeans", "algo.n_clusters=5", "tracking.uri=x.db", "seed=3"])
'kmeans · rfm · toy · n_clusters=5 · seed=3'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from segbench.settings import RunSettings, schema_defaults
from segbench.settings.identity import defining

#: Always shown when in effect (components and what builds the features).
CORE = ("seed", "features", "study", "dataset.", "algo.", "blocks.", "preprocess.")
#: Shown for a tuned run whatever their value.
TUNE_CORE = (
    "tune.name",
    "tune.sampler",
    "tune.n_trials",
    "tune.objectives",
    "tune.start_at_configured",
)
#: Never params (the name of the component says it; the config.yaml artifact has them).
HIDDEN = re.compile(r"^(?:dataset|algo|blocks\.[^.]+)\.(?:_target_|description)$")
#: Config groups whose choice the name already says (or that do not define the result).
NAMED_GROUPS = {"algo", "dataset", "tune", "cell", "tracking", "hydra"}
BASELINE = "baseline."
MAX_NAME = 200


def flat_settings(settings: RunSettings) -> dict[str, str]:
    """The resolved settings flattened with dots, values as strings (``algo.n_clusters``)."""
    from segbench.tracking.mlflow_run import flatten

    return flatten(settings.dump())


def _defaults() -> dict[str, str]:
    from segbench.tracking.mlflow_run import flatten

    return flatten(schema_defaults())


def analyses_on(flat: Mapping[str, str]) -> str:
    """The analyses switched on, ``assign,personalisation`` (``none`` when none)."""
    names = sorted(
        key.split(".")[1]
        for key, value in flat.items()
        if re.fullmatch(r"analysis\.[^.]+\.enabled", key) and value == "True"
    )
    return ",".join(names) or "none"


def run_params(settings: RunSettings, tuned: Iterable[str] = ()) -> dict[str, str]:
    """The params of a run (see the module docstring).

    ``tuned``: the config paths the run's study varies (``algo.n_clusters``); they are left
    out here (the refit's values are logged after the study) and their configured values
    are given as ``baseline.<path>``.
    """
    flat = flat_settings(settings)
    defaults = _defaults()
    tuning = settings.tune.enabled
    tuned = set(tuned)
    params: dict[str, str] = {}
    for key, value in defining(flat).items():
        if key in tuned:  # the refit's value comes after the study
            params[BASELINE + key] = value
            continue
        if HIDDEN.match(key):
            continue
        if key.startswith(CORE) or key in CORE:
            shown = value != "None"
        elif tuning and key.startswith("tune."):
            shown = key in TUNE_CORE or key.startswith("tune.search_space.")
            shown = shown or value != defaults.get(key)
        else:
            shown = value != defaults.get(key)
        if shown:
            params[key] = value
    params["analyses"] = analyses_on(flat)
    return params


def _short(key: str) -> str:
    for prefix in ("algo.", "dataset.", "blocks."):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def differences(settings: RunSettings, overrides: Sequence[str]) -> list[str]:
    """What ``overrides`` change from the defaults, as ``key=value`` (resolved values).

    Overrides that the name already says (the algorithm, dataset, features) or that do not
    define the result (``tracking.uri``…) are left out; a config group other than those is
    kept as chosen (``preprocess=pca``).
    """
    flat = flat_settings(settings)
    kept = defining(flat)
    said = {"features", "algo.name", "dataset.name", "tune.name", "tune.n_trials"}
    out: list[str] = []
    for text in overrides:
        raw = text.strip()
        if raw.startswith("~"):
            out.append(raw)
            continue
        key, _, value = raw.lstrip("+").partition("=")
        key = key.strip()
        if not key or key.startswith("hydra.") or key in said:
            continue
        if key in flat:
            if key in kept and not HIDDEN.match(key):
                out.append(f"{_short(key)}={flat[key]}")
        elif "." not in key and "@" not in key:  # a config group chosen
            if key not in NAMED_GROUPS:
                out.append(f"{key}={value}")
        elif any(k.startswith(key + ".") for k in kept):  # a node set as a whole
            out.append(f"{_short(key)}={value}")
    return list(dict.fromkeys(out))


def run_name(settings: RunSettings, overrides: Sequence[str] = ()) -> str:
    """``<algorithm> · <features> · <dataset>[ · what differs][ · tuned ×n]``."""
    if settings.tracking.run_name:
        return settings.tracking.run_name
    parts = [settings.title, *differences(settings, overrides)]
    if settings.tune.enabled:
        parts.append(f"tuned ×{settings.tune.n_trials}")
    name = " · ".join(parts)
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 1] + "…"


def unique_name(name: str, taken: Iterable[str]) -> str:
    """``name``, or ``name #n`` one above the highest number ``taken`` holds (``name``
    itself counts as 1) when runs of the experiment already carry it.

    >>> unique_name("kmeans · rfm · toy", ["kmeans · rfm · toy", "kmeans · rfm · toy #2"])
    'kmeans · rfm · toy #3'
    >>> unique_name("kmeans · rfm · toy", ["kmeans · rfm · toy · seed=3"])
    'kmeans · rfm · toy'
    """
    numbered = re.compile(re.escape(name) + r" #(\d+)")
    numbers = []
    for other in taken:
        if other == name:
            numbers.append(1)
        elif match := numbered.fullmatch(other):
            numbers.append(int(match.group(1)))
    return f"{name} #{max(numbers) + 1}" if numbers else name


def taken_names(client: Any, experiment_id: str, name: str, run_id: str) -> list[str]:
    """The names of other runs of the experiment that decide the run's number
    (:func:`unique_name`): ``name`` if another run has it, and the newest run's ``name #n``.

    Two queries of at most two runs each, whatever the experiment's history (MLflow reads a
    run whole, its params, metrics and tags: reading every run whose name starts with
    ``name`` took 631 ms with 500 such runs of 40 params; these two queries, 19 ms).
    """
    from segbench.tracking.mlflow_run import retry_locked

    quoted = name.replace("\\", "\\\\").replace("'", "\\'")
    exact = retry_locked(
        client.search_runs,
        [experiment_id],
        filter_string=f"attributes.run_name = '{quoted}'",
        max_results=2,
    )
    newest = retry_locked(
        client.search_runs,
        [experiment_id],
        filter_string=f"attributes.run_name LIKE '{quoted} #%'",
        order_by=["attributes.start_time DESC"],
        max_results=2,
    )
    return [r.info.run_name for r in [*exact, *newest] if r.info.run_id != run_id]


__all__ = [
    "analyses_on",
    "differences",
    "flat_settings",
    "run_name",
    "run_params",
    "taken_names",
    "unique_name",
]
