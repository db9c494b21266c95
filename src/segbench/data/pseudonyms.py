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
customers swaps identical rows. When the customer column of the transactions or texts is a
categorical of every customer (as the dataset cache gives it), its categories become the
pseudonyms in that order, so a line's customer is found by position (:func:`positions`).

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
import os
import secrets
import weakref
from dataclasses import replace
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa

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
    codes, uniques = pd.factorize(pd.Index(ids).astype(str))
    # a list of Python strings: iterating an Arrow-backed array element by element costs
    # more than the hashing itself (2 s of 3.5 at a million ids)
    hashed = np.asarray(hmac_sha256_hex16(secret, uniques.tolist()), dtype=object)
    return pd.Index(pd.array(hashed[codes], dtype="str"), name="customer_id")


def hmac_sha256_hex16(key: bytes, values) -> list[str]:
    """The first 16 hex digits of HMAC-SHA256(``key``, value) for each string of ``values``.

    The same digests as :func:`hmac.new` (RFC 2104), three times faster at a million ids: the
    inner and outer padded key states are hashed once and copied for each value.

    >>> import hmac
    >>> hmac_sha256_hex16(b"k", ["17850"]) == [
    ...     hmac.new(b"k", b"17850", hashlib.sha256).hexdigest()[:16]]
    True
    """
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded)).copy
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded)).copy
    out = []
    append = out.append
    for value in values:
        h = inner()
        h.update(value.encode())
        o = outer()
        o.update(h.digest())
        append(o.hexdigest()[:16])
    return out


def _column_hashes(values: pd.Series) -> np.ndarray:
    """Each value's content hash, mixed once more (what ``pandas.util.hash_array`` gives for
    the value's hash): text and categories are hashed and mixed once per distinct value, then
    gathered, so a column of millions of lines with few distinct values costs one gather."""
    mix = pd.util.hash_array
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = np.asarray(values.cat.categories.astype(str), dtype=object)
        hashed = np.append(mix(categories, categorize=False), np.uint64(0))
        return mix(hashed)[values.cat.codes.to_numpy()]  # code -1 (missing) → the last entry
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return mix(mix(values.to_numpy()))
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = np.asarray(uniques, dtype=str).astype(object)
    # Appending the int 0 turns the hashes into float64 and back (their low bits rounded):
    # a quirk of the first version, kept because the order of every dataset depends on it.
    hashed = np.append(mix(text, categorize=False), 0).astype(np.uint64)
    return mix(hashed)[codes]


def _combine(columns: list[np.ndarray]) -> np.ndarray:
    """One hash per row from the columns' hashes (CPython's tuple hash, as
    ``pandas.util.hash_pandas_object`` combines the columns of a frame), in place."""
    out = np.full(len(columns[0]), 0x345678, dtype=np.uint64)
    mult = np.uint64(1000003)
    for i, column in enumerate(columns):
        out ^= column
        out *= mult
        mult += np.uint64(82520 + 2 * (len(columns) - i))
    out += np.uint64(97531)
    return out


