"""The adapter contract and the one function that loads a configured dataset."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from segbench.customer_data import CustomerData
from segbench.errors import ConfigError
from segbench.privacy import pseudonymise


class DatasetAdapter(ABC):
    """Turns a raw source into canonical :class:`CustomerData`.

    Subclasses take their options in ``__init__`` (no work there) and do all reading and
    cleaning in :meth:`load`. They return *raw* (not yet pseudonymised) customer ids;
    :func:`load_dataset` pseudonymises.
    """

    name: str = "dataset"

    @abstractmethod
    def load(self) -> CustomerData:
        """Read, clean and return the dataset (with a filled cleaning report)."""


def load_dataset(cfg: DictConfig | dict[str, Any]) -> CustomerData:
    """Instantiate the adapter named by ``cfg._target_``, load, validate and pseudonymise.

    ``cfg`` is the ``dataset`` config node; its ``name`` key is informational and not
    passed to the adapter.
    """
    params = dict(cfg)
    params.pop("name", None)
    params.pop("description", None)
    if "_target_" not in params:
        raise ConfigError(
            f"dataset config needs a '_target_' adapter class; found keys {list(params)}"
        )
    adapter = instantiate(params, _convert_="all")
    if not isinstance(adapter, DatasetAdapter):
        raise ConfigError(f"dataset _target_ {params['_target_']} is not a DatasetAdapter")
    data = adapter.load().validate()
    return pseudonymise(data)
