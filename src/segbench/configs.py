"""From Hydra config to typed settings: the config folder, the schema, composition, resolution.

- The configs live in ``segbench/conf/`` inside the package (a wheel ships them with the
  code). Groups: ``dataset``, ``algo``, ``block``, ``preprocess``, ``tracking``,
  ``evaluation``, ``fairness``, ``analysis``, ``tune``, ``extras``, and the presets
  ``experiment`` (a whole study, ``experiment=quick``) and ``cell`` (one dataset with one
  feature expression, swept as ``+cell=...`` by the benchmark), lightning-hydra-template's
  layout.
- :func:`register` stores the schema's defaults (:func:`segbench.settings.schema_defaults`)
  in Hydra's config store as ``_schema``, the first entry of the primary config's defaults
  list: the YAML files only choose values, and every key can be overridden without ``+``.
- :func:`resolve` turns a composed config into :class:`~segbench.settings.RunSettings`,
  once, right after composition: types and ranges checked by the schema, then each component
  built once (the estimator's, the blocks' and the adapter's own parameter checks), so a bad
  value fails before any work with one paragraph naming the key, the value and what is
  expected.

>>> settings = resolve(compose(["algo=gmm", "features=rfm+text"]))
>>> settings.algo.name, settings.features, settings.evaluation.silhouette_sample_size
('gmm', 'rfm+text', 10000)
>>> resolve(compose(["evaluation.silhouette_sample_size=-1"]))
Traceback (most recent call last):
...
segbench.errors.ConfigError: evaluation.silhouette_sample_size=-1: expected a value greater \
than or equal to 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from pydantic import ValidationError

from segbench.errors import ConfigError
from segbench.settings import RunSettings, schema_defaults
from segbench.settings.base import settings_error

#: Hydra's primary config folder (inside the package).
CONFIG_DIR = Path(__file__).resolve().parent / "conf"
SCHEMA_NODE = "_schema"


def config_dir() -> Path:
    """Absolute path of the primary config folder."""
    return CONFIG_DIR


def register() -> None:
    """Store the schema's defaults in Hydra's config store (idempotent)."""
    ConfigStore.instance().store(name=SCHEMA_NODE, node=schema_defaults())


def compose(overrides: Sequence[str] = (), config_name: str = "config") -> DictConfig:
    """The composed config for ``overrides`` (command-line syntax), with Hydra's compose API."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3", job_name="segbench"):
        return hydra_compose(config_name=config_name, overrides=list(overrides))


def to_plain(cfg: DictConfig) -> dict[str, Any]:
    """The composed config as plain values, interpolations resolved (``hydra`` left out)."""
    try:
        tree = OmegaConf.to_container(cfg, resolve=True)
    except Exception as err:  # an unresolvable interpolation, e.g. ${oc.env:...}
        raise ConfigError(f"the configuration cannot be resolved: {err}") from None
    assert isinstance(tree, dict)
    tree.pop("hydra", None)
    return tree


def resolve(cfg: DictConfig | dict[str, Any]) -> RunSettings:
    """The typed settings of a composed config, validated once (see the module docstring)."""
    tree = to_plain(cfg) if isinstance(cfg, DictConfig) else dict(cfg)
    try:
        settings = RunSettings.model_validate(tree)
    except ValidationError as err:
        raise settings_error(err, tree) from None
    check_components(settings)
    return settings


def check_components(settings: RunSettings) -> None:
    """Build each component once, so its own checks run before any work: the feature
    expression and its blocks, the estimator, the dataset adapter and, when tuning, the
    objectives and the search space."""
    from segbench.algorithms import build_estimator
    from segbench.datasets.base import build_adapter
    from segbench.features import build_blocks, parse_expression

    names = parse_expression(settings.features, list(settings.blocks))
    build_blocks(settings.blocks, names)
    build_estimator(settings.algo)
    build_adapter(settings.dataset)
    if settings.tune.enabled:
        from segbench.tuning import FeatureSpec, SearchSpace, parse_objectives

        parse_objectives(settings.tune.objectives)
        spec = FeatureSpec(settings.features, settings.blocks, settings.preprocess)
        SearchSpace.from_settings(settings.algo, settings.tune, spec)


__all__ = ["CONFIG_DIR", "check_components", "compose", "config_dir", "register", "resolve"]
