"""Any CSV, Excel or Parquet file the user points at, with a column mapping in the config.

The ``tabular`` adapter turns a user's own table into canonical
:class:`~segbench.data.model.CustomerData`. The config names which file columns play which
role; every named column must exist, else a :class:`~segbench.errors.DataError` names the
missing ones and lists the columns the file has.

Two shapes of file:

- **customer level** (no ``transactions`` mapping): one row per customer. A duplicated
  customer id is an error (map ``transactions`` if the file has one row per purchase).
- **transaction level** (``transactions`` maps canonical transaction columns onto file
  columns): one row per purchase line. The transactions part is built from the mapping and
  the customer-level frame is one row per customer, taking for every customer column the
  customer's first non-missing value (such columns should be constant per customer; how many
  customers have several values is reported in ``meta.notes["varying_customer_columns"]``).

Roles (each optional except ``customer_id``; list values keep the file's names, mappings
``{canonical name: file column}`` rename):

- ``customer_id`` — the id column (read as text, so zero padding survives).
- ``transactions`` — ``{invoice_id, timestamp, product_id, description, quantity,
  unit_price, channel, amount}``: ``timestamp`` is required, and ``unit_price`` or ``amount``
  (line total); ``quantity`` defaults to 1 (with ``amount``: ``unit_price = amount /
  quantity``); ``invoice_id`` defaults to one invoice per customer and timestamp.
- ``demographic_columns`` — customer columns the ``demographics`` block reads.
- ``behaviour_columns`` — other customer columns kept as they are, e.g. precomputed
  ``recency``/``frequency``/``monetary`` for the ``rfm`` block or ``n_purchases_<channel>``
  for the ``channels`` block (``{recency: days_since_last_order, …}``).
- ``sensitive_columns`` — go to the ``sensitive`` part (fairness audits only); also list a
  column under ``demographic_columns`` to use it as a feature when asked.
- ``text_column`` — free text per row → ``texts`` (several rows per customer allowed).
- ``label_column`` — a known segment → ``labels``.
- ``outcome_columns`` — later behaviour → ``outcomes``.

Cleaning (each step counted in the report): rows without a customer id are dropped; for
transactions, rows whose timestamp cannot be parsed and rows without a numeric quantity and
price/amount are dropped; optionally exact duplicate rows (``drop_duplicates``) and lines with
quantity or price <= 0 (``drop_non_positive``; off by default, because returns are real).

Example
-------
>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "orders.csv").write_text(
...     "cust,when,total,gender\\n1,2024-01-02,10.5,f\\n1,2024-02-01,4,f\\n2,2024-01-20,7,m\\n")
>>> data = TabularDataset(path=folder / "orders.csv", customer_id="cust",
...     transactions={"timestamp": "when", "amount": "total"}, sensitive_columns=["gender"],
...     cache=False).load()
>>> data.n_customers, len(data.transactions), data.sensitive["gender"].tolist()
(2, 3, ['f', 'm'])
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segbench.data.model import TRANSACTION_COLUMNS, CustomerData
from segbench.datasets.base import analysis_date, day_after, finish_dataset, layout_data
from segbench.datasets.cache import CachedAdapter
from segbench.datasets.readers import (
    CleaningLog,
    check_finite,
    numeric_column,
    read_table,
    require_columns,
)
from segbench.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: Customer columns (canonical names) that must hold numbers: the precomputed RFM columns.
NUMERIC_BEHAVIOUR = ("recency", "frequency", "monetary")

#: Canonical transaction columns a mapping may name (plus ``amount``, a line total).
TRANSACTION_ROLES = (*TRANSACTION_COLUMNS[1:], "amount")
_TEXT_ROLES = ("invoice_id", "product_id", "description", "channel")

ColumnSpec = Sequence[str] | Mapping[str, str] | None

#: How the file is read (``engine``): whole by pandas, or aggregated out of core by DuckDB.
ENGINES = ("auto", "pandas", "duckdb")
#: Files DuckDB aggregates (Parquet and delimited text, optionally compressed).
OUT_OF_CORE_SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz", ".tsv", ".txt", ".csv.zst")
#: Transaction roles the out-of-core aggregation reads.
OUT_OF_CORE_ROLES = ("timestamp", "quantity", "unit_price", "amount", "invoice_id")


def _mapping(spec: ColumnSpec, role: str) -> dict[str, str]:
    """``{canonical name: file column}`` from a list (same names) or a mapping."""
    if spec is None:
        return {}
    if isinstance(spec, str):
        return {spec: spec}
    if isinstance(spec, Mapping):
        return {str(k): str(v) for k, v in spec.items()}
    if isinstance(spec, Sequence):
        return {str(c): str(c) for c in spec}
    raise ConfigError(
        f"dataset 'tabular': {role} must be a list of column names or a mapping "
        f"{{name: file column}}; found {spec!r}"
    )


class TabularDataset(CachedAdapter):
    """A user's CSV/Excel/Parquet file with a column mapping (see the module docstring).

    Parameters
    ----------
    path
        The file (required). ``.csv`` (optionally compressed), ``.xlsx`` or ``.parquet``.
    customer_id
        The customer id column.
    transactions
        Mapping of canonical transaction columns to file columns (transaction-level file).
    demographic_columns, behaviour_columns, sensitive_columns, outcome_columns
        Lists of file columns or ``{name: file column}`` mappings.
    text_column, label_column
        Single file columns.
    sep, encoding, sheet
        How to read the file (``sep=None`` guesses the separator from the header).
    timestamp_format, dayfirst
        Parsing of the timestamp column (default: ISO 8601, then mixed formats).
    analysis_date
        ``YYYY-MM-DD``; default the day after the last transaction (none without them).
    drop_duplicates, drop_non_positive
        Optional cleaning steps (see the module docstring).
    dataset_name, source, licence
        Provenance recorded in ``meta`` (``dataset_name`` also names the cache folder).
    cache
        Use the Parquet cache.
    engine
        ``pandas`` reads the file whole; ``duckdb`` aggregates a transactions file to
        per-customer recency, frequency and monetary out of core
        (:mod:`segbench.datasets.duck`: the same table, without the transactions part);
        ``auto`` (default) takes DuckDB for a Parquet/CSV transactions file of
        ``out_of_core_bytes`` or more.
    out_of_core_bytes
        File size from which ``engine=auto`` aggregates with DuckDB (default 1 GiB).
    memory_limit
        Memory DuckDB may use before it spills to disk (``engine=duckdb``).
    """

    name = "tabular"
    cache_version = 1

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        customer_id: str = "customer_id",
        transactions: Mapping[str, str] | None = None,
        demographic_columns: ColumnSpec = (),
        behaviour_columns: ColumnSpec = (),
        sensitive_columns: ColumnSpec = (),
        outcome_columns: ColumnSpec = (),
        text_column: str | None = None,
        label_column: str | None = None,
        sep: str | None = None,
        encoding: str = "utf-8",
        sheet: str | int | None = None,
        timestamp_format: str | None = None,
        dayfirst: bool = False,
        analysis_date: str | None = None,
        drop_duplicates: bool = False,
        drop_non_positive: bool = False,
        dataset_name: str = "tabular",
        source: str = "",
        licence: str = "",
        cache: bool = True,
        engine: str = "auto",
        out_of_core_bytes: int = 1 << 30,
        memory_limit: str = "2GB",
    ) -> None:
        self.path = path
        self.customer_id = customer_id
        self.transactions = transactions
        self.demographic_columns = demographic_columns
        self.behaviour_columns = behaviour_columns
        self.sensitive_columns = sensitive_columns
        self.outcome_columns = outcome_columns
        self.text_column = text_column
        self.label_column = label_column
        self.sep = sep
        self.encoding = encoding
        self.sheet = sheet
        self.timestamp_format = timestamp_format
        self.dayfirst = dayfirst
        self.analysis_date = analysis_date
        self.drop_duplicates = drop_duplicates
        self.drop_non_positive = drop_non_positive
        self.dataset_name = dataset_name
        self.source = source
        self.licence = licence
        self.cache = cache
        self.engine = engine
        self.out_of_core_bytes = out_of_core_bytes
        self.memory_limit = memory_limit
        self.name = dataset_name

    def sources(self) -> list[Path]:
        if self.path is None or str(self.path).strip() in ("", "???"):
            raise ConfigError(
                "dataset 'tabular' needs dataset.path: the CSV, Excel or Parquet file to read"
            )
        path = Path(self.path).expanduser().resolve()
        if not path.is_file():
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            raise DataError(
                f"dataset '{self.dataset_name}': the data file {path} {what} "
                "(set dataset.path to your CSV, Excel or Parquet file)"
            )
        return [path]

    def check_options(self) -> None:
        """The column mapping, the analysis date and the data file, before any work."""
        self._roles()
        analysis_date(self.analysis_date, self.dataset_name)
        self.sources()
        if self.engine not in ENGINES:
            raise ConfigError(
                f"dataset '{self.dataset_name}': engine={self.engine!r}; expected one of "
                f"{list(ENGINES)}"
            )
        if self.engine == "duckdb" or self.out_of_core():
            self._check_out_of_core()

    def layout(self) -> CustomerData:
        roles = self._roles()
        numbers = {c: "number" for c in (*roles["demographic"], *roles["behaviour"])}
        if self.out_of_core():
            rfm = {c: "number" for c in NUMERIC_BEHAVIOUR}
            return layout_data(self.dataset_name, rfm)
        return layout_data(
            self.dataset_name,
            numbers,
            transactions=bool(roles["transactions"]),
            channel="channel" in roles["transactions"],
            texts=bool(self.text_column),
            sensitive=list(roles["sensitive"]),
            labels=bool(self.label_column),
            outcomes=list(roles["outcome"]),
            demographic_columns=list(roles["demographic"]),
        )

    def cache_params(self) -> dict[str, Any]:
        params = super().cache_params()
        params.pop("name", None)
        return params

    # ---------------------------------------------------------------------------------------

    def _roles(self) -> dict[str, dict[str, str]]:
        tx = _mapping(self.transactions, "transactions")
        unknown = [k for k in tx if k not in TRANSACTION_ROLES]
        if unknown:
            raise ConfigError(
                f"dataset '{self.dataset_name}': transactions mapping names unknown canonical "
                f"columns {unknown}; valid: {list(TRANSACTION_ROLES)}"
            )
        if tx:
            if "timestamp" not in tx:
                raise ConfigError(
                    f"dataset '{self.dataset_name}': the transactions mapping needs 'timestamp' "
                    f"(found {list(tx)})"
                )
            if "unit_price" not in tx and "amount" not in tx:
                raise ConfigError(
                    f"dataset '{self.dataset_name}': the transactions mapping needs 'unit_price' "
                    f"or 'amount' (found {list(tx)})"
                )
        return {
            "transactions": tx,
            "demographic": _mapping(self.demographic_columns, "demographic_columns"),
            "behaviour": _mapping(self.behaviour_columns, "behaviour_columns"),
            "sensitive": _mapping(self.sensitive_columns, "sensitive_columns"),
            "outcome": _mapping(self.outcome_columns, "outcome_columns"),
        }

    def out_of_core(self) -> bool:
        """Whether the file is aggregated by DuckDB (``engine``, ``out_of_core_bytes``)."""
        if self.engine == "duckdb":
            return True
        if self.engine != "auto" or not _mapping(self.transactions, "transactions"):
            return False
        try:
            path = self.sources()[0]
        except (ConfigError, DataError):
            return False
        readable = path.name.lower().endswith(OUT_OF_CORE_SUFFIXES)
        return readable and path.stat().st_size >= int(self.out_of_core_bytes)

    def _check_out_of_core(self) -> None:
        roles = self._roles()
        if not roles["transactions"]:
            raise ConfigError(
                f"dataset '{self.dataset_name}': engine=duckdb aggregates a transactions file; "
                "map its columns with dataset.transactions (or use engine=pandas)"
            )
        path = self.sources()[0]
        if not path.name.lower().endswith(OUT_OF_CORE_SUFFIXES):
            raise ConfigError(
                f"dataset '{self.dataset_name}': DuckDB reads Parquet and CSV files "
                f"({', '.join(OUT_OF_CORE_SUFFIXES)}); found {path.name}. Use engine=pandas"
            )
        other = {
            "demographic_columns": roles["demographic"],
            "behaviour_columns": roles["behaviour"],
            "sensitive_columns": roles["sensitive"],
            "outcome_columns": roles["outcome"],
            "text_column": self.text_column,
            "label_column": self.label_column,
        }
        named = sorted(k for k, v in other.items() if v)
        unused = sorted(k for k in roles["transactions"] if k not in OUT_OF_CORE_ROLES)
        if named:
            size = path.stat().st_size / 2**30
            raise ConfigError(
                f"dataset '{self.dataset_name}': {path.name} ({size:.1f} GiB) is aggregated out "
                f"of core by DuckDB (engine={self.engine}, out_of_core_bytes="
                f"{self.out_of_core_bytes}), which reads only the customer id and the "
                f"transaction columns; found {', '.join(named)} too. Put customer-level "
                "columns in a customer-level file, or read the file whole with engine=pandas "
                "(it must fit in memory)"
            )
        if unused:
            log.info(
                "%s: out of core, the transaction columns %s are not read (only recency, "
                "frequency and monetary are computed)",
                path.name,
                unused,
            )

    def _build_out_of_core(self, path: Path) -> CustomerData:
        from segbench.datasets.duck import aggregate_rfm

        self._check_out_of_core()
        mapping = {k: v for k, v in self._roles()["transactions"].items() if k in OUT_OF_CORE_ROLES}
        when = analysis_date(self.analysis_date, self.dataset_name)
        out = aggregate_rfm(
            path,
            self.customer_id,
            mapping,
            analysis_date=when,
            sep=self.sep,
            encoding=self.encoding,
            timestamp_format=self.timestamp_format,
            drop_duplicates=self.drop_duplicates,
            drop_non_positive=self.drop_non_positive,
            memory_limit=self.memory_limit,
        )
        reasons = {
            "drop_exact_duplicates": "rows identical in every column to an earlier row",
            "drop_missing_customer": "rows without a value in the customer id column "
            f"{self.customer_id!r}",
            "drop_bad_timestamp": f"rows whose {mapping['timestamp']!r} is missing or not a date",
            "drop_missing_amount": "rows without a numeric quantity and unit price (or amount)",
            "drop_non_positive": "quantity <= 0 or unit price <= 0",
        }
        cleaning = CleaningLog()
        for step in out.steps:
            cleaning.add(
                step["step"],
                step["rows_before"],
                step["rows_after"],
                reasons[step["step"]],
                step["customers_after"],
            )
        customers = out.table[list(NUMERIC_BEHAVIOUR)]
        customers.index.name = "customer_id"
        return finish_dataset(
            self.dataset_name,
            customers,
            source=self.source or f"user-supplied file {path.name}",
            licence=self.licence or "unknown (user-supplied data)",
            analysis_date=out.analysis_date,
            cleaning=cleaning.steps,
            notes={
                "source_file": path.name,
                "raw_rows": out.raw_rows,
                "raw_customers": out.raw_customers,
                "customers_after_step": dict(cleaning.customers),
                "engine": "duckdb",
                "out_of_core": "per-customer recency, frequency and monetary aggregated by "
                "DuckDB; no transactions part",
            },
        )

    def build(self) -> CustomerData:
        path = self.sources()[0]
        if self.out_of_core():
            return self._build_out_of_core(path)
        roles = self._roles()
        single = [c for c in (self.text_column, self.label_column) if c]
        needed = [self.customer_id]
        for mapping in roles.values():
            needed += list(mapping.values())
        needed += single
        needed = list(dict.fromkeys(needed))
        text_like = [self.customer_id, *single]
        text_like += [v for k, v in roles["transactions"].items() if k in _TEXT_ROLES]
        frame = read_table(
            path,
            sep=self.sep,
            encoding=self.encoding,
            sheet=self.sheet,
            dtype=dict.fromkeys(text_like, str),
        )
        require_columns(frame, needed, path, "named by the dataset config's column mapping")
        frame = self._check_numbers(frame, roles, path)
        ids = frame[self.customer_id]
        if not pd.api.types.is_string_dtype(ids) or pd.api.types.is_object_dtype(ids):
            ids = ids.map(_id_text, na_action="ignore")
        frame = frame.assign(_cid=ids.astype("str").str.strip())
        frame.loc[frame["_cid"] == "", "_cid"] = np.nan
        log = CleaningLog()
        notes: dict[str, Any] = {
            "source_file": path.name,
            "raw_rows": len(frame),
            "raw_customers": int(frame["_cid"].nunique()),
        }

        before = len(frame)
        frame = frame[frame["_cid"].notna()]
        log.add(
            "drop_missing_customer",
            before,
            len(frame),
            f"rows without a value in the customer id column {self.customer_id!r}",
            int(frame["_cid"].nunique()),
        )
        if self.drop_duplicates:
            before = len(frame)
            frame = frame[~frame.duplicated(keep="first")]
            log.add(
                "drop_exact_duplicates",
                before,
                len(frame),
                "rows identical in every column to an earlier row (first kept)",
                int(frame["_cid"].nunique()),
            )
        if roles["transactions"]:
            transactions, frame = self._transactions(frame, roles["transactions"], path, log)
        else:
            transactions = None
            dup = frame["_cid"].duplicated()
            if dup.any():
                examples = frame.loc[dup, "_cid"].head(3).tolist()
                what = (
                    "but no transactions mapping was given; a customer-level file needs one row "
                    "per customer (map `transactions` for one row per purchase)"
                )
                raise DataError(
                    f"{path}: customer id column {self.customer_id!r} has duplicated values "
                    f"(e.g. {examples}) {what}",
                    public=f"{path}: customer id column {self.customer_id!r} has "
                    f"{int(dup.sum())} duplicated values {what}",
                )
        if len(frame) == 0:
            raise DataError(
                f"{path}: no rows left after cleaning (steps: "
                + "; ".join(f"{s.step} dropped {s.dropped}: {s.reason}" for s in log.steps)
                + ")"
            )
        return self._assemble(frame, transactions, roles, log, notes, path)

    def _check_numbers(
        self, frame: pd.DataFrame, roles: dict[str, dict[str, str]], path: Path
    ) -> pd.DataFrame:
        """Numeric columns hold finite numbers; the precomputed RFM columns hold numbers; a
        customer column mapped as a feature is not empty."""
        for name, column in roles["behaviour"].items():
            if name in NUMERIC_BEHAVIOUR or name.startswith("n_purchases_"):
                frame[column] = numeric_column(frame[column], column, path, f"mapped to {name}")
        checked = [
            *roles["demographic"].values(),
            *roles["behaviour"].values(),
            *roles["outcome"].values(),
        ]
        checked += [v for k, v in roles["transactions"].items() if k not in _TEXT_ROLES]
        for column in dict.fromkeys(checked):
            check_finite(frame[column], column, path)
        for column in dict.fromkeys([*roles["demographic"].values(), *roles["behaviour"].values()]):
            if len(frame) and frame[column].isna().all():
                raise DataError(
                    f"{path}: column {column!r} has no values (all {len(frame)} rows are "
                    "empty), so it cannot be a feature; fill it or remove it from the dataset "
                    "config's column mapping"
                )
        return frame

    def _transactions(
        self, frame: pd.DataFrame, mapping: dict[str, str], path: Path, log: CleaningLog
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        stamps = frame[mapping["timestamp"]]
        if not pd.api.types.is_datetime64_any_dtype(stamps):
            text = stamps.astype("str").str.strip()
            if self.timestamp_format:
                stamps = pd.to_datetime(text, format=self.timestamp_format, errors="coerce")
            else:
                try:
                    stamps = pd.to_datetime(text, format="ISO8601", dayfirst=self.dayfirst)
                except (ValueError, TypeError):
                    stamps = pd.to_datetime(
                        text, format="mixed", dayfirst=self.dayfirst, errors="coerce"
                    )
        before = len(frame)
        ok = stamps.notna()
        if before and not ok.any():
            examples = frame[mapping["timestamp"]].astype(str).head(3).tolist()
            head = f"{path}: column {mapping['timestamp']!r} (mapped to timestamp) holds no "
            hint = "set timestamp_format (e.g. '%d/%m/%Y')"
            raise DataError(
                f"{head}readable dates, e.g. {examples}; {hint}",
                public=f"{head}readable dates in its {before} rows; {hint}",
            )
        frame, stamps = frame[ok], stamps[ok]
        log.add(
            "drop_bad_timestamp",
            before,
            len(frame),
            f"rows whose {mapping['timestamp']!r} is missing or not a date",
            int(frame["_cid"].nunique()),
        )

        def number(role: str) -> pd.Series | None:
            if role not in mapping:
                return None
            values = pd.to_numeric(frame[mapping[role]], errors="coerce")
            check_finite(values, mapping[role], path)
            return values

        quantity = number("quantity")
        price = number("unit_price")
        amount = number("amount")
        if quantity is None:
            quantity = pd.Series(1.0, index=frame.index)
        if price is None:
            price = amount / quantity.where(quantity != 0)
        before = len(frame)
        ok = quantity.notna() & price.notna()
        if before and not ok.any():
            used = [mapping[r] for r in ("quantity", "unit_price", "amount") if r in mapping]
            raise DataError(
                f"{path}: the columns {used} (mapped to quantity/unit_price/amount) hold no numbers"
            )
        frame, stamps, quantity, price = frame[ok], stamps[ok], quantity[ok], price[ok]
        log.add(
            "drop_missing_amount",
            before,
            len(frame),
            "rows without a numeric quantity and unit price (or amount)",
            int(frame["_cid"].nunique()),
        )
        self._check_signs(quantity * price, mapping, path)
        if self.drop_non_positive:
            before = len(frame)
            ok = (quantity > 0) & (price > 0)
            frame, stamps, quantity, price = frame[ok], stamps[ok], quantity[ok], price[ok]
            log.add(
                "drop_non_positive",
                before,
                len(frame),
                "quantity <= 0 or unit price <= 0",
                int(frame["_cid"].nunique()),
            )

        def text(role: str) -> np.ndarray:
            if role in mapping:
                return frame[mapping[role]].astype("str").str.strip().to_numpy()
            return np.full(len(frame), np.nan, dtype=object)

        if "invoice_id" in mapping:
            invoice = text("invoice_id")
        else:
            invoice = (frame["_cid"] + "@" + stamps.dt.strftime("%Y-%m-%dT%H:%M:%S")).to_numpy()
        integral = bool(np.all(np.mod(quantity.to_numpy(), 1) == 0))
        tx = pd.DataFrame(
            {
                "customer_id": frame["_cid"].to_numpy(),
                "invoice_id": invoice,
                "timestamp": stamps.to_numpy(),
                "product_id": text("product_id"),
                "description": text("description"),
                "quantity": quantity.to_numpy(dtype="int64" if integral else float),
                "unit_price": price.to_numpy(dtype=float),
                "channel": text("channel"),
            }
        )
        for column in ("customer_id", "invoice_id", "product_id", "description", "channel"):
            tx[column] = tx[column].astype("str")
        tx = tx.sort_values(["timestamp", "customer_id"], kind="stable").reset_index(drop=True)
        return tx, frame

    def _check_signs(self, amounts: pd.Series, mapping: dict[str, str], path: Path) -> None:
        """Refuse a file without a single sale; say when most lines are refunds."""
        used = [mapping[r] for r in ("quantity", "unit_price", "amount") if r in mapping]
        negative = int((amounts < 0).sum())
        if len(amounts) and not (amounts > 0).any():
            raise DataError(
                f"{path}: every line amount from the columns {used} is negative or zero "
                f"({negative} negative, {len(amounts) - negative} zero, of {len(amounts)} "
                "lines); expected purchases with positive amounts (returns may be negative). "
                "If your file writes sales as negative numbers, flip their sign before loading"
            )
        if negative > len(amounts) / 2:
            log.warning(
                "%s: %d of %d line amounts from the columns %s are negative (returns or "
                "refunds); monetary values will be net of them. Check the sign convention of "
                "the file if that is not expected",
                path,
                negative,
                len(amounts),
                used,
            )

    def _assemble(
        self,
        frame: pd.DataFrame,
        transactions: pd.DataFrame | None,
        roles: dict[str, dict[str, str]],
        log: CleaningLog,
        notes: dict[str, Any],
        path: Path,
    ) -> CustomerData:
        per_customer: dict[str, str] = {}
        for role in ("demographic", "behaviour", "sensitive", "outcome"):
            per_customer.update({f"{role}:{k}": v for k, v in roles[role].items()})
        if self.label_column:
            per_customer["label:label"] = self.label_column
        columns = list(dict.fromkeys(per_customer.values()))
        grouped = frame.groupby("_cid", sort=True)
        if transactions is not None:
            base = grouped[columns].first() if columns else pd.DataFrame(index=grouped.size().index)
            if columns:
                varying = grouped[columns].nunique(dropna=True)
                counts = {c: int((varying[c] > 1).sum()) for c in columns}
                notes["varying_customer_columns"] = {c: n for c, n in counts.items() if n}
        else:
            base = frame.set_index("_cid")[columns]
        index = pd.Index(base.index.astype("str"), name="customer_id")
        base.index = index

        def part(role: str) -> pd.DataFrame:
            mapping = roles[role]
            return pd.DataFrame({k: base[v].to_numpy() for k, v in mapping.items()}, index=index)

        customers = pd.concat([part("demographic"), part("behaviour")], axis=1)
        customers = customers.loc[:, ~customers.columns.duplicated()]
        sensitive = part("sensitive") if roles["sensitive"] else None
        outcomes = part("outcome") if roles["outcome"] else None
        labels = None
        if self.label_column:
            labels = pd.Series(base[self.label_column].to_numpy(), index=index, name="label")
        texts = None
        if self.text_column:
            raw = frame[["_cid", self.text_column]].dropna()
            raw = raw[raw[self.text_column].astype("str").str.strip() != ""]
            texts = pd.DataFrame(
                {
                    "customer_id": raw["_cid"].to_numpy(),
                    "text": raw[self.text_column].astype("str").str.strip().to_numpy(),
                }
            ).astype("str")
        for frame_ in (customers, sensitive, outcomes):
            if frame_ is not None:
                for column in frame_.columns:
                    if frame_[column].dtype == object:
                        frame_[column] = frame_[column].astype("str")
        default = day_after(transactions["timestamp"]) if transactions is not None else None
        return finish_dataset(
            self.dataset_name,
            customers,
            transactions=transactions,
            texts=texts,
            sensitive=sensitive,
            labels=labels,
            outcomes=outcomes,
            demographic_columns=tuple(roles["demographic"]),
            source=self.source or f"user-supplied file {path.name}",
            licence=self.licence or "unknown (user-supplied data)",
            analysis_date=analysis_date(self.analysis_date, self.dataset_name, default),
            cleaning=log.steps,
            notes={**notes, "customers_after_step": dict(log.customers)},
        )


def _id_text(value: Any) -> str:
    """Ids read as numbers back to text (``17850.0`` → ``"17850"``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
