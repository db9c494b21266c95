"""The "Mall Customers" teaching dataset (200 customers; probably synthetic).

Source: Kaggle "Mall Customer Segmentation Data"
(``vjchoudhary7/customer-segmentation-tutorial-in-python``), copy ``Mall_Customers.csv``.
Licence: none named; the author's description says it was made only for learning customer
segmentation. **Treat it as a toy, probably synthetic, teaching dataset, not as customer
records**: results on it say nothing about real customers.

Columns ``CustomerID, Genre, Age, Annual Income (k$), Spending Score (1-100)``. ``CustomerID``
is zero-padded (``0001`` … ``0200``) and kept as a string; ``Genre`` is the gender.

What it gives: ``customers`` with ``gender``, ``age``, ``annual_income_k`` and
``spending_score`` (all four are ``demographic_columns``: with no transactions and no dates
there is no RFM signal, so demographics are all there is); ``sensitive`` ``gender`` and
``age_band``; nothing else. The ``demographics`` block leaves ``gender`` out unless
``include_sensitive=true``, so by default the classic income × spending-score × age picture is
what gets clustered.

Cleaning: ``validate_rows`` only checks (no rows are dropped on the shared file: 200 → 200):
rows with a missing id, a duplicated id or a missing value are dropped and counted; an unknown
gender value is an error.

Example
-------
>>> from segbench.datasets import load_dataset
>>> data = load_dataset({"_target_": "segbench.datasets.mall_customers.MallCustomersDataset"})
>>> data.n_customers, data.sensitive["gender"].value_counts().to_dict()
(200, {'Female': 112, 'Male': 88})
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segbench.data.model import CustomerData
from segbench.datasets.base import finish_dataset, layout_data
from segbench.datasets.cache import CachedAdapter
from segbench.datasets.readers import (
    CleaningLog,
    age_band,
    check_finite,
    read_table,
    resolve_path,
)
from segbench.errors import DataError

DEFAULT_FILE = "mall_customers.csv.gz"
SOURCE = (
    "Kaggle 'Mall Customer Segmentation Data' "
    "(vjchoudhary7/customer-segmentation-tutorial-in-python); teaching data, probably synthetic"
)
LICENCE = "none stated (informal; made for learning, per the Kaggle author)"
COLUMNS = {
    "CustomerID": "customer_id",
    "Genre": "gender",
    "Age": "age",
    "Annual Income (k$)": "annual_income_k",
    "Spending Score (1-100)": "spending_score",
}
GENDERS = ("Female", "Male")


class MallCustomersDataset(CachedAdapter):
    """Mall Customers (teaching data) as canonical :class:`CustomerData`.

    Parameters
    ----------
    path
        The CSV; default ``$SEGBENCH_DATA_DIR/mall_customers.csv.gz``.
    sep, encoding
        How the file is written.
    teaching_data
        Marks the data as teaching data (recorded in ``meta.notes["teaching_data"]``, so runs
        and leaderboards can say so); it changes nothing else.
    cache
        Use the Parquet cache.
    """

    name = "mall_customers"
    cache_version = 1

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        sep: str = ",",
        encoding: str = "utf-8",
        teaching_data: bool = True,
        cache: bool = True,
    ) -> None:
        self.path = path
        self.sep = sep
        self.encoding = encoding
        self.teaching_data = teaching_data
        self.cache = cache

    def sources(self) -> list[Path]:
        return [resolve_path(self.path, DEFAULT_FILE, self.name)]

    def check_options(self) -> None:
        self.sources()

    def layout(self) -> CustomerData:
        columns = {"gender": "text", "age": "number", "annual_income_k": "number"}
        return layout_data(
            self.name,
            {**columns, "spending_score": "number"},
            sensitive=["gender", "age_band"],
            demographic_columns=[*columns, "spending_score"],
        )

    def build(self) -> CustomerData:
        path = self.sources()[0]
        raw = read_table(
            path,
            sep=self.sep,
            encoding=self.encoding,
            dtype={"CustomerID": str, "Genre": str},
            required=tuple(COLUMNS),
        )
        df = raw[list(COLUMNS)].rename(columns=COLUMNS)
        for column in ("age", "annual_income_k", "spending_score"):
            numeric = pd.to_numeric(df[column], errors="coerce")
            bad = numeric.isna() & df[column].notna()
            if bad.any():
                original = next(k for k, v in COLUMNS.items() if v == column)
                raise DataError(
                    f"{path}: column {original!r} must be numeric; found e.g. "
                    f"{df.loc[bad, column].astype(str).head(3).tolist()}"
                )
            check_finite(numeric, next(k for k, v in COLUMNS.items() if v == column), path)
            df[column] = numeric
        df["customer_id"] = df["customer_id"].astype("str").str.strip()
        df["gender"] = df["gender"].astype("str").str.strip()
        unknown = sorted(set(df["gender"].dropna()) - set(GENDERS))
        if unknown:
            raise DataError(
                f"{path}: column 'Genre' must be one of {list(GENDERS)}; found also {unknown}"
            )
        log = CleaningLog()
        raw_customers = int(df["customer_id"].replace("", np.nan).nunique())
        before = len(df)
        incomplete = df.isna().any(axis=1)
        duplicated = df["customer_id"].duplicated(keep="first")
        df = df[~incomplete & ~duplicated]
        log.add(
            "validate_rows",
            before,
            len(df),
            f"rows with a missing value ({int(incomplete.sum())}) or a duplicated CustomerID "
            f"({int(duplicated.sum())}) dropped",
        )
        if len(df) == 0:
            raise DataError(f"{path}: no complete customer rows")
        notes: dict[str, Any] = {
            "source_file": path.name,
            "raw_rows": before,
            "raw_customers": raw_customers,
            "teaching_data": bool(self.teaching_data),
            "gender_counts": {k: int(v) for k, v in df["gender"].value_counts().items()},
        }
        index = pd.Index(df["customer_id"].to_numpy(), name="customer_id", dtype="str")
        customers = pd.DataFrame(
            {
                "gender": pd.array(df["gender"].to_numpy(), dtype="str"),
                "age": df["age"].to_numpy(dtype=float),
                "annual_income_k": df["annual_income_k"].to_numpy(dtype=float),
                "spending_score": df["spending_score"].to_numpy(dtype=float),
            },
            index=index,
        )
        sensitive = pd.DataFrame(
            {"gender": customers["gender"].to_numpy(), "age_band": age_band(customers["age"])},
            index=index,
        ).astype("str")
        return finish_dataset(
            self.name,
            customers,
            sensitive=sensitive,
            demographic_columns=("gender", "age", "annual_income_k", "spending_score"),
            source=f"{SOURCE}; file {path.name}",
            licence=LICENCE,
            cleaning=log.steps,
            notes=notes,
        )
