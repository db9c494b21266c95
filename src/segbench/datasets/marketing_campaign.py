"""The "Customer Personality Analysis" dataset (``marketing_campaign.csv``, 2,240 customers).

Source: Kaggle dataset ``imakash3011/customer-personality-analysis`` (credited to Dr. Omar
Romero-Hernandez; the company and the collection are not documented). Licence: CC0 1.0 as
listed on Kaggle (not re-checked; provenance is thin — cite it as a Kaggle dataset). The file
is TAB-separated despite its ``.csv`` name.

What it gives (no transactions — the data has none):

- ``customers``: demographics ``age`` (``reference_year - Year_Birth``, where the reference
  year is the year of the last ``Dt_Customer``, 2014), ``education``, ``marital_status``,
  ``income``, ``children`` (``Kidhome + Teenhome``; ``kidhome`` and ``teenhome`` are kept too);
  behaviour: the precomputed RFM equivalents the ``rfm`` block reads — ``recency`` (days since
  the last purchase, as given), ``frequency`` (web + catalog + store purchases) and
  ``monetary`` (sum of the six ``Mnt*`` amounts, two years) —, spend per category
  ``spend_wines, spend_fruits, spend_meat, spend_fish, spend_sweets, spend_gold``, purchases
  per channel ``n_purchases_web, n_purchases_catalog, n_purchases_store`` and
  ``n_purchases_deals`` (purchases made with a discount, through any channel, so *not* a
  channel and not part of ``frequency``), ``n_web_visits_month``, ``tenure_days`` (analysis
  date minus ``Dt_Customer``) and ``complain``.
- ``demographic_columns``: ``age, education, marital_status, income, children``.
- ``sensitive``: ``age_band`` (18-29, 30-39, …, 70+) and ``marital_status`` (a protected
  characteristic in e.g. UK and EU law). The ``demographics`` block leaves ``marital_status``
  out unless ``include_sensitive=true``; ``age`` itself stays a feature.
- ``outcomes``: ``accepted_cmp1`` … ``accepted_cmp5`` (reordered from the file's 3, 4, 5, 1, 2)
  and ``response`` (the last campaign; 14.9 % positive).
- analysis date: the day after the last ``Dt_Customer`` (2014-06-30), or ``analysis_date``.

Cleaning, in this order (documented choices, each configurable):

1. ``drop_constant_columns`` — ``Z_CostContact`` (always 3) and ``Z_Revenue`` (always 11)
   carry no information and are dropped (rows unchanged; a column that is not constant in the
   file is kept and the step says so).
2. ``implausible_birth_year`` — ``Year_Birth`` before ``min_birth_year`` (1920: 1893, 1899,
   1900, i.e. ages 114-121). ``birth_year_handling="drop"`` (default) drops the 3 rows; ``"impute"``
   keeps them with the median age of the others.
3. ``income_outlier`` — ``Income`` above ``income_max`` (200,000: the single 666,666, the next
   highest is 162,397). ``income_outlier_handling="drop"`` (default) drops it; ``"cap"`` sets it
   to ``income_max``; ``"keep"`` leaves it.
4. ``impute_income`` — the 24 missing incomes get the median of the other incomes (after step
   3); rows unchanged.
5. ``marital_status`` — ``Alone`` → ``Single`` (3); ``Absurd`` and ``YOLO`` (2 + 2, joke
   answers) → ``"Other"`` (default) or dropped (``odd_marital_handling="drop"``).
6. ``education`` — ``2n Cycle`` (the Bologna second cycle, i.e. a master's-level degree, 203
   rows) → ``Master`` when ``merge_2n_cycle`` (default true); rows unchanged.

Figures on the shared file (asserted in ``tests/test_datasets_real.py``), rows = customers:

==========================  =======  =====  ==============================================
step                        dropped  rows   note
==========================  =======  =====  ==============================================
raw                                  2,240
drop_constant_columns             0  2,240  Z_CostContact, Z_Revenue dropped
implausible_birth_year            3  2,237  Year_Birth 1893, 1899, 1900
income_outlier                    1  2,236  Income 666,666
impute_income                     0  2,236  24 missing incomes → median 51,371
marital_status                    0  2,236  Alone→Single 3, Absurd/YOLO→Other 4
education                         0  2,236  2n Cycle→Master 201 (2 were dropped)
==========================  =======  =====  ==============================================

Six customers have ``frequency`` 0 (no web, catalog or store purchase) but a positive
``monetary``: the file's counts and amounts do not always agree; they are kept as given.

Example
-------
>>> from segbench.datasets import load_dataset
>>> target = "segbench.datasets.marketing_campaign.MarketingCampaignDataset"
>>> data = load_dataset({"_target_": target})
>>> data.n_customers, sorted(data.sensitive.columns)
(2236, ['age_band', 'marital_status'])
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from segbench.data.model import CustomerData
from segbench.datasets.base import analysis_date, day_after, finish_dataset, layout_data
from segbench.datasets.cache import CachedAdapter
from segbench.datasets.readers import (
    CleaningLog,
    age_band,
    check_finite,
    read_table,
    resolve_path,
)
from segbench.errors import ConfigError, DataError

DEFAULT_FILE = "marketing_campaign.csv.gz"
SOURCE = (
    "Kaggle 'Customer Personality Analysis' (imakash3011/customer-personality-analysis), "
    "credited to Dr. Omar Romero-Hernandez; company and collection undocumented"
)
LICENCE = "CC0 1.0 (as listed on Kaggle; not re-checked)"

SPEND_COLUMNS = {
    "MntWines": "spend_wines",
    "MntFruits": "spend_fruits",
    "MntMeatProducts": "spend_meat",
    "MntFishProducts": "spend_fish",
    "MntSweetProducts": "spend_sweets",
    "MntGoldProds": "spend_gold",
}
CHANNEL_COLUMNS = {
    "NumWebPurchases": "n_purchases_web",
    "NumCatalogPurchases": "n_purchases_catalog",
    "NumStorePurchases": "n_purchases_store",
    "NumDealsPurchases": "n_purchases_deals",
}
OUTCOME_COLUMNS = {
    "AcceptedCmp1": "accepted_cmp1",
    "AcceptedCmp2": "accepted_cmp2",
    "AcceptedCmp3": "accepted_cmp3",
    "AcceptedCmp4": "accepted_cmp4",
    "AcceptedCmp5": "accepted_cmp5",
    "Response": "response",
}
CONSTANT_COLUMNS = ("Z_CostContact", "Z_Revenue")
REQUIRED_COLUMNS = (
    "ID",
    "Year_Birth",
    "Education",
    "Marital_Status",
    "Income",
    "Kidhome",
    "Teenhome",
    "Dt_Customer",
    "Recency",
    *SPEND_COLUMNS,
    *CHANNEL_COLUMNS,
    "NumWebVisitsMonth",
    *OUTCOME_COLUMNS,
    "Complain",
)
DEMOGRAPHIC_COLUMNS = ("age", "education", "marital_status", "income", "children")
#: The customer columns the adapter gives.
LAYOUT_COLUMNS = (
    *DEMOGRAPHIC_COLUMNS,
    "kidhome",
    "teenhome",
    "recency",
    "frequency",
    "monetary",
    "tenure_days",
    "n_web_visits_month",
    "complain",
    *SPEND_COLUMNS.values(),
    *CHANNEL_COLUMNS.values(),
)
_HANDLING = {
    "birth_year_handling": ("drop", "impute"),
    "income_outlier_handling": ("drop", "cap", "keep"),
    "odd_marital_handling": ("other", "drop"),
}


class MarketingCampaignDataset(CachedAdapter):
    """Customer Personality Analysis as canonical :class:`CustomerData` (no transactions).

    Parameters
    ----------
    path
        The TAB-separated file; default ``$SEGBENCH_DATA_DIR/marketing_campaign.csv.gz``.
    sep, encoding
        How the file is written (TAB, UTF-8).
    min_birth_year, birth_year_handling
        Birth years before ``min_birth_year`` are implausible: ``"drop"`` or ``"impute"``.
    income_max, income_outlier_handling
        Incomes above ``income_max``: ``"drop"``, ``"cap"`` or ``"keep"``.
    odd_marital_handling
        ``Absurd``/``YOLO``: ``"other"`` (recode to ``"Other"``) or ``"drop"``.
    merge_2n_cycle
        Recode ``2n Cycle`` as ``Master``.
    analysis_date
        ``YYYY-MM-DD``; default the day after the last ``Dt_Customer``.
    cache
        Use the Parquet cache.
    """

    name = "marketing_campaign"
    cache_version = 1

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        sep: str = "\t",
        encoding: str = "utf-8",
        min_birth_year: int = 1920,
        birth_year_handling: str = "drop",
        income_max: float = 200_000,
        income_outlier_handling: str = "drop",
        odd_marital_handling: str = "other",
        merge_2n_cycle: bool = True,
        analysis_date: str | None = None,
        cache: bool = True,
    ) -> None:
        self.path = path
        self.sep = sep
        self.encoding = encoding
        self.min_birth_year = min_birth_year
        self.birth_year_handling = birth_year_handling
        self.income_max = income_max
        self.income_outlier_handling = income_outlier_handling
        self.odd_marital_handling = odd_marital_handling
        self.merge_2n_cycle = merge_2n_cycle
        self.analysis_date = analysis_date
        self.cache = cache

    def sources(self) -> list[Path]:
        return [resolve_path(self.path, DEFAULT_FILE, self.name)]

    def check_options(self) -> None:
        for option, allowed in _HANDLING.items():
            value = getattr(self, option)
            if value not in allowed:
                raise ConfigError(
                    f"dataset '{self.name}': {option}={value!r} is not one of {list(allowed)} "
                    f"(set dataset.{option})"
                )
        analysis_date(self.analysis_date, self.name)
        self.sources()

    def layout(self) -> CustomerData:
        text = ("education", "marital_status")
        numbers = [c for c in LAYOUT_COLUMNS if c not in text]
        return layout_data(
            self.name,
            {**{c: "number" for c in numbers}, **{c: "text" for c in text}},
            sensitive=["age_band", "marital_status"],
            outcomes=list(OUTCOME_COLUMNS.values()),
            demographic_columns=DEMOGRAPHIC_COLUMNS,
        )

    def build(self) -> CustomerData:
        self.check_options()
        path = self.sources()[0]
        df = read_table(
            path,
            sep=self.sep,
            encoding=self.encoding,
            dtype={"ID": str},
            required=REQUIRED_COLUMNS,
        )
        for column in REQUIRED_COLUMNS:
            if column not in ("ID", "Education", "Marital_Status", "Dt_Customer"):
                df[column] = _numeric(df[column], column, path, allow_missing=column == "Income")
        df["ID"] = df["ID"].astype("str").str.strip()
        if df["ID"].duplicated().any():
            dup = df.loc[df["ID"].duplicated(), "ID"].head(3).tolist()
            n_dup = int(df["ID"].duplicated().sum())
            raise DataError(
                f"{path}: column 'ID' must be unique; duplicated e.g. {dup}",
                public=f"{path}: column 'ID' must be unique; {n_dup} duplicated ids",
            )
        enrolled = pd.to_datetime(df["Dt_Customer"], format="%d-%m-%Y", errors="coerce")
        if enrolled.isna().any():
            bad = df.loc[enrolled.isna(), "Dt_Customer"].astype(str).head(3).tolist()
            raise DataError(
                f"{path}: column 'Dt_Customer' must be dates written dd-mm-yyyy; found e.g. {bad}"
            )
        df["Dt_Customer"] = enrolled
        reference_year = int(enrolled.max().year)
        log = CleaningLog()
        notes: dict[str, Any] = {
            "source_file": path.name,
            "raw_rows": len(df),
            "raw_customers": len(df),
            "age_reference_year": reference_year,
        }

        # 1. constant columns
        constant = [c for c in CONSTANT_COLUMNS if c in df.columns and df[c].nunique() <= 1]
        varying = [c for c in CONSTANT_COLUMNS if c in df.columns and c not in constant]
        df = df.drop(columns=constant)
        reason = f"constant columns dropped: {', '.join(constant) or 'none'}"
        if varying:
            reason += f"; not constant in this file, kept: {', '.join(varying)}"
        log.add("drop_constant_columns", len(df), len(df), reason)

        # 2. implausible birth years
        before = len(df)
        implausible = df["Year_Birth"] < self.min_birth_year
        years = sorted(df.loc[implausible, "Year_Birth"].astype(int).tolist())
        age = (reference_year - df["Year_Birth"]).astype(float)
        if self.birth_year_handling == "drop":
            df, age = df[~implausible], age[~implausible]
            what = "dropped"
        else:
            age = age.where(~implausible, float(age[~implausible].median()))
            what = "age set to the median age of the others"
        log.add(
            "implausible_birth_year",
            before,
            len(df),
            f"Year_Birth before {self.min_birth_year} ({int(implausible.sum())} rows: {years}): "
            f"{what}",
        )
        df = df.assign(age=age)

        # 3. income outlier
        before = len(df)
        outlier = df["Income"] > self.income_max
        values = sorted(df.loc[outlier, "Income"].tolist())
        if self.income_outlier_handling == "drop":
            df = df[~outlier]
        elif self.income_outlier_handling == "cap":
            df = df.assign(Income=df["Income"].where(~outlier, float(self.income_max)))
        log.add(
            "income_outlier",
            before,
            len(df),
            f"Income above {self.income_max:g} ({int(outlier.sum())} rows: {values}): "
            f"{self.income_outlier_handling}",
        )

        # 4. missing income
        missing = df["Income"].isna()
        median = float(df["Income"].median())
        df = df.assign(Income=df["Income"].fillna(median))
        notes["income_imputed"] = int(missing.sum())
        notes["income_median"] = median
        log.add(
            "impute_income",
            len(df),
            len(df),
            f"{int(missing.sum())} missing incomes set to the median {median:g}",
        )

        # 5. marital status
        before = len(df)
        marital = df["Marital_Status"].astype("str").str.strip()
        alone = marital == "Alone"
        odd = marital.isin(["Absurd", "YOLO"])
        marital = marital.where(~alone, "Single")
        if self.odd_marital_handling == "drop":
            keep = ~odd
            df, marital = df[keep], marital[keep]
            what = "dropped"
        else:
            marital = marital.where(~odd, "Other")
            what = "recoded 'Other'"
        df = df.assign(Marital_Status=marital)
        log.add(
            "marital_status",
            before,
            len(df),
            f"'Alone' recoded 'Single' ({int(alone.sum())}); 'Absurd'/'YOLO' "
            f"({int(odd.sum())}) {what}",
        )

        # 6. education
        education = df["Education"].astype("str").str.strip()
        second_cycle = education == "2n Cycle"
        if self.merge_2n_cycle:
            education = education.where(~second_cycle, "Master")
            what = f"'2n Cycle' recoded 'Master' ({int(second_cycle.sum())})"
        else:
            what = f"'2n Cycle' kept ({int(second_cycle.sum())})"
        df = df.assign(Education=education)
        log.add("education", len(df), len(df), what)

        if len(df) == 0:
            raise DataError(f"{path}: no customers left after cleaning")
        return self._assemble(df, log, notes)

    def _assemble(self, df: pd.DataFrame, log: CleaningLog, notes: dict[str, Any]) -> CustomerData:
        when = analysis_date(self.analysis_date, self.name, day_after(df["Dt_Customer"]))
        index = pd.Index(df["ID"].to_numpy(), name="customer_id", dtype="str")
        spend = df[list(SPEND_COLUMNS)].rename(columns=SPEND_COLUMNS)
        channels = df[list(CHANNEL_COLUMNS)].rename(columns=CHANNEL_COLUMNS)
        customers = pd.DataFrame(
            {
                "age": df["age"].to_numpy(dtype=float),
                "education": df["Education"].to_numpy(),
                "marital_status": df["Marital_Status"].to_numpy(),
                "income": df["Income"].to_numpy(dtype=float),
                "children": (df["Kidhome"] + df["Teenhome"]).to_numpy(dtype="int64"),
                "kidhome": df["Kidhome"].to_numpy(dtype="int64"),
                "teenhome": df["Teenhome"].to_numpy(dtype="int64"),
                "recency": df["Recency"].to_numpy(dtype=float),
                "frequency": (
                    channels[["n_purchases_web", "n_purchases_catalog", "n_purchases_store"]]
                    .sum(axis=1)
                    .to_numpy(dtype=float)
                ),
                "monetary": spend.sum(axis=1).to_numpy(dtype=float),
                "tenure_days": ((when - df["Dt_Customer"]) / pd.Timedelta(days=1)).to_numpy(),
                "n_web_visits_month": df["NumWebVisitsMonth"].to_numpy(dtype="int64"),
                "complain": df["Complain"].to_numpy(dtype="int64"),
            },
            index=index,
        )
        for frame in (spend, channels):
            for column in frame.columns:
                customers[column] = frame[column].to_numpy(dtype="int64")
        customers["education"] = customers["education"].astype("str")
        customers["marital_status"] = customers["marital_status"].astype("str")
        sensitive = pd.DataFrame(
            {
                "age_band": age_band(customers["age"]).to_numpy(),
                "marital_status": customers["marital_status"].to_numpy(),
            },
            index=index,
        ).astype("str")
        outcomes = pd.DataFrame(
            {new: df[old].to_numpy(dtype="int64") for old, new in OUTCOME_COLUMNS.items()},
            index=index,
        )
        notes["enrolment_span"] = [
            df["Dt_Customer"].min().date().isoformat(),
            df["Dt_Customer"].max().date().isoformat(),
        ]
        return finish_dataset(
            self.name,
            customers,
            sensitive=sensitive,
            outcomes=outcomes,
            demographic_columns=DEMOGRAPHIC_COLUMNS,
            source=f"{SOURCE}; file {notes['source_file']}",
            licence=LICENCE,
            analysis_date=when,
            cleaning=log.steps,
            notes=notes,
        )


def _numeric(values: pd.Series, column: str, path: Path, allow_missing: bool) -> pd.Series:
    out = pd.to_numeric(values, errors="coerce")
    bad = out.isna() & values.notna()
    if not allow_missing:
        bad |= values.isna()
    if bad.any():
        examples = values[bad].astype(str).unique()[:5].tolist()
        raise DataError(
            f"{path}: column {column!r} must be numeric"
            f"{'' if allow_missing else ' with no gaps'}; found {int(bad.sum())} values that "
            f"are not, e.g. {examples}"
        )
    check_finite(out, column, path)
    return out.astype(float) if out.isna().any() or column == "Income" else out
