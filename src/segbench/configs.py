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
  built once (the estimator's, the blocks' and the adapter's own parameter checks, the data
  file's existence, and whether the dataset has the parts the feature blocks need), so a bad
  value fails before any work — before a run exists — with one paragraph naming the key, the
  value and what is expected.
- :func:`check_overrides` refuses an override that Hydra would silently ignore: ``key={}``
  on a non-empty mapping (Hydra merges mappings, so ``algo.search_space={}`` changes nothing).

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

import re
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


def file_stem(path: str) -> str:
    """The name of a data file without folders and data suffixes (the resolver
    ``${segbench.file_stem:...}`` of the configs).

    >>> file_stem("/data/clustbench/fcps/atom.data.gz")
    'atom'
    """
    name = Path(str(path)).name
    for suffixes in ((".gz", ".bz2", ".xz", ".zip"), (".data", ".csv", ".tsv", ".txt")):
        name = next((name[: -len(x)] for x in suffixes if name.endswith(x)), name)
    return name


def register() -> None:
    """Store the schema's defaults in Hydra's config store and the configs' resolvers
    (idempotent)."""
    ConfigStore.instance().store(name=SCHEMA_NODE, node=schema_defaults())
    if not OmegaConf.has_resolver("segbench.file_stem"):
        OmegaConf.register_new_resolver("segbench.file_stem", file_stem)


def compose(overrides: Sequence[str] = (), config_name: str = "config") -> DictConfig:
    """The composed config for ``overrides`` (command-line syntax), with Hydra's compose API.

    Hydra's own errors (an unknown group option, a key that needs ``+``) become one
    :class:`ConfigError` paragraph.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    register()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3", job_name="segbench"):
        try:
            cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
        except (HydraException, OmegaConfBaseException) as err:
            raise ConfigError(_one_paragraph(str(err))) from None
    check_overrides(cfg, overrides)
    return cfg


def _one_paragraph(message: str) -> str:
    r"""Hydra's multi-line message as one paragraph: indented lines (lists of options) are
    joined with commas, the config search path is left out.

    >>> _one_paragraph("Could not find 'algo/x'\n\nAvailable options in 'algo':\n\tgmm\n\tkmeans")
    "Could not find 'algo/x'. Available options in 'algo': gmm, kmeans."
    """
    parts: list[str] = []
    items: list[str] = []
    for line in message.split("Config search path:")[0].splitlines():
        if not line.strip():
            continue
        if line[:1].isspace() and parts:
            items.append(line.strip())
            continue
        if items:
            parts[-1] += " " + ", ".join(items) + "."
            items = []
        parts.append(line.strip())
    if items:
        parts[-1] += " " + ", ".join(items) + "."
    return " ".join(p if p.endswith((".", ":")) else p + "." for p in parts)


def check_overrides(cfg: DictConfig, overrides: Sequence[str]) -> None:
    """Refuse ``key={}`` when ``key`` is a non-empty mapping: Hydra merges a mapping into the
    one it overrides, so the override would change nothing (see the module docstring)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except Exception:  # Hydra reported a parse error already
        return
    for override in parsed:
        if override.is_delete() or override.is_add() or override.is_force_add():
            continue
        try:
            value = override.value()
        except Exception:  # sweeps, functions: not a plain value
            continue
        if not (isinstance(value, dict) and not value):
            continue
        key = override.key_or_group
        node = OmegaConf.select(cfg, key, default=None)
        if not isinstance(node, DictConfig) or len(node) == 0:
            continue
        kept = sorted(str(k) for k in node)
        hint = f"; remove an entry with ~{key}.<name>"
        if key.endswith("search_space"):
            hint = (
                "; there would be nothing to tune from it: run without tuning with tune=none, or "
                f"remove an entry with ~{key}.<name> and add one with "
                f"'+{key}.<name>={{type: int, low: 2, high: 8}}'"
            )
        raise ConfigError(
            f"{key}={{}}: expected an override that empties {key}, but Hydra merges a mapping "
            f"into the existing one, so {key} would keep {kept}{hint}"
        )


def to_plain(cfg: DictConfig) -> dict[str, Any]:
    """The composed config as plain values, interpolations resolved (``hydra`` left out)."""
    try:
        tree = OmegaConf.to_container(cfg, resolve=True)
    except Exception as err:  # an unresolvable interpolation, e.g. ${oc.env:...}
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        missing = re.search(r"Missing mandatory value: ([\w.]+)", first)
        if missing:
            key = missing.group(1)
            raise ConfigError(
                f"{key} is required and has no value (???); set it, e.g. {key}=<value>"
            ) from None
        raise ConfigError(f"the configuration cannot be resolved: {first}") from None
    assert isinstance(tree, dict)
    tree.pop("hydra", None)
    return tree


def resolve(cfg: DictConfig | dict[str, Any]) -> RunSettings:
    """The typed settings of a composed config, validated once (see the module docstring)."""
    if isinstance(cfg, DictConfig):
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():  # the command line: check its overrides here
            check_overrides(cfg, list(HydraConfig.get().overrides.task))
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
    from segbench.features import build_blocks, check_feedable, parse_expression

    names = parse_expression(settings.features, list(settings.blocks))
    every = build_blocks(settings.blocks)  # every block: a run builds them all (candidates)
    build_estimator(settings.algo)
    adapter = build_adapter(settings.dataset)
    expected = adapter.expected_customers()
    if expected is not None:  # a size guard refuses before the data is generated
        from segbench.algorithms import check_size

        check_size(settings.algo, min(expected, settings.algo.subsample or expected))
    layout = adapter.layout()
    if layout is not None:  # the parts the dataset will have: can it feed the blocks?
        check_feedable({name: every[name] for name in names}, layout, candidates=every)
    if settings.tune.enabled:
        from segbench.tuning import FeatureSpec, SearchSpace, parse_objectives

        parse_objectives(settings.tune.objectives)
        spec = FeatureSpec(settings.features, settings.blocks, settings.preprocess)
        space = SearchSpace.from_settings(settings.algo, settings.tune, spec)
        if settings.tune.sampler == "grid":
            space.grid()  # refuses a continuous space
        # the estimator accepts the space's parameters (its lowest values, first choices)
        point = {
            p.path[5:]: p.choices[0] if p.kind == "categorical" else p.low
            for p in space.params
            if p.path.startswith("algo.")
        }
        try:
            build_estimator(settings.algo.model_copy(update=point))
        except ConfigError as err:
            raise ConfigError(
                f"the search space of algorithm '{settings.algo.name}' ({space.describe()}) "
                f"does not fit its estimator: {err}"
            ) from None


__all__ = ["CONFIG_DIR", "check_components", "compose", "config_dir", "register", "resolve"]
