"""The adapter contract, the routine that finishes every dataset, and the loader.

An adapter reads and cleans its source, then hands its parts to :func:`finish_dataset`, which
builds the :class:`~segbench.data.model.CustomerData`, fills the provenance and fingerprints
the content. :func:`load_dataset` builds the configured adapter, loads, validates and
pseudonymises.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from hydra.utils import instantiate

from segbench.data.model import CleaningStep, CustomerData, DatasetMeta
from segbench.data.pseudonyms import pseudonymise
from segbench.errors import ConfigError
from segbench.settings import DatasetSettings
from segbench.settings.base import coerce


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


def day_after(timestamps: pd.Series) -> pd.Timestamp:
    """Midnight after the last timestamp: the default reference date for recency."""
    return pd.Timestamp(timestamps.max()).normalize() + pd.Timedelta(days=1)


def analysis_date(
    option: str | None, dataset: str, default: pd.Timestamp | None = None
) -> pd.Timestamp | None:
    """The ``analysis_date`` option of ``dataset`` as a date, or ``default`` when unset.

    >>> analysis_date("2011-12-10", "online_retail")
    Timestamp('2011-12-10 00:00:00')
    """
    if option is None:
        return default
    try:
        return pd.Timestamp(option)
    except ValueError as exc:
        raise ConfigError(
            f"dataset '{dataset}': analysis_date={option!r} is not a date "
            f"(expected YYYY-MM-DD): {exc}"
        ) from None


def finish_dataset(
    name: str,
    customers: pd.DataFrame,
    *,
    source: str,
    licence: str,
    cleaning: Sequence[CleaningStep] = (),
    notes: dict[str, Any] | None = None,
    analysis_date: pd.Timestamp | None = None,
    transactions: pd.DataFrame | None = None,
    texts: pd.DataFrame | None = None,
    sensitive: pd.DataFrame | None = None,
    labels: pd.Series | None = None,
    outcomes: pd.DataFrame | None = None,
    demographic_columns: Sequence[str] = (),
) -> CustomerData:
    """The adapter's parts as one :class:`CustomerData`, provenance filled, content
    fingerprinted (``meta.fingerprint``). Every adapter ends with this call."""
    data = CustomerData(
        customers=customers,
        transactions=transactions,
        texts=texts,
        sensitive=sensitive,
        labels=labels,
        outcomes=outcomes,
        demographic_columns=tuple(demographic_columns),
        meta=DatasetMeta(
            name=name,
            source=source,
            licence=licence,
            analysis_date=analysis_date,
            cleaning=list(cleaning),
            notes=dict(notes or {}),
        ),
    )
    data.meta.fingerprint = data.content_fingerprint()
    return data


def build_adapter(settings: DatasetSettings | Mapping[str, Any]) -> DatasetAdapter:
    """The configured adapter (``_target_`` with its options; no work is done).

    ``settings``: the ``dataset`` section, or a mapping of it (validated here).
    """
    settings = coerce(DatasetSettings, settings, "dataset")
    params = {"_target_": settings.target, **settings.params}
    try:
        adapter = instantiate(params, _convert_="all")
    except Exception as err:  # Hydra wraps the adapter's TypeError/ValueError
        cause = err.__cause__ or err
        raise ConfigError(
            f"dataset '{settings.name}': cannot build {settings.target} with "
            f"{sorted(settings.params)}: {cause}"
        ) from None
    if not isinstance(adapter, DatasetAdapter):
        raise ConfigError(
            f"dataset '{settings.name}': _target_ {settings.target} is not a DatasetAdapter"
        )
    return adapter


def load_dataset(settings: DatasetSettings | Mapping[str, Any]) -> CustomerData:
    """Build the configured adapter, load, validate and pseudonymise."""
    data = build_adapter(settings).load().validate()
    return pseudonymise(data)
