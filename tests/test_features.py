import numpy as np
import pandas as pd
import pytest

from segbench.data.model import CustomerData, DatasetMeta
from segbench.errors import ConfigError, DataError
from segbench.features import FeaturePipeline, check_feedable, parse_expression
from segbench.features.demographics import DemographicsBlock
from segbench.features.embeddings import Embedder
from segbench.features.rfm import RFMBlock, rfm_table
from segbench.features.text import TextBlock
from toydata import toy_data

VALID = ["rfm", "demographics", "text"]


def test_parse_expression_any_order_and_clear_errors():
    assert parse_expression("text+rfm", VALID) == ["text", "rfm"]
    assert parse_expression("rfm+demographics+text", VALID) == ["rfm", "demographics", "text"]
    with pytest.raises(
        ConfigError, match=r"unknown feature block.*'rmf'.*valid blocks: demographics, rfm, text"
    ):
        parse_expression("rmf+text", VALID)
    with pytest.raises(ConfigError, match="twice"):
        parse_expression("rfm+rfm", VALID)
    with pytest.raises(ConfigError):
        parse_expression("rfm+", VALID)


def test_rfm_table_matches_a_hand_computed_example():
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b"],
            "invoice_id": ["1", "1", "2", "3"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-11", "2024-01-05"]),
            "product_id": ["p", "q", "p", "p"],
            "quantity": [2, 1, 1, 3],
            "unit_price": [5.0, 10.0, 4.0, 1.0],
        }
    )
    table = rfm_table(tx, pd.Timestamp("2024-01-21"))
    a, b = table.loc["a"], table.loc["b"]
    assert (a.recency, a.frequency, a.monetary) == (10.0, 2.0, 24.0)
    assert (b.recency, b.frequency, b.monetary) == (16.0, 1.0, 3.0)
    assert a.tenure == 20.0 and a.mean_basket == 12.0 and a.mean_interpurchase_days == 10.0
    assert a.distinct_products == 2.0


def test_rfm_block_log_transform_and_precomputed_columns():
    data = toy_data(60)
    raw = RFMBlock(log_transform=False).fit_transform(data)
    logged = RFMBlock(log_transform=True).fit_transform(data)
    assert list(raw.columns) == ["recency", "frequency", "monetary"]
    np.testing.assert_allclose(logged.to_numpy(), np.log1p(raw.clip(lower=0)).to_numpy())
    # a dataset without transactions but with precomputed columns
    pre = CustomerData(customers=raw.copy(), meta=DatasetMeta("pre"), demographic_columns=())
    assert RFMBlock().missing_part(pre) is None
    assert RFMBlock(extended=True).missing_part(pre) == "transactions"


def test_demographics_excludes_sensitive_unless_asked():
    data = toy_data(60)
    default = DemographicsBlock().fit_transform(data)
    assert not any(c.startswith("gender") for c in default.columns)
    assert {"age", "income", "region=north", "region=south"} <= set(default.columns)
    full = DemographicsBlock(include_sensitive=True).fit_transform(data)
    assert {"gender=female", "gender=male"} <= set(full.columns)


def test_block_weighting_gives_each_block_total_variance_weight_squared():
    data = toy_data(90)
    pipe = FeaturePipeline(
        {"rfm": RFMBlock(weight=1.0), "demographics": DemographicsBlock(weight=2.0)}
    )
    fm = pipe.fit_transform(data)
    frame = fm.frame()
    for block, weight in (("rfm", 1.0), ("demographics", 2.0)):
        total = frame[fm.blocks[block]].to_numpy().var(axis=0).sum()
        assert total == pytest.approx(weight**2, rel=1e-9)
    assert fm.profile.columns.tolist()[:3] == ["recency", "frequency", "monetary"]
    # transform on new data reuses the fitted scaling
    again = pipe.transform(data)
    np.testing.assert_allclose(again.X, fm.X)


def test_pca_preprocess_reduces_and_keeps_profile():
    data = toy_data(90)
    pipe = FeaturePipeline(
        {"rfm": RFMBlock(), "demographics": DemographicsBlock()}, reduce="pca", n_components=2
    )
    fm = pipe.fit_transform(data)
    assert fm.shape == (90, 2) and fm.columns == ["pca.pc1", "pca.pc2"]
    assert "monetary" in fm.profile.columns


