"""A tiny, fully known dataset for unit tests (three well-separated groups)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segbench.data.model import CustomerData, DatasetMeta, fingerprint_frames
from segbench.datasets.base import DatasetAdapter

REVIEWS = np.array(
    ["great quality, I love it", "too expensive, waiting for a sale", "late delivery, very annoyed"]
)


def toy_data(n: int = 300, seed: int = 0) -> CustomerData:
    """``n`` customers in three groups that differ in age, spend, recency and review."""
    rng = np.random.default_rng(seed)
    group = np.arange(n) % 3
    ids = pd.Index([f"T{i:05d}" for i in range(n)], name="customer_id")
    customers = pd.DataFrame(
        {
            "age": rng.normal(30 + 15 * group, 3).round(),
            "income": rng.normal(30_000 * (1 + group), 4_000),
            "gender": np.where(rng.random(n) < 0.5, "female", "male"),
            "region": np.where(group == 2, "north", "south"),
        },
        index=ids,
    )
    lines = rng.integers(1, 4, n) + 3 * group  # group g buys 1-3 + 3g times
    owner = np.repeat(np.arange(n), lines)
    start = pd.Timestamp("2024-01-01")
    transactions = pd.DataFrame(
        {
            "customer_id": ids[owner],
            "invoice_id": [f"I{i:06d}" for i in range(len(owner))],
            "timestamp": start
            + pd.to_timedelta(rng.integers(0, 100, len(owner)) + 120 * group[owner], unit="D"),
            "product_id": rng.choice(["P1", "P2", "P3"], len(owner)),
            "description": "item",
            "quantity": rng.integers(1, 4, len(owner)),
            "unit_price": rng.gamma(2.0, 5 + 20 * group[owner]),
            "channel": "web",
        }
    )
    texts = pd.DataFrame({"customer_id": ids, "text": REVIEWS[group]})
    labels = pd.Series(group.astype(str), index=ids, name="segment")
    meta = DatasetMeta(
        name="toy",
        source="tests",
        fingerprint=fingerprint_frames(customers, transactions),
        analysis_date=pd.Timestamp("2024-12-31"),
    )
    return CustomerData(
        customers=customers,
        meta=meta,
        transactions=transactions,
        texts=texts,
        sensitive=customers[["gender"]].copy(),
        labels=labels,
        demographic_columns=("age", "income", "gender", "region"),
    )


class ToyDataset(DatasetAdapter):
    """Adapter over :func:`toy_data` (``dataset._target_=toydata.ToyDataset`` in tests)."""

    name = "toy"

    def __init__(self, n_customers: int = 300, seed: int = 0, **_: object) -> None:
        self.n_customers = n_customers
        self.seed = seed

    def load(self) -> CustomerData:
        return toy_data(self.n_customers, self.seed)
