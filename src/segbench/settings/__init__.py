"""Typed settings: one schema per config section, the only place a default lives.

The YAML files under ``conf/`` choose values; :func:`segbench.configs.resolve` validates a
composed config against :class:`RunSettings` once, right after composition, and every stage
receives its own section. A wrong type or range fails there with one paragraph that names the
key, the value and what is expected (:func:`~segbench.settings.base.settings_error`).

Modules: :mod:`.base` (base classes, error formatting), one module per section
(:mod:`.evaluation`, :mod:`.fairness`, :mod:`.privacy`, :mod:`.analysis`, :mod:`.tune`,
:mod:`.tracking`, :mod:`.protocol`, :mod:`.components`), :mod:`.run` (the root),
:mod:`.identity` (which settings define what a run computes).
"""

from segbench.settings.analysis import AnalysisSettings
from segbench.settings.components import (
    AlgoSettings,
    BlockSettings,
    DatasetSettings,
    PreprocessSettings,
)
from segbench.settings.evaluation import EvaluationSettings, StabilitySettings
from segbench.settings.fairness import FairnessSettings
from segbench.settings.privacy import PrivacySettings
from segbench.settings.protocol import ProtocolSettings
from segbench.settings.run import RunSettings, schema_defaults
from segbench.settings.tracking import TrackingSettings
from segbench.settings.tune import TuneSettings

__all__ = [
    "AlgoSettings",
    "AnalysisSettings",
    "BlockSettings",
    "DatasetSettings",
    "EvaluationSettings",
    "FairnessSettings",
    "PreprocessSettings",
    "PrivacySettings",
    "ProtocolSettings",
    "RunSettings",
    "StabilitySettings",
    "TrackingSettings",
    "TuneSettings",
    "schema_defaults",
]