def _owners(ids: pd.Index, column: pd.Series) -> np.ndarray:
    """Position in ``ids`` of each value of ``column`` (-1 when absent), categories once."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.cat.categories
        if len(categories) == len(ids) and _same_strings(categories, ids):
            where = np.append(np.arange(len(ids)), -1)
        else:
            where = np.append(ids.get_indexer(categories.astype(str)), -1)
        return where[column.cat.codes.to_numpy()]
    return ids.get_indexer(column.astype(str))


def positions(ids: pd.Index, values: pd.Index) -> np.ndarray:
    """Position in ``ids`` of each of ``values`` (``-1`` when absent), compared as text;
    without a lookup when they are the same strings in the same order (the customer
    categories of a pseudonymised dataset's transactions and texts are its customer ids,
    :func:`pseudonymise`).

    >>> positions(pd.Index(["a", "b", "c"]), pd.Index(["c", "x", "a"])).tolist()
    [2, -1, 0]
    >>> positions(pd.Index(["a", "b"]), pd.Index(["a", "b"])).tolist()
    [0, 1]
    """
    ids, values = pd.Index(ids), pd.Index(values)
    if len(ids) == len(values) and _same_strings(ids, values):
        return np.arange(len(ids), dtype=np.intp)
    return ids.astype(str).get_indexer(values.astype(str))


def _same_strings(a: pd.Index, b: pd.Index) -> bool:
    """Whether two indexes hold the same strings in the same order (Arrow-fast for ``str``)."""
    try:
        return pa.array(a.astype(str)).equals(pa.array(b.astype(str)))
    except (TypeError, ValueError, pa.ArrowException):
        return bool(a.astype(str).equals(b.astype(str)))


def _row_hashes(frame: pd.DataFrame | pd.Series) -> np.ndarray:
    """A content hash of each row: its values in column order (names and index not
    included); equal to ``hash_pandas_object`` of the frame of :func:`_column_hashes`."""
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    if frame.shape[1] == 0:
        return np.zeros(len(frame), dtype=np.uint64)
    return _combine([_column_hashes(frame.iloc[:, i]) for i in range(frame.shape[1])])


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


#: Per-customer hashes of a frame's rows already computed (:func:`member_hashes`), by the
#: frame's ``id``: (a weak reference to the frame, the customer ids, the hashes).
_MEMBER_HASHES: dict[int, tuple[weakref.ref, pd.Index, np.ndarray]] = {}


def remember_member_hashes(frame: pd.DataFrame, ids: pd.Index, hashes: np.ndarray) -> None:
    """Keep the per-customer hashes of ``frame`` (transactions or texts) for the customers
    ``ids``, so :func:`content_order` does not recompute them (the dataset cache stores them
    beside a cached dataset: hashing 15 million lines is most of pseudonymising 1M customers).
    Held as long as ``frame`` itself lives; a different frame object is hashed afresh."""
    key = id(frame)
    _MEMBER_HASHES[key] = (
        weakref.ref(frame, lambda _: _MEMBER_HASHES.pop(key, None)),
        pd.Index(ids).astype(str),
        hashes,
    )


def member_hashes(frame: pd.DataFrame | None, ids: pd.Index) -> np.ndarray:
    """Per customer of ``ids``: an order-free hash of the rows of ``frame`` that are theirs
    (kept for ``frame``, see :func:`remember_member_hashes`)."""
    if frame is None or len(frame) == 0:
        return np.zeros(len(ids), dtype=np.uint64)
    known = _MEMBER_HASHES.get(id(frame))
    if known is not None and known[0]() is frame and _same_strings(known[1], pd.Index(ids)):
        return known[2]
    hashes = _member_hashes(frame, pd.Index(ids).astype(str))
    remember_member_hashes(frame, ids, hashes)
    return hashes


def content_order(data: CustomerData, pseudonyms: pd.Index) -> np.ndarray:
    """Positions of ``data``'s customers in the order of their content (see the module
    docstring); ties broken by ``pseudonyms`` (the customers' pseudonyms, in ``data``'s order)."""
    index = data.customers.index
    ids = index.astype(str)
    parts = [_row_hashes(data.customers)]
    for name in ("sensitive", "outcomes", "labels"):
        value = getattr(data, name)
        if value is not None:
            same = len(value.index) == len(index) and _same_strings(value.index, index)
            parts.append(_row_hashes(value if same else value.reindex(index)))
    parts.append(member_hashes(data.transactions, ids))
    parts.append(member_hashes(data.texts, ids))
    mix = pd.util.hash_array
    combined = _combine([mix(mix(part)) for part in parts])  # as the columns of a frame
    return _sort_with_ties(combined, pseudonyms)


def _sort_with_ties(combined: np.ndarray, pseudonyms: pd.Index) -> np.ndarray:
    """``np.lexsort((pseudonyms, combined))`` without sorting a million strings: a stable
    sort by ``combined``, then the runs of equal hashes (customers identical in every part)
    ordered by pseudonym.

    >>> _sort_with_ties(np.array([5, 1, 5], dtype=np.uint64), pd.Index(["b", "z", "a"]))
    array([1, 2, 0])
    """
    order = np.argsort(combined, kind="stable")
    ranked = combined[order]
    tied = np.zeros(len(order), dtype=bool)
    if len(order) > 1:
        equal = ranked[1:] == ranked[:-1]
        tied[1:] |= equal
        tied[:-1] |= equal
    if tied.any():
        where = np.flatnonzero(tied)
        names = np.asarray(pd.Index(pseudonyms)[order[where]], dtype=str)
        order[where] = order[where][np.lexsort((names, ranked[where]))]
    return order


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

    @cache
    def content_codes() -> tuple[pd.Index, np.ndarray, pd.CategoricalDtype]:
        """The raw ids as text, each raw position's place in content order, and the
        pseudonyms in content order as a categorical type (made once, for both columns)."""
        rank = np.empty(len(order), dtype=np.intp)
        rank[order] = np.arange(len(order))
        dtype = pd.CategoricalDtype(pd.Index(ordered_new, dtype="str"))
        return pd.Index(raw).astype(str), rank, dtype

    def every_customer(ids: pd.Series) -> pd.Categorical | None:
        """The column with the customers' pseudonyms, in content order, as its categories
        (so they are the customer ids themselves, and positions need no lookup), when its
        categories are every customer once; else ``None``."""
        categories = ids.cat.categories
        if len(categories) != len(raw):
            return None
        raw_text, rank, dtype = content_codes()
        where = positions(raw_text, categories)
        if (where < 0).any():  # not every customer: the categories as they are
            return None
        code_of_category = np.append(rank[where], -1)  # code -1 (missing) stays -1
        return pd.Categorical.from_codes(code_of_category[ids.cat.codes.to_numpy()], dtype=dtype)

    def column(frame):
        if frame is None:
            return None
        out = frame.copy(deep=False)  # the other columns are shared, not copied
        ids = out["customer_id"]
        if isinstance(ids.dtype, pd.CategoricalDtype) and not ids.cat.ordered:
            recoded = every_customer(ids)
            if recoded is not None:
                out["customer_id"] = recoded
                return out
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
