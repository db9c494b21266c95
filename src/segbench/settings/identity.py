"""Which settings define what a run computes: the one list of those that do not.

Two runs whose *defining* settings are equal computed the same thing: the leaderboard treats
the later as a rerun of the earlier (:mod:`segbench.leaderboard.store`), and tuning keys its
study by them (:mod:`segbench.tuning.study`). A setting does not define the result when it
only changes how a run is carried out or recorded (:data:`NOT_DEFINING`), when its section is
switched off (``X.enabled=false``: the options of a step that did not run), when it belongs to
a feature block the expression does not use, or when it tunes and tuning is off.

Settings are compared in their flattened form, as runs log them (``algo.n_clusters``).

>>> sorted(defining({"features": "rfm", "algo.n_clusters": "6", "tracking.uri": "x.db",
...     "blocks.text.pca_components": "16", "evaluation.stability.enabled": "false",
...     "evaluation.stability.n_resamples": "5", "tune.name": "none", "tune.n_trials": "30"}))
['algo.n_clusters', 'evaluation.stability.enabled', 'features', 'tune.name']
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: Settings that change how a run is carried out or recorded, never its results
#: (``*`` stands for one part of a dotted key).
NOT_DEFINING = (
    "tracking.*",
    "blas_threads",
    "analysis.threads",
    "evaluation.stability.threads",
    "blocks.*.progress",
    "blocks.*.cache_dir",
    "blocks.*.batch_size",
    "dataset.cache",
    "dataset.description",
    "dataset.max_dropped_share",
    "algo.description",
    "algo.n_jobs",
    "algo.core_dist_n_jobs",
    "tune.progress",
    "tune.log_trials",
    "tune.feature_cache_size",
    "tune.storage",
    "tune.refit_only",
    "tune.heartbeat_interval",
    "tune.grace_period",
    "tune.max_retries",
)


def _pattern(keys: tuple[str, ...]) -> re.Pattern[str]:
    body = "|".join(re.escape(k).replace(r"\*", r"[^.]+") for k in keys)
    return re.compile(rf"^(?:{body})(?:\..+)?$")


_NOT_DEFINING = _pattern(NOT_DEFINING)


def switched_off(flat: Mapping[str, str]) -> tuple[str, ...]:
    """Prefixes (``"evaluation.stability."``) of the sections switched off in ``flat``."""
    off = [k[: -len("enabled")] for k, v in flat.items() if k.endswith(".enabled") and _false(v)]
    if str(flat.get("tune.name", "none")) == "none":
        off += ["tune.", "algo.search_space."]
    return tuple(off)


def _false(value: object) -> bool:
    return str(value).strip().lower() in ("false", "0", "no")


def defining(flat: Mapping[str, str]) -> dict[str, str]:
    """The settings of ``flat`` that define what the run computes (see the module docstring).

    The flag of a switched-off section stays (it defines that the step did not run), and so
    does ``tune.name``.
    """
    off = switched_off(flat)
    used = set(str(flat.get("features", "")).replace(" ", "").split("+"))
    kept = {}
    for key, value in flat.items():
        if _NOT_DEFINING.match(key):
            continue
        if key.startswith(off) and not (key.endswith(".enabled") or key == "tune.name"):
            continue
        if key.startswith("blocks.") and used != {""} and key.split(".")[1] not in used:
            continue
        kept[key] = str(value)
    return kept


_TUNED = re.compile(r"^(?:algo\.search_space\.([^.]+)|tune\.search_space\.(.+))\.type$")
BASELINE = "baseline."


def configured(flat: Mapping[str, str]) -> dict[str, str]:
    """A run's params with the settings as configured, not as tuned.

    A tuned run logs the values of its refit at the paths its search space varies
    (``algo.n_clusters=5``) and the configured ones as ``baseline.<path>``
    (:mod:`segbench.tracking.params`). What the run computes is defined by the configured
    values (and the search space), so they take the place of the refit's; a tuned path
    without a baseline (a value the config left to the estimator's default) is dropped.

    >>> configured({"algo.search_space.n_clusters.type": "int", "algo.n_clusters": "5",
    ...     "baseline.algo.n_clusters": "6", "seed": "1"})["algo.n_clusters"]
    '6'
    """
    tuned = set()
    baselines = []
    for key in flat:
        if key.startswith(BASELINE):
            baselines.append(key)
        elif "search_space." in key:
            found = _TUNED.match(key)
            if found:
                tuned.add(f"algo.{found[1]}" if found[1] else found[2])
    if not tuned and not baselines:
        return dict(flat)
    drop = tuned.union(baselines)
    out = {k: v for k, v in flat.items() if k not in drop}
    for key in baselines:
        if key[len(BASELINE) :] in tuned:
            out[key[len(BASELINE) :]] = flat[key]
    return out


__all__ = ["BASELINE", "NOT_DEFINING", "configured", "defining", "switched_off"]
