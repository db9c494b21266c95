"""The adapter contract, the routine that finishes every dataset, and the loader.

An adapter reads and cleans its source, then hands its parts to :func:`finish_dataset`, which
builds the :class:`~segbench.data.model.CustomerData`, fills the provenance and fingerprints
the content. :func:`load_dataset` builds the configured adapter, loads, validates, checks what
cleaning dropped (:func:`check_cleaning`), marks the noise label (:func:`mark_noise`) and
pseudonymises.

Before any work, :func:`build_adapter` builds the adapter and calls its
:meth:`~DatasetAdapter.check_options` (option values, and that the data file exists), and
:meth:`~DatasetAdapter.layout` says which parts and columns the dataset will have, so
:func:`segbench.configs.resolve` can refuse a feature block the dataset cannot feed before a
run exists.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from hydra.utils import instantiate

from segbench.data.model import TRANSACTION_COLUMNS, CleaningStep, CustomerData, DatasetMeta
from segbench.data.pseudonyms import pseudonymise
from segbench.errors import ConfigError, DataError
from segbench.settings import DatasetSettings
from segbench.settings.base import coerce

log = logging.getLogger(__name__)

#: A cleaning that drops this share of the rows or customers (or more) is a console warning.
WARN_DROPPED_SHARE = 0.1


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

    def check_options(self) -> None:
        """Refuse option values that cannot work, without reading the data (default: none).

        Called by :func:`build_adapter`, so a bad option fails before a run exists. Raises
        :class:`ConfigError` (an option) or :class:`DataError` (the data file is missing).
        """
        return None

    def layout(self) -> CustomerData | None:
        """The parts and columns :meth:`load` will give, as a one-row placeholder
        (:func:`layout_data`), or ``None`` when they are known only once the data is read.

        :func:`segbench.configs.resolve` checks the feature blocks against it before any work.
        """
        return None

    def expected_customers(self) -> int | None:
        """How many customers :meth:`load` will give, when the options say it without reading
        the data (a generated dataset), else ``None``. :func:`segbench.configs.resolve` checks
        the algorithm's size guard against it before any work."""
        return None


def layout_data(
    name: str,
    customers: Mapping[str, str],
    *,
    transactions: bool = False,
    channel: bool = False,
    texts: bool = False,
    sensitive: Sequence[str] = (),
    labels: bool = False,
    outcomes: Sequence[str] = (),
    demographic_columns: Sequence[str] = (),
) -> CustomerData:
    """A one-customer placeholder :class:`CustomerData` with the given parts and columns.

    ``customers`` maps each customer column to ``"number"`` or ``"text"``. Its values mean
    nothing; feature blocks read only which parts and columns it has (``missing_part``).

    >>> layout = layout_data("toy", {"age": "number"}, demographic_columns=["age"])
    >>> layout.parts(), layout.demographic_columns
    (['customers'], ('age',))
    """
    ids = pd.Index(["·"], name="customer_id")
    frame = pd.DataFrame(
        {c: [0.0] if kind == "number" else ["·"] for c, kind in customers.items()}, index=ids
    )
    tx = None
    if transactions:
        tx = pd.DataFrame({c: ["·"] for c in TRANSACTION_COLUMNS})
        tx["timestamp"] = pd.to_datetime(["2000-01-01"])
        tx["quantity"] = 1.0
        tx["unit_price"] = 1.0
        tx["channel"] = "·" if channel else np.nan
    return CustomerData(
        customers=frame,
        meta=DatasetMeta(name=name),
        transactions=tx,
        texts=pd.DataFrame({"customer_id": ["·"], "text": ["·"]}) if texts else None,
        sensitive=pd.DataFrame({c: ["·"] for c in sensitive}, index=ids) if sensitive else None,
        labels=pd.Series(["·"], index=ids) if labels else None,
        outcomes=pd.DataFrame({c: [0.0] for c in outcomes}, index=ids) if outcomes else None,
        demographic_columns=tuple(demographic_columns),
    )


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
    adapter.check_options()
    return adapter


def load_dataset(settings: DatasetSettings | Mapping[str, Any]) -> CustomerData:
    """Build the configured adapter, load, validate, check what cleaning dropped
    (:func:`check_cleaning`), mark the noise label (:func:`mark_noise`) and pseudonymise."""
    settings = coerce(DatasetSettings, settings, "dataset")
    data = build_adapter(settings).load().validate()
    check_cleaning(data, settings.max_dropped_share)
    data = mark_noise(data, settings.noise_label)
    return pseudonymise(data)


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "0%"


