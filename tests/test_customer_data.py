from dataclasses import replace

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


def test_ties_in_content_are_ordered_by_pseudonym_as_a_lexsort_would():
    from segbench.data.pseudonyms import _sort_with_ties

    rng = np.random.default_rng(0)
    combined = rng.integers(0, 40, size=500).astype(np.uint64)  # many ties
    names = pd.Index([f"{v:016x}" for v in rng.integers(0, 2**62, size=500)])
    expected = np.lexsort((np.asarray(names, dtype=str), combined))
    assert np.array_equal(_sort_with_ties(combined, names), expected)


def test_pseudonyms_are_hmac_sha256_for_any_key_length():
    import hashlib
    import hmac

    from segbench.data.pseudonyms import pseudonymise_ids

    ids = pd.Index(["17850", "13047", "17850", "é-1"])
    for key in (b"k", b"x" * 64, b"y" * 100):
        want = [hmac.new(key, i.encode(), hashlib.sha256).hexdigest()[:16] for i in ids]
        assert list(pseudonymise_ids(ids, key=key)) == want


def test_fingerprint_is_stable_and_moves_with_any_value():
    from segbench.data.model import fingerprint_frames

    def frames():
        tx = pd.DataFrame({"customer_id": pd.Categorical(["a", "b", "a"]), "q": [1, 2, 3]})
        return pd.DataFrame({"age": [30, 40]}, index=pd.Index(["a", "b"])), tx

    first = fingerprint_frames(*frames())
    assert fingerprint_frames(*frames()) == first
    customers, tx = frames()
    tx.loc[2, "q"] = 4
    assert fingerprint_frames(customers, tx) != first
    customers, tx = frames()
    customers.index = pd.Index(["a", "c"])
    assert fingerprint_frames(customers, tx) != first


@pytest.mark.parametrize("categories", ["every customer", "shuffled", "some customers", "text"])
def test_pseudonymised_customer_columns_hold_each_lines_own_pseudonym(categories):
    # a categorical of every customer is recoded to the customer ids in content order (found
    # by position downstream); any other column is keyed value by value: each line keeps its
    # own customer's pseudonym either way
    data = toy_data(40)
    raw = data.transactions["customer_id"].astype(str)
    everyone = list(data.customer_ids)
    if categories == "text":
        column = raw.to_numpy(dtype=object)
    elif categories == "some customers":
        column = pd.Categorical(raw, categories=[*sorted(set(raw)), "T99999"])
    else:
        shuffled = list(np.random.default_rng(1).permutation(everyone))
        order = everyone if categories == "every customer" else shuffled
        column = pd.Categorical(raw, categories=order)
    data.transactions = data.transactions.assign(customer_id=column)
    out = pseudonymise(data, key=b"secret")
    pseudonyms = pseudonymise_ids(data.customer_ids, key=b"secret")
    keyed = dict(zip(data.customer_ids, pseudonyms, strict=True))
    assert out.transactions["customer_id"].astype(str).tolist() == [keyed[c] for c in raw]
    column = out.transactions["customer_id"]
    if categories in ("every customer", "shuffled"):
        assert list(column.cat.categories) == list(out.customer_ids)
    # the customers' order and every other part are as with a column of plain text
    plain = data.transactions.assign(customer_id=raw.to_numpy(dtype=object))
    reference = pseudonymise(replace(data, transactions=plain), key=b"secret")
    assert list(reference.customer_ids) == list(out.customer_ids)
    pd.testing.assert_frame_equal(reference.customers, out.customers)
    pd.testing.assert_series_equal(reference.labels, out.labels)
    pd.testing.assert_frame_equal(reference.texts, out.texts)
