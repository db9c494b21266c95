"""What a study is about: the run's settings that tuning reads, as one value.

The experiment builds a :class:`StudySpec` from the run's settings
(:func:`segbench.experiment.study_spec`); tuning never sees the rest of the configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from segbench.settings import AlgoSettings, TuneSettings
from segbench.tuning.features import FeatureSpec


@dataclass(frozen=True)
class StudySpec:
    """The inputs of a study.

    Parameters
    ----------
    tune
        The tuning settings.
    algo
        The algorithm and its ``search_space``.
    features
        What builds the features (varied per trial when ``tune.search_space`` covers them).
    seed
        The run's seed (samplers are seeded from it).
    prefix
        The readable part of the default study name, ``<experiment>.<dataset>.<features>.<algo>``.
    setup
        The settings the trials' results depend on, flattened (their hash ends the default
        study name, so the same command resumes the same study and other setups get theirs).
    context
        Names stored with a persistent study and checked when it is resumed (dataset,
        features, preprocessing, algorithm).
    title
        How plots of the study are titled.
    log_plots
        Whether the study's figures are logged.
    """

    tune: TuneSettings
    algo: AlgoSettings
    features: FeatureSpec
    seed: int = 0
    prefix: str = "segbench"
    setup: Mapping[str, str] = field(default_factory=dict)
    context: Mapping[str, str] = field(default_factory=dict)
    title: str = ""
    log_plots: bool = True
