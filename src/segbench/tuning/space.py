"""The search space of a study: which config values Optuna varies, and over which ranges.

Two sources, both keyed by what they vary:

- ``algo.search_space`` beside each algorithm's config (``conf/algo/*.yaml``), keyed by the
  estimator's parameter name: ``n_clusters: {type: int, low: 2, high: 12}``;
- ``tune.search_space`` for feature and preprocessing values, nested by config path:
  ``blocks: {text: {pca_components: {type: int, low: 4, high: 32}}}`` (features are rebuilt
  for each trial that changes them).

A parameter spec is ``{type: int|float|categorical, low, high, log, step, choices}``:

=============  ==============================================================================
type           keys
=============  ==============================================================================
``int``        ``low``, ``high`` (both included), optional ``step`` (default 1) or ``log``
``float``      ``low``, ``high``, optional ``step`` (a finite grid) or ``log`` (not both)
``categorical`` ``choices``: a non-empty list of strings, numbers, booleans or null
=============  ==============================================================================

Every parameter is named by its full config path (``algo.n_clusters``,
``blocks.text.pca_components``): the Optuna parameter, the trial's MLflow param and the
column of the trials table all use that name, the same as the flattened config of a run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from segbench.errors import ConfigError
from segbench.features import parse_expression
from segbench.settings import AlgoSettings, TuneSettings
from segbench.tuning.features import FeatureSpec

TYPES = ("int", "float", "categorical")
KEYS = {
    "int": {"type", "low", "high", "step", "log"},
    "float": {"type", "low", "high", "step", "log"},
    "categorical": {"type", "choices"},
}
#: Config roots that ``tune.search_space`` may vary (the algorithm's own space is in ``algo``).
FEATURE_ROOTS = ("blocks", "preprocess")
_MISSING = object()


@dataclass(frozen=True)
class Param:
    """One tuned config value: its path and its distribution."""

    path: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    @classmethod
    def from_spec(cls, path: str, spec: Mapping[str, Any]) -> Param:
        """Validate ``spec`` (see the module docstring); errors name ``path``."""
        where = f"search space parameter '{path}'"
        if not isinstance(spec, Mapping):
            raise ConfigError(
                f"{where}: expected a mapping like {{type: int, low: 2, high: 12}}, found {spec!r}"
            )
        kind = spec.get("type")
        if kind not in TYPES:
            raise ConfigError(f"{where}: type must be one of {list(TYPES)}, found {kind!r}")
        unknown = sorted(set(spec) - KEYS[kind])
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {unknown} for type {kind}; allowed: {sorted(KEYS[kind])}"
            )
        if kind == "categorical":
            choices = spec.get("choices")
            if isinstance(choices, (str, bytes)) or not choices:
                raise ConfigError(f"{where}: choices must be a non-empty list, found {choices!r}")
            choices = tuple(choices)
            bad = [c for c in choices if c is not None and not isinstance(c, (str, int, float))]
            if bad:
                raise ConfigError(
                    f"{where}: choices must be strings, numbers, booleans or null; found {bad}"
                )
            if len(set(map(repr, choices))) != len(choices):
                raise ConfigError(f"{where}: choices {list(choices)} repeat a value")
            return cls(path, kind, choices=choices)
        low, high = spec.get("low"), spec.get("high")
        numbers = (int,) if kind == "int" else (int, float)
        for key, value in (("low", low), ("high", high)):
            if isinstance(value, bool) or not isinstance(value, numbers):
                raise ConfigError(
                    f"{where}: {key} must be a{'n' * (kind == 'int')} {kind}, found {value!r}"
                )
        if low > high:
            raise ConfigError(f"{where}: low ({low}) is above high ({high})")
        log = bool(spec.get("log", False))
        step = spec.get("step")
        if step is not None:
            if isinstance(step, bool) or not isinstance(step, numbers) or step <= 0:
                raise ConfigError(f"{where}: step must be a positive {kind}, found {step!r}")
            if log and not (kind == "int" and step == 1):
                raise ConfigError(f"{where}: log and step cannot be combined (Optuna's rule)")
        if log and low <= 0:
            raise ConfigError(f"{where}: a log range needs low > 0, found low={low}")
        return cls(path, kind, low=low, high=high, step=step, log=log)

    def suggest(self, trial: optuna.Trial) -> Any:
        """Ask ``trial`` for a value of this parameter."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.path, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(
                self.path, int(self.low), int(self.high), step=int(self.step or 1), log=self.log
            )
        return trial.suggest_float(
            self.path, float(self.low), float(self.high), step=self.step, log=self.log
        )

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one of this parameter's values (in range and on its step).

        >>> Param.from_spec("algo.n_clusters", {"type": "int", "low": 2, "high": 12}).contains(6)
        True
        >>> Param.from_spec("algo.eps", {"type": "float", "low": 0.1, "high": 1.0}).contains(2.0)
        False
        """
        if self.kind == "categorical":
            return any(
                c == value and isinstance(c, bool) == isinstance(value, bool) for c in self.choices
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int" and not float(value).is_integer():
            return False
        if not float(self.low) <= value <= float(self.high):
            return False
        if self.step is None:
            return True
        offset = (value - float(self.low)) / float(self.step)
        return abs(offset - round(offset)) < 1e-9

    @property
    def finite(self) -> bool:
        """Whether the parameter takes finitely many values (a grid can cover it)."""
        return self.kind in ("categorical", "int") or self.step is not None

    def grid_values(self) -> list[Any]:
        """Every value of a finite parameter (see :attr:`finite`)."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step is None:
            raise ConfigError(f"search space parameter '{self.path}' is a continuous float")
        count = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        return [float(v) for v in np.round(self.low + self.step * np.arange(count), 12)]

    def describe(self) -> str:
        if self.kind == "categorical":
            return f"{self.path} ∈ {list(self.choices)}"
        extra = (" log" if self.log else "") + (f" step {self.step}" if self.step else "")
        return f"{self.path} ∈ [{self.low}, {self.high}] ({self.kind}{extra})"