def test_block_the_dataset_cannot_feed_names_what_would_work():
    data = toy_data(30)
    data.texts = None
    blocks = {"text": TextBlock()}
    candidates = {"rfm": RFMBlock(), "demographics": DemographicsBlock(), "text": TextBlock()}
    with pytest.raises(DataError) as err:
        check_feedable(blocks, data, candidates)
    message = str(err.value)
    assert "dataset 'toy'" in message and "'text' block" in message and "no texts" in message
    assert "Blocks that work on this dataset: rfm, demographics" in message


def test_tfidf_text_block_separates_the_toy_groups():
    data = toy_data(90)
    block = TextBlock(method="tfidf", pca_components=None, svd_components=2)
    frame = block.fit_transform(data)
    assert frame.shape[0] == 90
    groups = data.labels.to_numpy()
    centroids = [frame.to_numpy()[groups == g].mean(axis=0) for g in "012"]
    assert np.linalg.norm(centroids[0] - centroids[1]) > 0.1


def test_embedding_cache_computes_each_text_once(tmp_path):
    texts = ["great quality", "late delivery", "great quality"]
    first = Embedder(cache_root=tmp_path, progress=False)
    vectors = first.embed(texts)
    assert vectors.shape == (3, 384)
    assert first.stats == {"computed": 2, "cached": 0}
    np.testing.assert_array_equal(vectors[0], vectors[2])
    second = Embedder(cache_root=tmp_path, progress=False)
    again = second.embed(["late delivery", "great quality"])
    assert second.stats == {"computed": 0, "cached": 2}
    np.testing.assert_allclose(again, vectors[[1, 0]], rtol=1e-6)
    # related texts are closer than unrelated ones (a real model, not a stub)
    more = second.embed(["excellent quality", "the parcel arrived late"])
    cos = lambda a, b: a @ b / np.linalg.norm(a) / np.linalg.norm(b)  # noqa: E731
    assert cos(more[0], vectors[0]) > cos(more[0], vectors[1])


def test_sbert_text_block_pools_per_customer_and_fills_missing(tmp_path):
    data = toy_data(30)
    data.texts = data.texts.iloc[:-3]  # three customers without text
    block = TextBlock(cache_dir=str(tmp_path), pca_components=4, progress=False)
    frame = block.fit_transform(data)
    assert frame.shape == (30, 4)
    assert block.n_without_text_ == 3
    assert block.embedding_stats_ == {"computed": 3, "cached": 0}
    np.testing.assert_allclose(frame.iloc[-1].to_numpy(), frame.iloc[-2].to_numpy())


def test_demographics_that_are_all_sensitive_fail_in_the_check_before_work():
    data = toy_data(30)
    data.demographic_columns = ("gender",)
    message = DemographicsBlock().missing_part(data)
    assert "all sensitive" in message and "include_sensitive=true" in message
    assert DemographicsBlock(include_sensitive=True).missing_part(data) is None


def test_rfm_table_rows_follow_the_customer_codes_with_the_plain_groupbys_values():
    rng = np.random.default_rng(2)
    ids = [f"c{i:03d}" for i in range(200)]
    n = 3000
    tx = pd.DataFrame(
        {
            "customer_id": pd.Categorical(rng.choice(ids, n), categories=rng.permutation(ids)),
            "invoice_id": [f"i{i // 3:05d}" for i in range(n)],
            "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D"),
            "product_id": rng.choice(["p", "q", "r"], n),
            "quantity": rng.integers(1, 4, n),
            "unit_price": rng.uniform(1, 50, n),
        }
    )
    tx["invoice_id"] = tx["invoice_id"] + "-" + tx["customer_id"].astype(str)  # one owner each
    when = pd.Timestamp("2025-01-01")
    table = rfm_table(tx, when, extended=False)
    present = [c for c in tx["customer_id"].cat.categories if c in set(tx["customer_id"])]
    assert list(table.index) == present  # the categories' order
    # the plain way (the benchmark's): invoices, then customers, by pandas groupby on the ids
    plain = tx.assign(amount=tx["quantity"] * tx["unit_price"])
    plain["customer_id"] = plain["customer_id"].astype(str)
    inv = plain.groupby(["customer_id", "invoice_id"]).agg(
        t=("timestamp", "min"), a=("amount", "sum")
    )
    per = inv.groupby(level=0).agg(last=("t", "max"), f=("a", "size"), m=("a", "sum"))
    per = per.reindex(present)
    np.testing.assert_allclose(table["recency"], (when - per["last"]) / pd.Timedelta(days=1))
    np.testing.assert_array_equal(table["frequency"], per["f"].astype(float))
    np.testing.assert_allclose(table["monetary"], per["m"], rtol=1e-12)
