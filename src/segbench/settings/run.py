"""The settings of one run: every section, typed, resolved once at the top.

:class:`RunSettings` is what :func:`segbench.configs.resolve` returns from a composed Hydra
config and what :func:`segbench.experiment.run_experiment` unpacks: each stage receives its
own section (or plain values), never the whole config.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from segbench.settings.analysis import AnalysisSettings
from segbench.settings.base import Section
from segbench.settings.components import (
    AlgoSettings,
    BlockSettings,
    DatasetSettings,
    PreprocessSettings,
)
from segbench.settings.evaluation import EvaluationSettings
from segbench.settings.fairness import FairnessSettings
from segbench.settings.privacy import PrivacySettings
from segbench.settings.protocol import ProtocolSettings
from segbench.settings.tracking import TrackingSettings
from segbench.settings.tune import TuneSettings


class RunSettings(Section):
    """One experiment: dataset × features × algorithm × preprocessing, and how it is judged,
    tuned, analysed and tracked."""

    seed: int = 42
    """Seed of every stochastic step downstream of the data (algorithms, sampling,
    resampling); the synthetic dataset keeps its own ``dataset.seed``."""
    features: str = Field("rfm", min_length=1)
    """Feature expression: blocks joined by ``+``, any order (``rfm+demographics+text``);
    valid names are the keys of ``blocks``."""
    blas_threads: int | None = Field(1, ge=1)
    """BLAS threads during a run. The matrices here are n × d with small d, where BLAS
    threading gains little and, on a loaded machine, costs a lot (GMM on 5k × 19: 0.5 s with
    one thread, 15 s with two while other processes ran). null = the library default."""
    study: str | None = None
    """Name of the study a run belongs to (set by the ``experiment`` presets; the leaderboard
    selects runs by it)."""
    dataset: DatasetSettings
    algo: AlgoSettings
    blocks: dict[str, BlockSettings]
    preprocess: PreprocessSettings = PreprocessSettings()
    tracking: TrackingSettings = TrackingSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    fairness: FairnessSettings = FairnessSettings()
    privacy: PrivacySettings = PrivacySettings()
    analysis: AnalysisSettings = AnalysisSettings()
    tune: TuneSettings = TuneSettings()
    protocol: ProtocolSettings = ProtocolSettings()

    @property
    def blocks_used(self) -> list[str]:
        """The block names of the feature expression, in its order."""
        return [part.strip() for part in self.features.split("+")]

    @property
    def title(self) -> str:
        """``<algorithm> · <features> · <dataset>``: how titles and run names read."""
        return f"{self.algo.name} · {self.features} · {self.dataset.name}"


#: Sections whose defaults live here (the components have no defaults: a YAML file chooses).
SECTIONS = (
    "preprocess",
    "tracking",
    "evaluation",
    "fairness",
    "privacy",
    "analysis",
    "tune",
    "protocol",
)


def schema_defaults() -> dict[str, Any]:
    """Every default of :class:`RunSettings`, as the plain tree Hydra composes onto.

    :mod:`segbench.configs` stores it in Hydra's config store as the first entry of the
    primary config's defaults list, so the YAML files only choose values and every key can
    be overridden on the command line without ``+``.
    """
    tree: dict[str, Any] = {
        name: RunSettings.model_fields[name].default
        for name in ("seed", "features", "blas_threads", "study")
    }
    for name in SECTIONS:
        tree[name] = RunSettings.model_fields[name].default.dump()
    # the dataset keys that are segbench's own (not the adapter's options) have defaults too
    tree["dataset"] = {
        key: DatasetSettings.model_fields[key].default for key in DATASET_RESERVED_DEFAULTS
    }
    # and the algorithm's mode of fitting (algo.subsample=N without `+`)
    tree["algo"] = {key: AlgoSettings.model_fields[key].default for key in ALGO_RESERVED_DEFAULTS}
    return tree


#: Keys of the ``dataset`` section that segbench reads and that have a default in the schema.
DATASET_RESERVED_DEFAULTS = ("max_dropped_share", "noise_label")
#: Keys of the ``algo`` section that segbench reads and that have a default in the schema.
ALGO_RESERVED_DEFAULTS = ("subsample",)
