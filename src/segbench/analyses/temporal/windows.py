"""Time windows of a dataset and one segmentation per window.

:func:`time_windows` cuts the transactions' span into calendar periods (``freq`` a pandas
period alias: ``"Q"`` quarters, ``"M"`` months, ``"Y"`` years); each window ``[start, end)``
is :meth:`CustomerData.window <segbench.data.model.CustomerData.window>`: the customers
active in it, their behaviour *within* it, recency measured at its end.
:func:`fit_windows` segments every window with the same config (a fresh feature pipeline and a
fresh estimator per window) and keeps each window's fitted pipeline and assignment method, so
a window's model can label the next window's customers (drift, :mod:`.drift`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segbench.data.model import CustomerData
from segbench.errors import DataError
from segbench.serving.assignment import assigner_for, refit


@dataclass
class Window:
    """One calendar window ``[start, end)``."""

    label: str
    start: pd.Timestamp
    end: pd.Timestamp


@dataclass
class WindowFit:
    """A window's data, features, labels and fitted model (pipeline + assignment method)."""

    window: Window
    data: CustomerData
    X: np.ndarray
    labels: np.ndarray
    pipeline: Any
    assigner: Any

    @property
    def ids(self) -> pd.Index:
        return self.data.customer_ids

    def predict(self, data: CustomerData) -> np.ndarray:
        """This window's model applied to other customers (e.g. the next window's)."""
        return self.assigner.predict(self.pipeline.transform(data).X)


def time_windows(data: CustomerData, freq: str = "Q") -> list[Window]:
    """Calendar windows covering the transactions (partial first/last windows included)."""
    if data.transactions is None or len(data.transactions) == 0:
        raise DataError(
            f"dataset '{data.name}' has no transactions, so it has no time windows "
            f"(it has: {', '.join(data.parts())})"
        )
    stamps = data.transactions["timestamp"]
    try:
        periods = pd.period_range(stamps.min(), stamps.max(), freq=freq)
    except ValueError as err:
        raise DataError(f"temporal freq={freq!r} is not a pandas period alias: {err}") from None
    return [Window(str(p), p.start_time, (p + 1).start_time) for p in periods]


def fit_windows(
    data: CustomerData,
    windows: list[Window],
    make_pipeline: Callable[[], Any],
    algo: Mapping[str, Any] | Any,
    seed: int = 0,
    min_customers: int = 20,
) -> tuple[list[WindowFit], list[str]]:
    """Segment each window with the same config; returns the fits and the windows skipped.

    ``algo``: an algorithm config or an estimator to copy (see
    :func:`segbench.serving.assignment.refit`).
    """
    fits, skipped = [], []
    for window in windows:
        part = data.window(window.start, window.end)
        if part.n_customers < min_customers:
            skipped.append(f"{window.label}: {part.n_customers} customers < {min_customers}")
            continue
        pipeline = make_pipeline()
        features = pipeline.fit_transform(part)
        estimator, labels = refit(algo, features.X)
        assigner = assigner_for(estimator, seed=seed).fit(features.X, labels)
        fits.append(WindowFit(window, part, features.X, labels, pipeline, assigner))
    return fits, skipped