@dataclass(frozen=True)
class SearchSpace:
    """The parameters of a study (see the module docstring)."""

    params: tuple[Param, ...]

    @classmethod
    def from_settings(
        cls,
        algo: AlgoSettings,
        tune: TuneSettings,
        features: FeatureSpec,
    ) -> SearchSpace:
        """The space of a run: ``algo.search_space`` plus ``tune.search_space``, validated
        against the algorithm and the feature settings (``features``) it varies."""
        params = [Param.from_spec(f"algo.{name}", spec) for name, spec in algo.search_space.items()]
        used = parse_expression(features.expression, list(features.blocks))
        for path, spec in _leaves(tune.search_space):
            root = path.split(".", 1)[0]
            if root == "algo":
                raise ConfigError(
                    f"tune.search_space.{path}: tune the algorithm's hyperparameters in "
                    f"algo.search_space (e.g. algo.search_space.{path[5:]}=...)"
                )
            if root not in FEATURE_ROOTS:
                raise ConfigError(
                    f"tune.search_space.{path}: only {list(FEATURE_ROOTS)} values can be tuned "
                    "besides algo.search_space"
                )
            if features.value(path, _MISSING) is _MISSING:
                raise ConfigError(
                    f"tune.search_space.{path}: the config has no value '{path}' to tune"
                )
            if root == "blocks":
                block = path.split(".")[1]
                if block not in used:
                    raise ConfigError(
                        f"tune.search_space.{path}: block '{block}' is not used by "
                        f"features={features.expression}"
                    )
            params.append(Param.from_spec(path, spec))
        if not params:
            raise ConfigError(
                f"algorithm '{algo.name}' has no search space: add algo.search_space (e.g. "
                "'+algo.search_space.n_clusters={type:int,low:2,high:12}') or tune.search_space"
            )
        return cls(tuple(params))

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.params]

    @property
    def finite(self) -> bool:
        return all(p.finite for p in self.params)

    def grid(self) -> dict[str, list[Any]]:
        """The full grid (``GridSampler``'s search space); refuses a continuous space."""
        continuous = [p.path for p in self.params if not p.finite]
        if continuous:
            raise ConfigError(
                f"tune.sampler=grid needs a finite search space, but {continuous} "
                "are continuous floats: give them a step (e.g. "
                f"algo.search_space.{continuous[0].split('.', 1)[1]}.step=0.1), or use "
                "tune.sampler=tpe|random"
            )
        return {p.path: p.grid_values() for p in self.params}

    def point(self, configured: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The configured values (by path) as a point of this space, and the paths whose
        configured value is missing or outside the space (described)."""
        inside: dict[str, Any] = {}
        outside: list[str] = []
        for param in self.params:
            value = configured.get(param.path, _MISSING)
            if value is not _MISSING and param.contains(value):
                inside[param.path] = value
            else:
                found = "not set" if value is _MISSING else repr(value)
                outside.append(f"{param.path}={found}")
        return inside, outside

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """One value per parameter from ``trial``, by path."""
        return {p.path: p.suggest(trial) for p in self.params}

    @property
    def covers_features(self) -> bool:
        """Whether some trial changes the features (they must be rebuilt per trial)."""
        return any(not p.path.startswith("algo.") for p in self.params)

    @staticmethod
    def algo_values(values: Mapping[str, Any]) -> dict[str, Any]:
        """The estimator parameters among ``values`` (``algo.`` stripped)."""
        return {k[5:]: v for k, v in values.items() if k.startswith("algo.")}

    @staticmethod
    def feature_values(values: Mapping[str, Any]) -> dict[str, Any]:
        """The feature/preprocessing values among ``values``, by path."""
        return {k: v for k, v in values.items() if not k.startswith("algo.")}

    def describe(self) -> str:
        return "; ".join(p.describe() for p in self.params)


def _leaves(tree: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Mapping[str, Any]]]:
    """``(path, spec)`` of every spec (a mapping with ``type``) in a nested mapping."""
    found = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and "type" not in value:
            found += _leaves(value, path + ".")
        elif isinstance(value, Mapping):
            found.append((path, value))
        else:
            raise ConfigError(
                f"tune.search_space.{path}: expected a spec like {{type: int, low: 4, high: 32}}, "
                f"found {value!r}"
            )
    return found
