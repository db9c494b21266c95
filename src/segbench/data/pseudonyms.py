"""Pseudonymisation of customer identifiers with a keyed hash (HMAC-SHA256).

The key comes from ``SEGBENCH_PSEUDONYM_KEY``; without it a random key is drawn once per
process, so ids cannot be linked across runs (the run records which case applied).
Raw identifiers never leave the loader: every part of :class:`CustomerData` is re-keyed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import replace

import pandas as pd

from segbench.data.model import CustomerData

KEY_ENV = "SEGBENCH_PSEUDONYM_KEY"
_PROCESS_KEY = secrets.token_bytes(32)


def key_source() -> str:
    """``"env"`` when the key comes from the environment, else ``"random-per-process"``
    (drawn once per Python process, so every run of an in-process sweep shares it)."""
    return "env" if os.environ.get(KEY_ENV) else "random-per-process"


def _key() -> bytes:
    value = os.environ.get(KEY_ENV)
    return value.encode() if value else _PROCESS_KEY


def pseudonymise_ids(ids: pd.Index | pd.Series, key: bytes | None = None) -> pd.Index:
    """Map raw ids to 16-hex-digit HMAC-SHA256 pseudonyms (same id, same key → same pseudonym).

    >>> a = pseudonymise_ids(pd.Index(["17850"]), key=b"k")
    >>> bool(a[0] == pseudonymise_ids(pd.Index(["17850"]), key=b"k")[0]), len(a[0])
    (True, 16)
    """
    secret = key if key is not None else _key()
    values = pd.Index(ids).astype(str)
    uniques = values.unique()
    mapping = {
        raw: hmac.new(secret, raw.encode(), hashlib.sha256).hexdigest()[:16] for raw in uniques
    }
    return pd.Index(values.map(mapping), name="customer_id")


def pseudonymise(data: CustomerData, key: bytes | None = None) -> CustomerData:
    """Return ``data`` with every customer id replaced by its pseudonym."""
    secret = key if key is not None else _key()
    raw = data.customers.index
    new = pseudonymise_ids(raw, secret)
    mapping = pd.Series(new, index=raw)

    def reindexed(frame):
        if frame is None:
            return None
        out = frame.copy()
        out.index = pd.Index(mapping.reindex(out.index).to_numpy(), name="customer_id")
        return out

    def column(frame):
        if frame is None:
            return None
        out = frame.copy()
        out["customer_id"] = mapping.reindex(out["customer_id"].astype(str)).to_numpy()
        return out

    customers = data.customers.copy()
    customers.index = new
    return replace(
        data,
        customers=customers,
        transactions=column(data.transactions),
        texts=column(data.texts),
        sensitive=reindexed(data.sensitive),
        labels=reindexed(data.labels),
        outcomes=reindexed(data.outcomes),
    )
