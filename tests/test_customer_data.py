import numpy as np
import pandas as pd
import pytest

from segbench.data.model import CustomerData, DatasetMeta, fingerprint_frames
from segbench.data.pseudonyms import pseudonymise, pseudonymise_ids
from segbench.errors import DataError
from toydata import toy_data


def test_toy_data_is_valid_and_lists_its_parts():
    data = toy_data(30).validate()
    assert data.parts() == ["customers", "transactions", "texts", "sensitive", "labels"]
    assert data.has("demographics")


def test_validate_names_what_is_wrong():
    empty = CustomerData(
        customers=pd.DataFrame(index=pd.Index([], name="customer_id")), meta=DatasetMeta("e")
    )
    with pytest.raises(DataError, match="empty dataset"):
        empty.validate()
    dup = CustomerData(
        customers=pd.DataFrame({"a": [1, 2]}, index=pd.Index(["x", "x"], name="customer_id")),
        meta=DatasetMeta("d"),
    )
    with pytest.raises(DataError, match="unique"):
        dup.validate()
    data = toy_data(30)
    data.transactions = data.transactions.drop(columns=["unit_price"])
    with pytest.raises(DataError, match="unit_price"):
        data.validate()


def test_subset_keeps_every_part_aligned():
    data = toy_data(30)
    ids = data.customer_ids[[3, 1]]
    sub = data.subset(ids)
    assert list(sub.customer_ids) == list(ids)
    assert set(sub.transactions["customer_id"]) == set(ids)
    assert list(sub.labels.index) == list(ids)


def test_fingerprint_is_stable_and_content_sensitive():
    a = toy_data(30)
    b = toy_data(30)
    assert fingerprint_frames(a.customers) == fingerprint_frames(b.customers)
    b.customers.iloc[0, 0] += 1
    assert fingerprint_frames(a.customers) != fingerprint_frames(b.customers)


def test_pseudonymise_rekeys_every_part_consistently():
    data = toy_data(30)
    out = pseudonymise(data, key=b"secret")
    raw = set(data.customer_ids)
    assert not raw & set(out.customer_ids)
    assert set(out.transactions["customer_id"]) <= set(out.customer_ids)
    assert list(out.labels.index) == list(out.customer_ids)
    # each customer keeps its own label under its pseudonym
    keyed = pd.Series(
        data.labels.to_numpy(), index=pseudonymise_ids(data.customer_ids, key=b"secret")
    )
    assert sorted(keyed.index) == sorted(out.customer_ids)
    assert (out.labels == keyed.reindex(out.labels.index)).all()
    assert set(pseudonymise_ids(data.customer_ids, key=b"other")) != set(keyed.index)
    # customers are in content order: not the raw order, and the same whatever the key
    other = pseudonymise(data, key=b"other")
    np.testing.assert_array_equal(other.customers.to_numpy(), out.customers.to_numpy())
    assert not (out.customers.to_numpy() == data.customers.to_numpy()).all()