def check_cleaning(data: CustomerData, max_dropped_share: float = 0.5) -> None:
    """Say on the console what cleaning dropped; stop when it dropped too much.

    Rows: from the first step's ``rows_before`` to the last step's ``rows_after`` (an
    adapter's steps are a chain). Customers: ``meta.notes["raw_customers"]`` (the distinct
    ids before cleaning, when the adapter counts them) to the customers left. Any loss is
    logged at INFO; a loss of :data:`WARN_DROPPED_SHARE` or more at WARNING (on the console
    by default); a loss above ``max_dropped_share`` (the setting
    ``dataset.max_dropped_share``) raises :class:`DataError` naming the setting.

    >>> from segbench.data.model import CleaningStep
    >>> steps = [CleaningStep("drop_missing_amount", 189, 94, "rows without an amount")]
    >>> data = layout_data("toy", {"age": "number"})
    >>> data.meta.cleaning, data.meta.notes["raw_customers"] = steps, 60
    >>> check_cleaning(data, 0.5)
    Traceback (most recent call last):
    ...
    segbench.errors.DataError: dataset 'toy': cleaning dropped 95 of 189 rows (50%) and 59 of 60 \
customers (98%): rows without an amount (95 rows, step drop_missing_amount). That is more than \
dataset.max_dropped_share=0.5 allows; fix the file, or raise dataset.max_dropped_share ...
    """
    steps = data.meta.cleaning
    rows_before = steps[0].rows_before if steps else 0
    rows_after = steps[-1].rows_after if steps else 0
    rows_dropped = max(rows_before - rows_after, 0)
    raw_customers = int(data.meta.notes.get("raw_customers", data.n_customers))
    customers_dropped = max(raw_customers - data.n_customers, 0)
    if not rows_dropped and not customers_dropped:
        return
    share = max(
        rows_dropped / rows_before if rows_before else 0.0,
        customers_dropped / raw_customers if raw_customers else 0.0,
    )
    reasons = "; ".join(
        f"{s.reason} ({s.dropped} rows, step {s.step})" for s in steps if s.dropped > 0
    )
    summary = (
        f"dataset '{data.name}': cleaning dropped {rows_dropped} of {rows_before} rows "
        f"({_share(rows_dropped, rows_before)}) and {customers_dropped} of {raw_customers} "
        f"customers ({_share(customers_dropped, raw_customers)})"
        + (f": {reasons}" if reasons else "")
        + "."
    )
    if share > max_dropped_share:
        raise DataError(
            f"{summary[:-1]}. That is more than dataset.max_dropped_share={max_dropped_share:g} "
            "allows; fix the file, or raise dataset.max_dropped_share (up to 1) to accept the "
            "loss. The steps are in the run's data/cleaning_report.csv."
        )
    level = logging.WARNING if share >= WARN_DROPPED_SHARE else logging.INFO
    log.log(level, "%s See the run's data/cleaning_report.csv.", summary)


def mark_noise(data: CustomerData, noise_label: str | int | None) -> CustomerData:
    """``data`` with the ground-truth label ``noise_label`` made missing: those customers are
    noise or unlabelled, and the external indices leave them out (as the clustbench benchmark
    scores them). Labels are compared as text (``0`` matches ``"0"``).

    >>> ids = pd.Index(["a", "b", "c"], name="customer_id")
    >>> data = layout_data("toy", {"x": "number"})
    >>> data = CustomerData(pd.DataFrame({"x": [1.0, 2, 3]}, index=ids), data.meta,
    ...                     labels=pd.Series(["1", "0", "2"], index=ids))
    >>> marked = mark_noise(data, 0)
    >>> marked.labels.isna().tolist(), marked.meta.notes["noise_labelled"]
    ([False, True, False], 1)
    """
    if noise_label is None or data.labels is None:
        return data
    labels = data.labels
    noise = labels.astype("str").to_numpy() == str(noise_label)
    out = labels.astype("str").where(~noise)
    notes = {**data.meta.notes, "noise_label": str(noise_label), "noise_labelled": int(noise.sum())}
    log.info(
        "dataset '%s': %d of %d customers carry the noise label %r and are left out of the "
        "external indices",
        data.name,
        int(noise.sum()),
        len(labels),
        noise_label,
    )
    return replace(data, labels=out, meta=replace(data.meta, notes=notes))
