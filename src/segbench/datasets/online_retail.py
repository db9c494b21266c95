"""The UCI "Online Retail" dataset: a UK gift retailer's invoice lines, 2010-12-01 to 2011-12-09.

Source: UCI Machine Learning Repository, "Online Retail" (id 352), donated by Dr Daqing Chen;
Chen, Sain & Guo (2012), *Data mining for the online retail industry: a case study of RFM
model-based customer segmentation using data mining*, JDMCSM 19(3), doi:10.1057/dbm.2012.17.
Licence: CC BY 4.0. The shared copy ``online_retail.csv.gz`` is described in the shared data
README; the adapter also reads the original UCI ``Online Retail.xlsx`` (same columns) and the
"Online Retail II" layout (``Invoice, StockCode, Description, Quantity, InvoiceDate, Price,
Customer ID, Country``) as CSV or ``.xlsx`` (``sheet`` picks a sheet; ``sheet="all"`` stacks
every sheet, the exact-duplicate step then removes lines present in two sheets).

What it gives: transactions (``channel`` is missing: the data has no channel), one customer
row per customer with ``country`` and ``country_group`` (``"UK"`` / ``"non-UK"``), the
sensitive attributes ``country`` and ``country_group``, and one text per customer: what they
bought (see *Texts*). ``demographic_columns`` is ``("country_group",)``: the country is the
only demographic and it is also a sensitive attribute, so the ``demographics`` block refuses it
unless ``include_sensitive=true`` is asked for (a clear error, rather than silently nothing).

Cleaning, in this order (each step is a :class:`~segbench.data.model.CleaningStep`):

1. ``drop_missing_customer`` — lines without a CustomerID (cannot be attributed to anyone).
2. ``drop_exact_duplicates`` — lines identical in all eight raw columns to an earlier line.
3. ``drop_non_product_codes`` — postage, fees, discounts, manual adjustments, vouchers: the
   stock codes in :data:`NON_PRODUCT_CODES` and those starting with one of
   :data:`NON_PRODUCT_PREFIXES` (matched case-insensitively after stripping). The list was
   derived from this file: every code that is not five digits plus an optional letter suffix
   was inspected; of those, ``POST, DOT, M, m, C2, D, S, B, BANK CHARGES, AMAZONFEE, CRUK,
   PADS`` and ``gift_0001_*`` are not products (``PADS``, "pads to match all cushions", is a
   0.001-pound placeholder line). The ``DCGS*`` codes (dotcom gift shop items such as
   "boys party bag") are real products and kept. ``ADJUST, ADJUST2, TEST001, TEST002`` are in
   the list for the Online Retail II data, where they occur.
4. ``net_cancellations`` — a cancellation (invoice starting ``C``) is netted against the same
   customer's earlier purchases (timestamp not later than the cancellation) of the same
   stock code: its quantity is subtracted from those purchases, most recent first, down to
   zero. A cancellation that nets at least one unit is *matched* and removed, and purchase
   lines netted down to zero are removed with it; units that found nothing left to net are
   counted in ``notes["cancellations"]["units_not_netted"]``.
5. ``drop_unmatched_cancellations`` — cancellations with no earlier purchase of the same
   customer and code left to net against are dropped; ``notes["cancellations"]`` says why
   (no purchase of the code by the customer in the data, only later purchases, or earlier
   purchases already netted to zero).
6. ``drop_non_positive`` — lines with quantity <= 0 or unit price <= 0 (free items).

Figures on the shared ``online_retail.csv.gz`` (541,909 lines, 4,372 customers), lines and
distinct customers after each step (asserted in ``tests/test_datasets_real.py``):

==============================  =======  =========  =========
step                            dropped  lines      customers
==============================  =======  =========  =========
raw                                      541,909    4,372
drop_missing_customer           135,080  406,829    4,372
drop_exact_duplicates             5,225  401,604    4,372
drop_non_product_codes            1,915  399,689    4,363
net_cancellations                10,224  389,465    4,354
drop_unmatched_cancellations      1,052  388,413    4,325
drop_non_positive                    31  388,382    4,324
==============================  =======  =========  =========

Of the 5,268 exact duplicates in the raw file, 43 have no CustomerID and go in step 1. Of the
9,288 cancellation lines, 383 have no CustomerID; of the other 8,905, 399 cancel non-product
codes (step 3), leaving 8,506: 7,454 are matched (netting 248,964 units; 2,770 purchase lines
netted to zero and removed, 4,562 reduced; 557 cancelled units found nothing left to net) and
1,052 are not: 692 cancel a code the customer never bought in the data, 336 a code bought
only later, 24 find the earlier purchases already netted to zero. 550 of the 1,052 fall in
December 2010 and January 2011, as expected of returns of purchases made before the data
begin. The non-product lines dropped in step 3 are POST 1,196, M 460, C2 134, D 77,
CRUK 16, DOT 16, BANK CHARGES 12, PADS 4 (the other listed codes only occur on lines without
a customer). Customers who only cancelled, or only bought non-products or free items,
disappear: 4,324 customers remain (3,909 UK, 415 non-UK; 8 customers appear with two
countries and get their most frequent one, ties alphabetically).

Texts: for each customer, the distinct product descriptions they bought (stripped), the
``text_max_descriptions`` most often bought first (by number of lines, then quantity, then
alphabetically), joined with ``"; "``. So ``rfm+text`` means "how and what they buy".

Analysis date: the day after the last invoice (2011-12-10), or ``analysis_date``.

Example
-------
>>> from segbench.datasets import load_dataset
>>> data = load_dataset({"_target_": "segbench.datasets.online_retail.OnlineRetailDataset"})
>>> data.n_customers, len(data.transactions)
(4324, 388382)
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segbench.data.model import CustomerData
from segbench.datasets.base import analysis_date, day_after, finish_dataset, layout_data
from segbench.datasets.cache import CachedAdapter
from segbench.datasets.readers import (
    CleaningLog,
    as_text,
    check_finite,
    excel_sheets,
    file_format,
    read_table,
    require_columns,
    resolve_path,
)
from segbench.errors import DataError

DEFAULT_FILE = "online_retail.csv.gz"
SOURCE = (
    "UCI Machine Learning Repository, 'Online Retail' (id 352), donated by D. Chen; "
    "Chen, Sain & Guo (2012), doi:10.1057/dbm.2012.17"
)
LICENCE = "CC BY 4.0"

#: Columns of the UCI "Online Retail" layout (the shared CSV and ``Online Retail.xlsx``).
CLASSIC_COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
#: The same columns in the "Online Retail II" layout.
RETAIL_II_RENAME = {"Invoice": "InvoiceNo", "Price": "UnitPrice", "Customer ID": "CustomerID"}
RETAIL_II_COLUMNS = tuple(
    {v: k for k, v in RETAIL_II_RENAME.items()}.get(c, c) for c in CLASSIC_COLUMNS
)

#: Stock codes that are not products (matched upper-cased, after stripping spaces).
NON_PRODUCT_CODES = (
    "POST",
    "DOT",
    "M",
    "C2",
    "D",
    "S",
    "B",
    "BANK CHARGES",
    "AMAZONFEE",
    "CRUK",
    "PADS",
    "ADJUST",
    "ADJUST2",
    "TEST001",
    "TEST002",
)
#: Prefixes of non-product stock codes (gift vouchers), matched upper-cased.
NON_PRODUCT_PREFIXES = ("gift_0001_",)


class OnlineRetailDataset(CachedAdapter):
    """UCI Online Retail (or Online Retail II) as canonical :class:`CustomerData`.

    Parameters
    ----------
    path
        The data file (``.csv``, ``.csv.gz``, ``.xlsx``); default
        ``$SEGBENCH_DATA_DIR/online_retail.csv.gz``.
    sheet
        Excel only: sheet name or 0-based number (default the first), or ``"all"`` to stack
        every sheet (Online Retail II has "Year 2009-2010" and "Year 2010-2011").
    encoding, sep
        Text files only.
    non_product_codes, non_product_prefixes
        Stock codes (and code prefixes) dropped as not products; default the documented lists.
    text_max_descriptions
        At most this many distinct descriptions per customer text.
    analysis_date
        Reference date for recency (``YYYY-MM-DD``); default the day after the last invoice.
    uk_country
        The country value that makes ``country_group`` ``"UK"``.
    cache
        Use the Parquet cache (:mod:`segbench.datasets.cache`).
    """

    name = "online_retail"
    cache_version = 2

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        sheet: str | int | None = None,
        encoding: str = "utf-8",
        sep: str = ",",
        non_product_codes: list[str] | tuple[str, ...] = NON_PRODUCT_CODES,
        non_product_prefixes: list[str] | tuple[str, ...] = NON_PRODUCT_PREFIXES,
        text_max_descriptions: int = 60,
        analysis_date: str | None = None,
        uk_country: str = "United Kingdom",
        cache: bool = True,
    ) -> None:
        self.path = path
        self.sheet = sheet
        self.encoding = encoding
        self.sep = sep
        self.non_product_codes = tuple(non_product_codes)
        self.non_product_prefixes = tuple(non_product_prefixes)
        self.text_max_descriptions = text_max_descriptions
        self.analysis_date = analysis_date
        self.uk_country = uk_country
        self.cache = cache

    def sources(self) -> list[Path]:
        return [resolve_path(self.path, DEFAULT_FILE, self.name)]

    def check_options(self) -> None:
        analysis_date(self.analysis_date, self.name)
        self.sources()

    def layout(self) -> CustomerData:
        return layout_data(
            self.name,
            {"country": "text", "country_group": "text"},
            transactions=True,
            texts=True,
            sensitive=["country", "country_group"],
            demographic_columns=["country_group"],
        )

    # ---------------------------------------------------------------------------------------

    def read_raw(self, path: Path) -> tuple[pd.DataFrame, str]:
        """The raw lines in the classic column names, and the layout found."""
        text_columns = ("InvoiceNo", "Invoice", "StockCode", "CustomerID", "Customer ID")
        dtype: dict[str, Any] = dict.fromkeys(text_columns, str)
        dtype.update(Description=str, Country=str)
        if file_format(path) == "excel" and self.sheet == "all":
            frames = [read_table(path, sheet=name, dtype=dtype) for name in excel_sheets(path)]
            frame = pd.concat(frames, ignore_index=True)
        else:
            frame = read_table(
                path, sep=self.sep, encoding=self.encoding, sheet=self.sheet, dtype=dtype
            )
        if "InvoiceNo" in frame.columns:
            layout = "Online Retail"
            require_columns(frame, CLASSIC_COLUMNS, path, "UCI Online Retail layout")
        elif "Invoice" in frame.columns:
            layout = "Online Retail II"
            require_columns(frame, RETAIL_II_COLUMNS, path, "UCI Online Retail II layout")
            frame = frame.rename(columns=RETAIL_II_RENAME)
        else:
            raise DataError(
                f"{path}: expected the UCI Online Retail columns {list(CLASSIC_COLUMNS)} or the "
                f"Online Retail II columns {list(RETAIL_II_COLUMNS)}; the file has the columns "
                f"{[str(c) for c in frame.columns]}"
            )
        return frame[list(CLASSIC_COLUMNS)], layout

    def _normalise(self, raw: pd.DataFrame, path: Path) -> pd.DataFrame:
        """Typed columns: ids as stripped strings (no ``.0``), datetime, numbers."""
        df = pd.DataFrame(index=raw.index)
        df["InvoiceNo"] = as_text(raw["InvoiceNo"]).str.strip()
        df["StockCode"] = as_text(raw["StockCode"]).str.strip()
        df["Description"] = as_text(raw["Description"])
        df["Quantity"] = _numeric(raw["Quantity"], "Quantity", path)
        df["InvoiceDate"] = _timestamps(raw["InvoiceDate"], path)
        df["UnitPrice"] = _numeric(raw["UnitPrice"], "UnitPrice", path)
        customer = as_text(raw["CustomerID"]).str.strip().str.replace(r"\.0+$", "", regex=True)
        df["CustomerID"] = customer.where(customer != "", np.nan)
        df["Country"] = as_text(raw["Country"]).str.strip()
        return df

    def build(self) -> CustomerData:
        path = self.sources()[0]
        raw, layout = self.read_raw(path)
        df = self._normalise(raw, path)
        del raw
        log = CleaningLog()
        n_raw, c_raw = len(df), df["CustomerID"].nunique()
        notes: dict[str, Any] = {
            "source_file": path.name,
            "layout": layout,
            "raw_rows": n_raw,
            "raw_customers": int(c_raw),
        }

        def customers(frame: pd.DataFrame) -> int:
            return int(frame["CustomerID"].nunique())

        # 1. lines without a customer
        before = len(df)
        df = df[df["CustomerID"].notna()]
        log.add(
            "drop_missing_customer",
            before,
            len(df),
            "invoice lines without a CustomerID cannot be attributed to a customer",
            customers(df),
        )

        # 2. exact duplicates (all eight raw columns)
        before = len(df)
        df = df[~df.duplicated(keep="first")]
        log.add(
            "drop_exact_duplicates",
            before,
            len(df),
            "lines identical in every column to an earlier line (first kept)",
            customers(df),
        )

        # 3. non-product stock codes
        before = len(df)
        code = df["StockCode"].str.upper()
        upper_codes = {c.strip().upper() for c in self.non_product_codes}
        prefixes = tuple(p.strip().upper() for p in self.non_product_prefixes)
        non_product = code.isin(upper_codes)
        if prefixes:
            non_product |= code.str.startswith(prefixes)
        found = Counter(df.loc[non_product, "StockCode"].tolist())
        notes["non_product_codes_dropped"] = dict(sorted(found.items()))
        df = df[~non_product]
        log.add(
            "drop_non_product_codes",
            before,
            len(df),
            f"stock codes that are not products (postage, fees, discounts, manual, vouchers): "
            f"{', '.join(sorted(found))}",
            customers(df),
        )

        # 4./5. cancellations
        df, stats = net_cancellations(df)
        notes["cancellations"] = stats
        before = stats["rows_before"]
        after_netting = before - stats["matched"] - stats["purchase_lines_fully_cancelled"]
        kept = df[~df["_unmatched"]]
        log.add(
            "net_cancellations",
            before,
            after_netting,
            f"{stats['matched']} cancellation lines netted against the same customer's earlier "
            f"purchases of the same stock code ({stats['units_netted']} units; "
            f"{stats['purchase_lines_fully_cancelled']} purchase lines netted to zero and "
            f"removed; {stats['units_not_netted']} cancelled units found nothing left to net)",
            customers(df),
        )
        log.add(
            "drop_unmatched_cancellations",
            after_netting,
            len(kept),
            f"{stats['unmatched']} cancellation lines with no earlier purchase of the same "
            "customer and stock code in the data",
            customers(kept),
        )
        df = kept.drop(columns="_unmatched")

        # 6. non-positive quantity or price
        before = len(df)
        df = df[(df["Quantity"] > 0) & (df["UnitPrice"] > 0)]
        log.add(
            "drop_non_positive",
            before,
            len(df),
            "quantity <= 0 or unit price <= 0 (free items, adjustments)",
            customers(df),
        )
        if len(df) == 0:
            raise DataError(f"{path}: no invoice lines left after cleaning")
        notes["customers_after_step"] = dict(log.customers)
        return self._assemble(df.reset_index(drop=True), log, notes)

    def _assemble(self, df: pd.DataFrame, log: CleaningLog, notes: dict[str, Any]) -> CustomerData:
        description = df["Description"].str.strip()
        transactions = pd.DataFrame(
            {
                "customer_id": df["CustomerID"].astype("str"),
                "invoice_id": df["InvoiceNo"].astype("str"),
                "timestamp": df["InvoiceDate"],
                "product_id": df["StockCode"].astype("str"),
                "description": description.astype("str"),
                "quantity": df["Quantity"].astype("int64"),
                "unit_price": df["UnitPrice"].astype("float64"),
                "channel": pd.Series(np.nan, index=df.index, dtype="str"),
            }
        )
        transactions = transactions.sort_values(
            ["timestamp", "invoice_id"], kind="stable"
        ).reset_index(drop=True)

        # country: the customer's most frequent country (ties: alphabetical)
        counts = df.groupby(["CustomerID", "Country"]).size().rename("n").reset_index()
        counts = counts.sort_values(["CustomerID", "n", "Country"], ascending=[True, False, True])
        country = counts.drop_duplicates("CustomerID").set_index("CustomerID")["Country"]
        notes["customers_with_several_countries"] = int(
            (df.groupby("CustomerID")["Country"].nunique() > 1).sum()
        )
        index = pd.Index(country.index.astype("str"), name="customer_id")
        customers = pd.DataFrame(
            {
                "country": country.to_numpy(),
                "country_group": np.where(country.to_numpy() == self.uk_country, "UK", "non-UK"),
            },
            index=index,
        ).astype("str")
        sensitive = customers[["country", "country_group"]].copy()

        texts = purchase_texts(transactions, self.text_max_descriptions)
        when = analysis_date(self.analysis_date, self.name, day_after(transactions["timestamp"]))
        notes["first_invoice"] = transactions["timestamp"].min().isoformat()
        notes["last_invoice"] = transactions["timestamp"].max().isoformat()
        return finish_dataset(
            self.name,
            customers,
            transactions=transactions,
            texts=texts,
            sensitive=sensitive,
            demographic_columns=("country_group",),
            source=f"{SOURCE}; file {notes['source_file']} ({notes['layout']} layout)",
            licence=LICENCE,
            analysis_date=when,
            cleaning=log.steps,
            notes=notes,
        )


def net_cancellations(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Net ``C`` invoice lines against the same customer's earlier purchases of the same code.

    Returns the lines without the matched cancellations and without purchases netted to zero
    (with reduced quantities where partly netted), and a column ``_unmatched`` marking the
    cancellations that netted nothing; plus counts. See the module docstring for the rule.
    """
    is_cancel = df["InvoiceNo"].str.startswith("C").to_numpy()
    stats = {"rows_before": len(df), "cancellation_lines": int(is_cancel.sum())}
    quantity = df["Quantity"].to_numpy().copy()
    times = df["InvoiceDate"].to_numpy()
    customer = df["CustomerID"].to_numpy()
    code = df["StockCode"].to_numpy()

    purchase_pos = np.flatnonzero(~is_cancel & (quantity > 0))
    cancel_pos = np.flatnonzero(is_cancel)
    cancel_keys = set(zip(customer[cancel_pos], code[cancel_pos], strict=True))
    # purchases per (customer, code), in time order (stable: file order within a timestamp)
    purchase_pos = purchase_pos[np.argsort(times[purchase_pos], kind="stable")]
    by_key: dict[tuple[Any, Any], list[int]] = {}
    for pos in purchase_pos:
        key = (customer[pos], code[pos])
        if key in cancel_keys:
            by_key.setdefault(key, []).append(int(pos))

    matched = np.zeros(len(df), dtype=bool)
    units_netted = units_left = 0
    why_unmatched = {"no_purchase": 0, "only_later_purchases": 0, "already_netted": 0}
    for pos in cancel_pos[np.argsort(times[cancel_pos], kind="stable")]:
        remaining = abs(int(quantity[pos]))
        absorbed = 0
        candidates = by_key.get((customer[pos], code[pos]), ())
        earlier = [p for p in candidates if times[p] <= times[pos]]
        for p in reversed(earlier):
            if quantity[p] <= 0:
                continue
            take = min(int(quantity[p]), remaining)
            quantity[p] -= take
            remaining -= take
            absorbed += take
            if remaining == 0:
                break
        if absorbed > 0:
            matched[pos] = True
            units_netted += absorbed
            units_left += remaining
        elif not candidates:
            why_unmatched["no_purchase"] += 1
        elif not earlier:
            why_unmatched["only_later_purchases"] += 1
        else:
            why_unmatched["already_netted"] += 1

    zeroed = ~is_cancel & (df["Quantity"].to_numpy() > 0) & (quantity <= 0)
    stats.update(
        matched=int(matched.sum()),
        unmatched=int(is_cancel.sum() - matched.sum()),
        units_netted=int(units_netted),
        units_not_netted=int(units_left),
        unmatched_no_purchase=why_unmatched["no_purchase"],
        unmatched_only_later_purchases=why_unmatched["only_later_purchases"],
        unmatched_already_netted=why_unmatched["already_netted"],
        purchase_lines_fully_cancelled=int(zeroed.sum()),
        purchase_lines_partly_cancelled=int(
            (~is_cancel & (quantity > 0) & (quantity < df["Quantity"].to_numpy())).sum()
        ),
    )
    out = df.assign(Quantity=quantity, _unmatched=is_cancel & ~matched)
    out = out[~matched & ~zeroed]
    return out, stats


