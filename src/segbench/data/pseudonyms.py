"""Pseudonymisation of customer identifiers, and the order customers are kept in.

**Pseudonyms.** Every customer id is replaced by a keyed hash (HMAC-SHA256, 16 hex digits) when
a dataset is loaded; raw identifiers never leave the loader.

**The key rule: one key per run.** The key is ``SEGBENCH_PSEUDONYM_KEY`` when it is set: then
every run, every job of every sweep, ``segbench.assign`` and ``segbench.export`` give a customer
the same pseudonym, so their outputs can be joined, and the key holder can map pseudonyms back to
raw ids (``python -m segbench.export``). When it is unset, each load of a dataset (one per run,
one per ``segbench.assign`` call) draws a fresh random key that is kept in memory only and never
stored: the run's pseudonyms cannot be linked to raw ids, to another run or to another job of
the same sweep, by anyone. The run records which case applied in the tag
``segbench.pseudonym_key`` (``env`` or ``random-per-run``), never the key.

**The order.** Customers are kept in an order that carries no information about their raw ids
and does not depend on the key: by a hash of their own content (every column of the customer's
row, sensitive attributes, labels, outcomes, and the multiset of their transactions and texts),
ties (customers whose records are identical in every part) broken by pseudonym. So every
artifact keyed by pseudonym (``assignments.parquet``) and every per-customer array a logged model
keeps (the fitted points of a nearest-neighbour assignment) are in that order, never in the order
of the raw ids or of the file; and results do not depend on the key, since swapping identical
customers swaps identical rows.

>>> import pandas as pd
>>> from segbench.data.model import CustomerData, DatasetMeta
>>> ids = pd.Index(["1001", "1002", "1003"], name="customer_id")
>>> raw = CustomerData(pd.DataFrame({"age": [30, 40, 50]}, index=ids), DatasetMeta("toy"))
>>> a, b = pseudonymise(raw, key=b"k1"), pseudonymise(raw, key=b"k2")
>>> a.customers["age"].tolist() == b.customers["age"].tolist()   # same order, whatever the key
True
>>> sorted(a.customers["age"]) == [30, 40, 50], "1001" in a.customers.index
(True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import replace

import numpy as np
import pandas as pd

from segbench.data.model import CustomerData

KEY_ENV = "SEGBENCH_PSEUDONYM_KEY"
#: How the tag ``segbench.pseudonym_key`` names a key drawn for one run.
RANDOM_PER_RUN = "random-per-run"


def key_source() -> str:
    """``"env"`` when the key comes from ``SEGBENCH_PSEUDONYM_KEY``, else ``"random-per-run"``
    (a fresh key for each load of a dataset, never stored)."""
    return "env" if os.environ.get(KEY_ENV) else RANDOM_PER_RUN


def env_key() -> bytes | None:
    """The key set in ``SEGBENCH_PSEUDONYM_KEY``, or ``None``."""
    value = os.environ.get(KEY_ENV)
    return value.encode() if value else None


def run_key() -> bytes:
    """The key of one run: ``SEGBENCH_PSEUDONYM_KEY``, or 32 fresh random bytes."""
    return env_key() or secrets.token_bytes(32)


def pseudonymise_ids(ids: pd.Index | pd.Series, key: bytes | None = None) -> pd.Index:
    """Map raw ids to 16-hex-digit HMAC-SHA256 pseudonyms (same id, same key → same pseudonym).

    ``key``: default :func:`run_key` (a random one when ``SEGBENCH_PSEUDONYM_KEY`` is unset).

    >>> a = pseudonymise_ids(pd.Index(["17850"]), key=b"k")
    >>> bool(a[0] == pseudonymise_ids(pd.Index(["17850"]), key=b"k")[0]), len(a[0])
    (True, 16)
    """
    secret = key if key is not None else run_key()
    values = pd.Index(ids).astype(str)
    uniques = values.unique()
    mapping = {
        raw: hmac.new(secret, raw.encode(), hashlib.sha256).hexdigest()[:16] for raw in uniques
    }
    return pd.Index(values.map(mapping), name="customer_id")


def _column_hashes(values: pd.Series) -> np.ndarray:
    """A content hash of each value (text hashed once per distinct value)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = np.asarray(values.cat.categories.astype(str), dtype=object)
        hashed = np.append(pd.util.hash_array(categories), np.uint64(0))
        return hashed[values.cat.codes.to_numpy()]  # code -1 (missing) → the last entry
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return pd.util.hash_array(values.to_numpy())
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    hashed = np.append(pd.util.hash_array(np.asarray(uniques, dtype=str).astype(object)), 0)
    return hashed.astype(np.uint64)[codes]


