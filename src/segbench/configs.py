"""Where the Hydra configs are, and the ``experiment`` presets under ``experiments/``.

A source checkout (editable install) keeps ``conf/`` and ``experiments/`` at the top level;
a built wheel ships them inside the package (``segbench/conf``, ``segbench/experiments``).
Hydra is given the absolute path, because a relative ``config_path`` in an installed package
is resolved inside the package.

Experiment presets are the YAML files in ``experiments/``; they are registered in Hydra's
config store as the group ``experiment`` (``python -m segbench experiment=quick``), each at the
global package like lightning-hydra-template's ``configs/experiment``. A preset may carry a
``defaults:`` list of ``override /<group>: <option>`` entries, a ``hydra.sweeper.params`` grid
and ``hydra.mode: MULTIRUN`` (one command runs the whole study; the compose API ignores the
mode and composes the preset's base config). Each sub-folder ``experiments/<group>/`` is
registered as the config group ``<group>`` (global package), for building blocks of studies
such as ``experiments/cell/`` (one dataset with one feature expression, swept as ``+cell=...``).
"""

from __future__ import annotations

from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

_PACKAGE = Path(__file__).resolve().parent
_SOURCE_ROOT = _PACKAGE.parents[1]


def _locate(name: str) -> Path:
    for candidate in (_PACKAGE / name, _SOURCE_ROOT / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"segbench's {name}/ folder is missing (looked in {_PACKAGE}, {_SOURCE_ROOT})"
    )


def config_dir() -> Path:
    """Absolute path of the primary config folder."""
    return _locate("conf")


def experiments_dir() -> Path:
    """Absolute path of the experiment presets folder."""
    return _locate("experiments")


def register_experiments() -> list[str]:
    """Register every ``experiments/*.yaml`` as an option of the ``experiment`` group, and
    every ``experiments/<group>/*.yaml`` as an option of the group ``<group>``.

    Returns the names of the experiment presets.
    """
    store = ConfigStore.instance()
    names = []
    root = experiments_dir()
    for path in sorted(root.glob("*.yaml")):
        node = OmegaConf.load(path)
        store.store(group="experiment", name=path.stem, node=node, package="_global_")
        names.append(path.stem)
    for path in sorted(root.glob("*/*.yaml")):
        node = OmegaConf.load(path)
        store.store(group=path.parent.name, name=path.stem, node=node, package="_global_")
    return names