def purchase_texts(transactions: pd.DataFrame, max_descriptions: int = 60) -> pd.DataFrame:
    """One text per customer: distinct descriptions bought, most often bought first.

    Order: number of lines desc, total quantity desc, description asc; at most
    ``max_descriptions``, joined with ``"; "``.
    """
    tx = transactions[["customer_id", "description", "quantity"]]
    tx = tx[tx["description"].notna() & (tx["description"] != "")]
    per = tx.groupby(["customer_id", "description"], sort=False).agg(
        lines=("quantity", "size"), units=("quantity", "sum")
    )
    per = per.reset_index().sort_values(
        ["customer_id", "lines", "units", "description"],
        ascending=[True, False, False, True],
        kind="stable",
    )
    per = per.groupby("customer_id", sort=False).head(max_descriptions)
    text = per.groupby("customer_id", sort=True)["description"].agg("; ".join)
    return pd.DataFrame({"customer_id": text.index.astype("str"), "text": text.to_numpy()}).astype(
        "str"
    )


def _numeric(values: pd.Series, column: str, path: Path) -> pd.Series:
    out = pd.to_numeric(values, errors="coerce")
    check_finite(out, column, path)
    bad = out.isna() & values.notna()
    if bad.any() or out.isna().any():
        examples = values[out.isna()].astype(str).unique()[:5].tolist()
        raise DataError(
            f"{path}: column {column!r} must be numeric with no gaps; found "
            f"{int(out.isna().sum())} missing or non-numeric values, e.g. {examples}"
        )
    return out


def _timestamps(values: pd.Series, path: Path) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("datetime64[us]")
    text = values.astype("str").str.strip()
    try:
        out = pd.to_datetime(text, format="ISO8601")
    except (ValueError, TypeError):
        out = pd.to_datetime(text, format="mixed", dayfirst=False, errors="coerce")
    bad = out.isna()
    if bad.any():
        examples = values[bad].astype(str).unique()[:5].tolist()
        raise DataError(
            f"{path}: column 'InvoiceDate' must hold date-times (e.g. 2010-12-01 08:26:00); "
            f"found {int(bad.sum())} values that are not, e.g. {examples}"
        )
    return out.astype("datetime64[us]")
