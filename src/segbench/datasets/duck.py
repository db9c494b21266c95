"""Transactions files larger than memory: per-customer RFM aggregated out of core by DuckDB.

A Parquet or CSV file of transaction lines (tens of millions of them) is never read whole:
DuckDB (https://duckdb.org) scans it in a streaming pass under a memory limit, spilling to
disk when its hash tables outgrow it, and returns one row per customer. The tabular adapter
(:class:`segbench.datasets.tabular.TabularDataset`) takes this path for a transactions file
of ``out_of_core_bytes`` or more (``engine=auto``), or always with ``engine=duckdb``.

The result is the same table the in-memory path gives (``rfm_table`` of the ``rfm`` block on
the pandas adapter's transactions): the same cleaning (rows without a customer id, an
unreadable timestamp or a numeric quantity and price are dropped and counted; optional exact
duplicates and non-positive lines), the same ids (text; a number read as ``17850.0`` is
``"17850"``), invoices first (an invoice's time is its first line's, its amount the sum of
``quantity × unit_price``; without an ``invoice_id`` one invoice per customer and
timestamp), then per customer

- ``recency`` = days from the last invoice to the analysis date (default: midnight after the
  last timestamp),
- ``frequency`` = invoices, ``monetary`` = net spend,

equal up to the order of floating-point sums (``tests/test_scale.py`` checks it
on Online Retail). Only the customer id and transaction roles are read; customer-level
columns (demographics, labels …) need the in-memory path or a customer-level file.

Example
-------
>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "orders.csv").write_text(
...     "cust,when,total\\n1,2024-01-02,10.5\\n1,2024-02-01,4\\n2,2024-01-20,7\\n,2024-01-03,1\\n")
>>> out = aggregate_rfm(folder / "orders.csv", "cust", {"timestamp": "when", "amount": "total"})
>>> out.table.to_dict("index")
{'1': {'recency': 1.0, 'frequency': 2.0, 'monetary': 14.5}, '2': {'recency': 13.0, \
'frequency': 1.0, 'monetary': 7.0}}
>>> str(out.analysis_date.date()), [(s["step"], s["dropped"]) for s in out.steps][:1]
('2024-02-02', [('drop_missing_customer', 1)])
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from segbench.errors import DataError


@dataclass
class Aggregated:
    """What :func:`aggregate_rfm` gives: the per-customer table (indexed by ``customer_id``,
    sorted), the cleaning steps (each ``{"step", "rows_before", "rows_after", "dropped",
    "customers_after"}``, a chain), the analysis date, and the file's rows and distinct
    customer ids before cleaning."""

    table: pd.DataFrame
    steps: list[dict[str, Any]]
    analysis_date: pd.Timestamp
    raw_rows: int
    raw_customers: int


#: Memory DuckDB may use before it spills to disk (its own default is 80 % of the machine).
MEMORY_LIMIT = "2GB"
#: Nanoseconds per day (recency in days, as the pandas path divides by ``Timedelta(days=1)``).
NS_PER_DAY = 86_400 * 10**9


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _source(path: Path, sep: str | None, encoding: str) -> str:
    text = str(path).replace("'", "''")
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return f"read_parquet('{text}')"
    options = ["all_varchar=true", "header=true"]
    if sep is not None:
        options.append(f"delim='{sep}'")
    if encoding.lower().replace("-", "") not in ("utf8", "utf8sig"):
        options.append(f"encoding='{encoding}'")
    return f"read_csv('{text}', {', '.join(options)})"


_NUMBERS = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "DOUBLE",
    "FLOAT",
)


def _is_number(kind: str) -> bool:
    return kind in _NUMBERS or kind.startswith("DECIMAL")


def _key(column: str, kind: str) -> str:
    """A column as a grouping key: a number as it is (text only at the end, :func:`_as_text`),
    anything else as stripped text, ``NULL`` when empty."""
    col = _quote(column)
    if _is_number(kind):
        return col
    return f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"


def _as_text(expression: str, kind: str) -> str:
    """A key as the text the pandas path gives: an integral number without ``.0``."""
    if kind in ("DOUBLE", "FLOAT") or kind.startswith("DECIMAL"):
        return (
            f"CASE WHEN {expression} = trunc({expression}) "
            f"THEN CAST(CAST({expression} AS HUGEINT) AS VARCHAR) "
            f"ELSE CAST({expression} AS VARCHAR) END"
        )
    return f"CAST({expression} AS VARCHAR)"


def _number(column: str | None, kind: str | None) -> str | None:
    if column is None:
        return None
    col = _quote(column)
    if kind is not None and kind != "VARCHAR":
        return f"TRY_CAST({col} AS DOUBLE)"
    return f"TRY_CAST(trim({col}) AS DOUBLE)"


def _timestamp(column: str, kind: str, fmt: str | None) -> str:
    col = _quote(column)
    if kind.startswith("TIMESTAMP") or kind == "DATE":
        return f"CAST({col} AS TIMESTAMP_NS)"
    if fmt:
        text = fmt.replace("'", "''")
        return f"CAST(try_strptime(trim({col}), '{text}') AS TIMESTAMP_NS)"
    return f"TRY_CAST(trim({col}) AS TIMESTAMP_NS)"


def connect(memory_limit: str = MEMORY_LIMIT, threads: int | None = None) -> Any:
    """An in-memory DuckDB connection that spills to a temporary folder under its limit."""
    import duckdb

    connection = duckdb.connect(":memory:")
    connection.execute(f"SET memory_limit='{memory_limit}'")
    connection.execute("SET preserve_insertion_order=false")
    connection.execute("SET enable_progress_bar=false")
    if threads:
        connection.execute(f"SET threads={int(threads)}")
    return connection


def aggregate_rfm(
    path: str | os.PathLike[str],
    customer_id: str,
    mapping: Mapping[str, str],
    *,
    analysis_date: pd.Timestamp | None = None,
    sep: str | None = ",",
    encoding: str = "utf-8",
    timestamp_format: str | None = None,
    drop_duplicates: bool = False,
    drop_non_positive: bool = False,
    memory_limit: str = MEMORY_LIMIT,
    threads: int | None = None,
) -> Aggregated:
    """Per-customer ``recency, frequency, monetary`` of a transactions file (module docstring).

    ``mapping``: canonical transaction columns → file columns (``timestamp`` and
    ``unit_price`` or ``amount`` required; ``quantity``, ``invoice_id`` optional). Returns an
    :class:`Aggregated`.
    """
    path = Path(path)
    connection = connect(memory_limit, threads)
    try:
        return _aggregate(
            connection,
            path,
            customer_id,
            dict(mapping),
            analysis_date,
            _source(path, sep, encoding),
            timestamp_format,
            drop_duplicates,
            drop_non_positive,
        )
    finally:
        connection.close()


def _aggregate(
    con: Any,
    path: Path,
    customer_id: str,
    mapping: dict[str, str],
    when: pd.Timestamp | None,
    source: str,
    timestamp_format: str | None,
    drop_duplicates: bool,
    drop_non_positive: bool,
) -> Aggregated:
    import duckdb

    try:
        kinds = {
            row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        }
    except duckdb.Error as err:
        raise DataError(f"{path}: cannot be read as a table ({str(err).splitlines()[0]})") from None
    needed = [customer_id, *mapping.values()]
    missing = [c for c in dict.fromkeys(needed) if c not in kinds]
    if missing:
        raise DataError(
            f"{path}: columns {missing} named by the dataset config's column mapping are "
            f"missing; the file has {list(kinds)}"
        )
    quantity = _number(mapping.get("quantity"), kinds.get(mapping.get("quantity", "")))
    price = _number(mapping.get("unit_price"), kinds.get(mapping.get("unit_price", "")))
    amount = _number(mapping.get("amount"), kinds.get(mapping.get("amount", "")))
    quantity = quantity or "1.0"
    if price is None:  # as the pandas path: unit price = amount / quantity
        price = f"({amount}) / NULLIF({quantity}, 0)"
    invoice = (
        _key(mapping["invoice_id"], kinds[mapping["invoice_id"]])
        if "invoice_id" in mapping
        else None
    )
    lines = [
        f"{_key(customer_id, kinds[customer_id])} AS cid",
        f"{_timestamp(mapping['timestamp'], kinds[mapping['timestamp']], timestamp_format)} AS ts",
        f"{quantity} AS quantity",
        f"{price} AS price",
    ]
    if invoice is not None:
        lines.append(f"{invoice} AS invoice")
    base = f"SELECT * FROM {source}"
    if drop_duplicates:
        base = f"SELECT DISTINCT * FROM {source}"
    con.execute(f"CREATE TEMP VIEW lines AS SELECT {', '.join(lines)} FROM ({base}) AS raw")
    ok_ts = "ts IS NOT NULL"
    ok_amount = (
        f"{ok_ts} AND quantity IS NOT NULL AND price IS NOT NULL AND NOT isnan(quantity * price)"
    )
    ok_positive = f"{ok_amount} AND quantity > 0 AND price > 0"
    # one pass over the file: per customer id (NULL included), the lines each step keeps
    con.execute(
        f"""CREATE TEMP TABLE kept AS SELECT cid, count(*) AS n,
            count(*) FILTER (WHERE {ok_ts}) AS n_ts,
            count(*) FILTER (WHERE {ok_amount}) AS n_amount,
            count(*) FILTER (WHERE {ok_positive}) AS n_positive,
            count(*) FILTER (WHERE isinf(quantity) OR isinf(price)) AS n_infinite,
            max(ts) AS last_ts
        FROM lines GROUP BY cid"""
    )
    counts = con.execute(
        """SELECT sum(n), count(cid), sum(n) FILTER (WHERE cid IS NOT NULL),
            sum(n_ts) FILTER (WHERE cid IS NOT NULL), count(cid) FILTER (WHERE n_ts > 0),
            sum(n_amount) FILTER (WHERE cid IS NOT NULL), count(cid) FILTER (WHERE n_amount > 0),
            sum(n_positive) FILTER (WHERE cid IS NOT NULL),
            count(cid) FILTER (WHERE n_positive > 0),
            sum(n_infinite), max(last_ts) FILTER (WHERE cid IS NOT NULL)
        FROM kept"""
    ).fetchone()
    raw_rows, raw_customers, with_customer, with_ts, c_ts = (int(v or 0) for v in counts[:5])
    with_amount, c_amount, positive, c_positive, infinite = (int(v or 0) for v in counts[5:10])
    last_ts = counts[10]
    if infinite:
        raise DataError(
            f"{path}: the quantity/unit_price/amount columns hold infinite values (inf or -inf) "
            f"in {infinite} of {raw_rows} rows; expected finite numbers (a missing value may be "
            "left empty)"
        )
    if with_customer and not with_ts:
        raise DataError(
            f"{path}: column {mapping['timestamp']!r} (mapped to timestamp) holds no readable "
            f"dates in its {with_customer} rows; set timestamp_format (e.g. '%d/%m/%Y')"
        )
    steps = []
    if drop_duplicates:  # the lines view holds the distinct rows of the file
        file_rows = con.execute(f"SELECT count(*) FROM {source}").fetchone()[0]
        steps.append(_step("drop_exact_duplicates", file_rows, raw_rows, raw_customers))
    steps += [
        _step("drop_missing_customer", raw_rows, with_customer, raw_customers),
        _step("drop_bad_timestamp", with_customer, with_ts, c_ts),
        _step("drop_missing_amount", with_ts, with_amount, c_amount),
    ]
    keep = f"cid IS NOT NULL AND {ok_amount}"
    if drop_non_positive:
        steps.append(_step("drop_non_positive", with_amount, positive, c_positive))
        keep = f"cid IS NOT NULL AND {ok_positive}"
    left = positive if drop_non_positive else with_amount
    if left == 0:
        raise DataError(
            f"{path}: no rows left after cleaning (steps: "
            + "; ".join(f"{s['step']} dropped {s['dropped']}" for s in steps)
            + ")"
        )
    if when is None:
        when = pd.Timestamp(last_ts).normalize() + pd.Timedelta(days=1)
    invoice_key = "invoice" if invoice is not None else "ts"
    query = f"""
        WITH invoices AS (
            SELECT cid, min(ts) AS ts, sum(quantity * price) AS amount
            FROM lines WHERE {keep}
            GROUP BY cid, {invoice_key}
        )
        SELECT {_as_text("cid", kinds[customer_id])} AS customer_id,
               (epoch_ns(TIMESTAMP_NS '{pd.Timestamp(when).isoformat()}')
                - epoch_ns(max(ts))) / {NS_PER_DAY}.0 AS recency,
               CAST(count(*) AS DOUBLE) AS frequency,
               CAST(sum(amount) AS DOUBLE) AS monetary
        FROM invoices GROUP BY cid
    """
    table = con.execute(query).df()
    table["customer_id"] = table["customer_id"].astype("str")
    table = table.set_index("customer_id").sort_index()
    rows = steps[0]["rows_before"]
    return Aggregated(table, steps, pd.Timestamp(when), int(rows), int(raw_customers))


def _step(name: str, before: int, after: int, customers: int | None) -> dict[str, Any]:
    return {
        "step": name,
        "rows_before": int(before),
        "rows_after": int(after),
        "dropped": int(before) - int(after),
        "customers_after": None if customers is None else int(customers),
    }


__all__ = ["MEMORY_LIMIT", "Aggregated", "aggregate_rfm", "connect"]