def _owners(ids: pd.Index, column: pd.Series) -> np.ndarray:
    """Position in ``ids`` of each value of ``column`` (-1 when absent), categories once."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        where = np.append(ids.get_indexer(column.cat.categories.astype(str)), -1)
        return where[column.cat.codes.to_numpy()]
    return ids.get_indexer(column.astype(str))


def _row_hashes(frame: pd.DataFrame | pd.Series) -> np.ndarray:
    """A content hash of each row (column names included, index not)."""
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    if frame.shape[1] == 0:
        return np.zeros(len(frame), dtype=np.uint64)
    columns = {
        f"{i}:{name}": _column_hashes(frame.iloc[:, i]) for i, name in enumerate(frame.columns)
    }
    return pd.util.hash_pandas_object(pd.DataFrame(columns), index=False).to_numpy()


def _member_hashes(frame: pd.DataFrame | None, ids: pd.Index) -> np.ndarray:
    """Per customer of ``ids``: an order-free hash of the rows of ``frame`` that are theirs."""
    if frame is None or len(frame) == 0:
        return np.zeros(len(ids), dtype=np.uint64)
    rows = _row_hashes(frame.drop(columns="customer_id"))
    owners = _owners(pd.Index(ids), frame["customer_id"])
    known = owners >= 0
    summed = np.zeros(len(ids), dtype=np.uint64)
    np.add.at(summed, owners[known], rows[known])  # uint64 addition wraps: a multiset hash
    return summed


def content_order(data: CustomerData, pseudonyms: pd.Index) -> np.ndarray:
    """Positions of ``data``'s customers in the order of their content (see the module
    docstring); ties broken by ``pseudonyms`` (the customers' pseudonyms, in ``data``'s order)."""
    ids = data.customers.index.astype(str)
    parts = {"customers": _row_hashes(data.customers)}
    for name in ("sensitive", "outcomes", "labels"):
        value = getattr(data, name)
        if value is not None:
            aligned = value.reindex(data.customers.index)
            parts[name] = _row_hashes(aligned)
    parts["transactions"] = _member_hashes(data.transactions, ids)
    parts["texts"] = _member_hashes(data.texts, ids)
    combined = _row_hashes(pd.DataFrame(parts))
    return np.lexsort((np.asarray(pseudonyms, dtype=str), combined))


def pseudonymise(data: CustomerData, key: bytes | None = None) -> CustomerData:
    """``data`` with every customer id replaced by its pseudonym, customers in content order
    (see the module docstring). ``key``: default :func:`run_key`."""
    secret = key if key is not None else run_key()
    raw = data.customers.index
    new = pseudonymise_ids(raw, secret)
    order = content_order(data, new)
    mapping = pd.Series(new, index=raw.astype(str))
    ordered_raw = raw[order]
    ordered_new = new[order]

    def reindexed(frame):
        if frame is None:
            return None
        if frame.index.equals(raw):  # the usual case: one row per customer, in raw order
            out = frame.iloc[order]
            out.index = pd.Index(ordered_new, name="customer_id")
            return out
        present = ordered_raw.isin(frame.index)
        out = frame.reindex(ordered_raw[present])
        out.index = pd.Index(ordered_new[present], name="customer_id")
        return out

    def column(frame):
        if frame is None:
            return None
        out = frame.copy(deep=False)  # the other columns are shared, not copied
        ids = out["customer_id"]
        if isinstance(ids.dtype, pd.CategoricalDtype):  # each category once
            keyed = mapping.reindex(ids.cat.categories.astype(str)).to_numpy()
            if not pd.isna(keyed).any():  # stays categorical: no string per line
                categories = pd.Index(keyed, dtype="str")
                out["customer_id"] = pd.Categorical.from_codes(
                    ids.cat.codes.to_numpy(), dtype=pd.CategoricalDtype(categories)
                )
                return out
            out["customer_id"] = np.append(keyed, np.nan)[ids.cat.codes.to_numpy()]
        else:
            out["customer_id"] = mapping.reindex(ids.astype(str)).to_numpy()
        return out

    customers = data.customers.iloc[order].copy()
    customers.index = pd.Index(ordered_new, name="customer_id")
    return replace(
        data,
        customers=customers,
        transactions=column(data.transactions),
        texts=column(data.texts),
        sensitive=reindexed(data.sensitive),
        labels=reindexed(data.labels),
        outcomes=reindexed(data.outcomes),
    )
