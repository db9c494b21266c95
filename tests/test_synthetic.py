"""Tests of the synthetic dataset: canonical shape, determinism, planted structure, scale."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from segbench.data.model import TEXT_COLUMNS, TRANSACTION_COLUMNS
from segbench.datasets.synthetic import (
    DEFAULT_SHARES,
    DISTINCT_REVIEWS,
    SEGMENTS,
    SyntheticDataset,
    product_catalogue,
)
from segbench.datasets.synthetic_reviews import review_pool, review_topics, segment_reviews
from segbench.errors import ConfigError

PRICE_WORDS = (
    r"\b(?:price|prices|discount|discounts|discounted|sale|cheap|cheapest|deal|deals|coupon"
    r"|coupons|bargain)\b"
)


@pytest.fixture(scope="module")
def data():
    return SyntheticDataset(n_customers=3000, seed=0).load()


def _female_share_range(strength: float) -> float:
    d = SyntheticDataset(n_customers=3000, demographic_strength=strength, seed=5).load()
    female = (d.customers["gender"] == "female").groupby(d.labels, observed=True).mean()
    return float(female.max() - female.min())


def _frames(d):
    return [d.customers, d.transactions, d.texts, d.sensitive, d.labels, d.outcomes]


# -- canonical model ---------------------------------------------------------------------------
def test_validates_and_has_every_part(data):
    assert data.validate() is data
    assert data.parts() == [
        "customers",
        "transactions",
        "texts",
        "sensitive",
        "labels",
        "outcomes",
    ]
    assert data.name == "synthetic"
    assert data.demographic_columns == ("age", "income", "gender", "region")


def test_customers_columns_and_dtypes(data):
    c = data.customers
    assert c.index.name == "customer_id"
    assert c.index.is_unique and len(c) == 3000
    assert c.index[0] == "S0000001" and c.index[-1] == "S0003000"
    assert list(c.columns) == ["age", "income", "gender", "region"]
    assert pd.api.types.is_integer_dtype(c["age"])
    assert c["age"].between(18, 90).all()
    assert pd.api.types.is_float_dtype(c["income"]) and (c["income"] > 0).all()
    assert list(c["gender"].cat.categories) == ["female", "male", "other"]
    assert isinstance(c["region"].dtype, pd.CategoricalDtype)
    assert c["region"].nunique() == 5


def test_transactions_columns_and_dtypes(data):
    tx = data.transactions
    assert tuple(tx.columns) == TRANSACTION_COLUMNS
    assert pd.api.types.is_datetime64_any_dtype(tx["timestamp"])
    assert pd.api.types.is_integer_dtype(tx["quantity"]) and (tx["quantity"] >= 1).all()
    assert pd.api.types.is_float_dtype(tx["unit_price"]) and (tx["unit_price"] > 0).all()
    assert set(tx["channel"].unique()) == {"web", "store", "app"}
    assert tx["customer_id"].isin(data.customer_ids).all()
    assert tx["description"].nunique() > 200


def test_sensitive_labels_outcomes(data):
    s = data.sensitive
    assert list(s.columns) == ["gender", "age_band", "region"]
    assert s.index.equals(data.customer_ids)
    bands = pd.cut(data.customers["age"], [0, 29, 44, 59, 200], labels=False)
    assert (s["age_band"].cat.codes.to_numpy() == bands.to_numpy()).all()
    assert list(s["age_band"].cat.categories) == ["18-29", "30-44", "45-59", "60+"]
    assert data.labels.name == "segment" and data.labels.index.equals(data.customer_ids)
    o = data.outcomes
    assert list(o.columns) == ["next_period_spend", "churned"]
    assert o["churned"].dtype == bool
    assert (o["next_period_spend"] >= 0).all()
    assert ((o["next_period_spend"] > 0) == ~o["churned"]).all()


def test_meta(data):
    m = data.meta
    assert (m.source, m.licence, m.cleaning) == (
        "segbench synthetic generator",
        "CC0 (generated)",
        [],
    )
    assert re.fullmatch(r"[0-9a-f]{16}", m.fingerprint)
    assert m.notes["segment_sizes"] == data.labels.value_counts().to_dict()
    assert m.notes["params"]["n_customers"] == 3000
    assert m.notes["n_distinct_reviews"] == data.texts["text"].nunique() <= DISTINCT_REVIEWS
    last_day = data.transactions["timestamp"].max().normalize()
    assert m.analysis_date == last_day + pd.Timedelta(days=1)


def test_load_dataset_pseudonymises_and_validates():
    from segbench.datasets import load_dataset

    cfg = {
        "_target_": "segbench.datasets.synthetic.SyntheticDataset",
        "name": "synthetic",
        "n_customers": 300,
    }
    d = load_dataset(cfg)
    assert d.n_customers == 300
    assert not d.customer_ids.str.startswith("S").all()
    assert set(d.transactions["customer_id"].astype(str)) <= set(d.customer_ids)


# -- determinism -------------------------------------------------------------------------------
def test_same_seed_identical_other_seed_different():
    a = SyntheticDataset(n_customers=1500, seed=3).load()
    b = SyntheticDataset(n_customers=1500, seed=3).load()
    for x, y in zip(_frames(a), _frames(b), strict=True):
        assert x.equals(y) and x.index.equals(y.index)
        assert (x.dtypes == y.dtypes).all() if isinstance(x, pd.DataFrame) else x.dtype == y.dtype
    pd.testing.assert_frame_equal(a.customers, b.customers)
    assert a.meta.fingerprint == b.meta.fingerprint
    c = SyntheticDataset(n_customers=1500, seed=4).load()
    assert c.meta.fingerprint != a.meta.fingerprint
    assert not c.labels.equals(a.labels)
    assert len(c.transactions) != len(a.transactions)


def test_no_work_in_init_and_bad_params_are_reported():
    SyntheticDataset(n_customers=-1, noise=7)  # storing is not validating
    with pytest.raises(ConfigError, match="noise"):
        SyntheticDataset(noise=1.5).load()
    with pytest.raises(ConfigError, match="n_customers"):
        SyntheticDataset(n_customers=3).load()
    with pytest.raises(ConfigError, match="missing"):
        SyntheticDataset(segment_shares={"champions": 1.0}).load()
    bad = dict(DEFAULT_SHARES, lost=0.5)
    with pytest.raises(ConfigError, match="sum to 1"):
        SyntheticDataset(segment_shares=bad).load()


# -- planted segments ----------------------------------------------------------------------------
def test_segment_sizes_follow_shares(data):
    counts = data.labels.value_counts()
    assert set(counts.index) == set(SEGMENTS)
    for segment, share in DEFAULT_SHARES.items():
        assert abs(counts[segment] / 3000 - share) < 0.002
    shares = {"champions": 0.3, "loyal": 0.1, "new": 0.1, "at_risk": 0.1}
    shares |= {"bargain_hunters": 0.2, "lost": 0.2}
    custom = SyntheticDataset(n_customers=1000, segment_shares=shares).load()
    assert custom.labels.value_counts()["champions"] == 300


def test_every_customer_buys_within_the_span(data):
    tx = data.transactions
    assert tx["customer_id"].nunique() == data.n_customers
    start, end = pd.Timestamp("2023-01-01"), pd.Timestamp("2025-01-01")
    assert tx["timestamp"].min() >= start and tx["timestamp"].max() < end
    per_invoice = tx.groupby("invoice_id", observed=True).agg(
        lines=("product_id", "size"),
        customers=("customer_id", "nunique"),
        times=("timestamp", "nunique"),
        channels=("channel", "nunique"),
    )
    assert per_invoice["lines"].between(1, 10).all()
    assert (per_invoice[["customers", "times", "channels"]] == 1).all().all()
    assert tx["timestamp"].is_monotonic_increasing


def test_behaviour_differs_by_segment(data):
    tx = data.transactions
    amount = tx["quantity"] * tx["unit_price"]
    per = tx.assign(amount=amount).groupby("customer_id", observed=True)
    rfm = pd.DataFrame(
        {
            "recency": (data.meta.analysis_date - per["timestamp"].max()).dt.days,
            "frequency": per["invoice_id"].nunique(),
            "monetary": per["amount"].sum(),
        }
    )
    rfm.index = rfm.index.astype(str)
    med = rfm.groupby(data.labels.reindex(rfm.index), observed=True).median()
    assert med.loc["champions", "monetary"] > 3 * med.loc["loyal", "monetary"]
    assert med.loc["champions", "frequency"] > med.loc["loyal", "frequency"]
    assert med.loc["lost", "recency"] > 300 > med.loc["at_risk", "recency"] > 100
    assert med.loc["new", "frequency"] == 1 and med.loc["new", "recency"] < 30
    assert med.loc["bargain_hunters", "frequency"] > med.loc["loyal", "frequency"]
    line_segment = data.labels.reindex(tx["customer_id"].astype(str)).to_numpy()
    discount = tx["description"].astype(str).str.match(r"(discount|budget|value) ")
    by_segment = discount.groupby(line_segment).mean()
    assert by_segment["bargain_hunters"] > 0.6 > 0.1 > by_segment["champions"]
    app = (tx["channel"] == "app").groupby(line_segment).mean()
    assert app["champions"] > 0.4 > 0.15 > app["lost"]


def test_catalogue():
    catalogue = product_catalogue()
    assert len(catalogue) == 270
    assert catalogue["product_id"].is_unique and catalogue["description"].is_unique
    assert {"premium leather handbag", "discount cotton socks"} <= set(catalogue["description"])


# -- texts --------------------------------------------------------------------------------------
def test_reviews_are_varied_and_bounded(data):
    texts = data.texts["text"].astype(str)
    assert tuple(data.texts.columns) == TEXT_COLUMNS
    n_reviews = data.texts.groupby("customer_id", observed=False).size()
    assert n_reviews.max() == 3 and (n_reviews == 0).mean() < 0.1
    # far more distinct texts than the former 384-string pool, each used about equally often
    distinct = texts.nunique()
    assert distinct == DISTINCT_REVIEWS == len(data.texts["text"].cat.categories)
    uses = texts.value_counts()
    assert uses.max() - uses.min() <= uses.mean()
    # varied length, spelling slips, lower case
    words = texts.str.split().str.len()
    assert words.min() <= 6 and words.max() >= 35 and 12 <= words.median() <= 25
    assert texts.str.match(r"[a-z]").mean() > 0.05
    # customers' text is not a handful of points: few customers share another's reviews
    per_customer = data.texts.groupby("customer_id", observed=True)["text"].agg(
        lambda t: "|".join(sorted(t.astype(str)))
    )
    assert per_customer.duplicated(keep=False).mean() < 0.1


def test_review_sequences_are_fixed_distinct_and_prefix_stable():
    first = segment_reviews(3, 200)
    assert first == segment_reviews(3, 200) and first[:50] == segment_reviews(3, 50)
    pool = review_pool(300)
    assert len(pool) == len(set(pool)) == 1800
    assert review_topics(300).tolist() == [s for s in range(6) for _ in range(300)]
    # surface noise: lower case, typing slips (a word not in any sentence template)
    assert sum(t[0].islower() for t in pool) / len(pool) > 0.05
    from segbench.datasets import synthetic_reviews as r

    sources = [*r._GENERIC, *r._ITEMS, *(t for g in r._SEGMENT_SENTENCES for t in g)]
    sources += [*(t for g in r._CLOSERS for t in g), *(v for g in r._SLOTS.values() for v in g)]
    sources += [american for _, american in r._SPELLING] + ["star", "stars"]
    vocabulary = set(re.findall(r"[a-z]+", " ".join(sources).lower()))
    words = [w for t in pool for w in re.findall(r"[a-z]+", t.lower())]
    slips = sum(w not in vocabulary for w in words) / len(words)
    assert 0.005 < slips < 0.05


def test_distinct_reviews_bounds_the_texts_and_null_gives_every_review_its_own():
    bounded = SyntheticDataset(n_customers=800, distinct_reviews=60, seed=1).load()
    assert bounded.texts["text"].nunique() == 60
    free = SyntheticDataset(n_customers=800, distinct_reviews=None, seed=1).load()
    assert free.texts["text"].nunique() == len(free.texts)
    with pytest.raises(ConfigError, match="distinct_reviews"):
        SyntheticDataset(distinct_reviews=3).load()
    # a smaller dataset's texts are texts of a larger one (one embedding cache serves both)
    small = SyntheticDataset(n_customers=500, seed=5).load()
    assert set(small.texts["text"].astype(str)) <= set(review_pool(DISTINCT_REVIEWS // 6))


def test_texts_follow_segments(data):
    texts = data.texts.assign(
        segment=data.labels.reindex(data.texts["customer_id"].astype(str)).to_numpy(),
        price=data.texts["text"].astype(str).str.lower().str.contains(PRICE_WORDS),
    )
    share = texts.groupby("segment")["price"].mean()
    assert share["bargain_hunters"] > 0.75
    assert share["champions"] < 0.3
    first = texts["text"].astype(str).str.lower().str.contains(r"\bfirst\b|\bnew\b")
    assert first.groupby(texts["segment"]).mean()["new"] > 0.7


def test_text_noise_is_the_off_topic_share():
    per_segment = DISTINCT_REVIEWS // 6
    index = dict(zip(review_pool(per_segment), review_topics(per_segment), strict=True))
    for text_noise in (0.0, 0.4):
        d = SyntheticDataset(n_customers=2000, text_noise=text_noise, seed=2).load()
        topic = d.texts["text"].astype(str).map(index).to_numpy()
        own = d.labels.cat.codes.reindex(d.texts["customer_id"].astype(str)).to_numpy()
        assert abs((topic != own).mean() - text_noise) < 0.03


# -- knobs --------------------------------------------------------------------------------------
def test_demographic_strength_controls_gender_gap():
    assert _female_share_range(0.9) > 0.8
    assert _female_share_range(0.0) < 0.12


def test_demographic_strength_zero_is_independent_of_segment():
    d = SyntheticDataset(n_customers=3000, demographic_strength=0.0, seed=1).load()
    age = d.customers["age"].groupby(d.labels, observed=True).mean()
    assert age.max() - age.min() < 3
    region = pd.crosstab(d.labels, d.customers["region"], normalize="index")
    assert (region.max() - region.min()).max() < 0.1


def test_outcomes_follow_segments(data):
    o = data.outcomes.groupby(data.labels, observed=True).mean()
    assert o.loc["lost", "churned"] > 0.9
    assert o.loc["champions", "churned"] < 0.3
    assert o.loc["lost", "next_period_spend"] < 0.05 * o.loc["champions", "next_period_spend"]


def _ari_by_blocks(d) -> dict[str, float]:
    """KMeans ARI on RFM, demographics, TF-IDF text and their combination (equal block weights)."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    tx = d.transactions
    per = tx.assign(amount=tx["quantity"] * tx["unit_price"]).groupby("customer_id", observed=True)
    rfm = pd.DataFrame(
        {
            "r": (d.meta.analysis_date - per["timestamp"].max()).dt.days,
            "f": per["invoice_id"].nunique(),
            "m": per["amount"].sum(),
        }
    ).reindex(d.customer_ids)
    docs = (
        d.texts.assign(text=d.texts["text"].astype(str))
        .groupby("customer_id", observed=False)["text"]
        .agg(" ".join)
        .reindex(d.customer_ids)
    )
    tfidf = TfidfVectorizer(sublinear_tf=True).fit_transform(docs)
    c = d.customers
    blocks = {
        "rfm": np.log1p(rfm.to_numpy(float)),
        "demographics": np.column_stack(
            [c[["age", "income"]].to_numpy(float), pd.get_dummies(c["region"]).to_numpy(float)]
        ),
        "text": TruncatedSVD(16, random_state=0).fit_transform(tfidf),
    }
    scaled = {k: StandardScaler().fit_transform(v) / np.sqrt(v.shape[1]) for k, v in blocks.items()}
    scaled["combined"] = np.hstack(list(scaled.values()))
    y = d.labels.cat.codes.to_numpy()
    with threadpool_limits(1):  # small problem: threads only add overhead
        return {
            k: adjusted_rand_score(y, KMeans(6, n_init=4, random_state=0).fit_predict(x))
            for k, x in scaled.items()
        }


def test_default_noise_needs_every_block():
    ari = _ari_by_blocks(SyntheticDataset(n_customers=3000, seed=0).load())
    assert ari["combined"] > 0.8
    assert 0.4 < ari["rfm"] < 0.75
    for block in ("rfm", "demographics", "text"):
        assert ari[block] < ari["combined"] - 0.15


# -- scale --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_large_generation_is_compact_and_complete():
    n = 200_000
    d = SyntheticDataset(n_customers=n, seed=11).load()
    assert d.n_customers == n
    assert d.transactions["customer_id"].nunique() == n
    counts = d.labels.value_counts()
    assert counts["champions"] == n // 10
    assert len(d.texts["text"].cat.categories) == DISTINCT_REVIEWS
    megabytes = d.transactions.memory_usage(deep=True).sum() / 2**20
    assert megabytes / len(d.transactions) * 1e6 < 45  # under 45 bytes a line


# -- the dataset cache and the content it pins ------------------------------------------------
#: Content fingerprint and first pseudonyms (key b"pinned") of ``SyntheticDataset(600, seed=7)``
#: as generated and ordered before the cache and the faster hashing: neither may change them
#: (a deliberate change of the generator bumps ``SyntheticDataset.cache_version`` and these).
PINNED_FINGERPRINT = "49278e335d5f0375"
PINNED_FIRST_PSEUDONYMS = ["598ff09341205da8", "a7a870f2ba966633", "4c16c4f554ab50de"]


def test_content_and_pseudonymised_order_are_pinned():
    from segbench.data.pseudonyms import pseudonymise

    d = SyntheticDataset(n_customers=600, seed=7, cache=False).load()
    assert d.meta.fingerprint == PINNED_FINGERPRINT == d.content_fingerprint()
    ordered = pseudonymise(d, key=b"pinned")
    assert list(ordered.customers.index[:3]) == PINNED_FIRST_PSEUDONYMS


def test_a_second_load_reads_the_cache_with_identical_content(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("SEGBENCH_CACHE_DIR", str(tmp_path))
    generated = SyntheticDataset(n_customers=1200, seed=2).load()
    with caplog.at_level("INFO", logger="segbench.datasets.cache"):
        cached = SyntheticDataset(n_customers=1200.0, seed=2).load()  # 1200.0: the same entry
    assert generated.meta.notes["cache"] == "miss" and cached.meta.notes["cache"] == "hit"
    assert "read from the dataset cache" in caplog.text
    for x, y in zip(_frames(generated), _frames(cached), strict=True):
        assert x.equals(y) and x.index.equals(y.index)
        if isinstance(x, pd.DataFrame):
            assert x.dtypes.to_dict() == y.dtypes.to_dict()
        else:
            assert x.dtype == y.dtype
    assert cached.meta.fingerprint == generated.meta.fingerprint == cached.content_fingerprint()
    assert cached.meta.analysis_date == generated.meta.analysis_date
    assert cached.meta.notes["segment_sizes"] == generated.meta.notes["segment_sizes"]
    off = SyntheticDataset(n_customers=1200, seed=2, cache=False).load()
    assert off.meta.notes["cache"] == "off" and off.meta.fingerprint == generated.meta.fingerprint


@pytest.mark.parametrize(
    "change",
    [
        {"n_customers": 1201},
        {"demographic_strength": 0.6},
        {"noise": 0.4},
        {"text_noise": 0.1},
        {"seed": 3},
        {"segment_shares": {**DEFAULT_SHARES, "champions": 0.15, "lost": 0.15}},
        {"end_date": "2024-06-30"},
        {"span_days": 400},
        {"distinct_reviews": 600},
    ],
)
def test_every_defining_setting_has_its_own_cache_entry(change):
    base = SyntheticDataset(n_customers=1200, seed=2)
    assert SyntheticDataset(n_customers=1200, seed=2, cache=False).cache_params() == (
        base.cache_params()
    )
    assert SyntheticDataset(**{"n_customers": 1200, "seed": 2, **change}).cache_params() != (
        base.cache_params()
    )


def test_a_new_generator_version_or_a_damaged_entry_is_regenerated(tmp_path, monkeypatch):
    from segbench.datasets.cache import cache_key

    monkeypatch.setenv("SEGBENCH_CACHE_DIR", str(tmp_path))
    first = SyntheticDataset(n_customers=800, seed=1).load()
    entry = tmp_path / "datasets" / first.meta.notes["cache_entry"]
    bumped = type("Bumped", (SyntheticDataset,), {"cache_version": 99})(n_customers=800, seed=1)
    key = cache_key("x", [], SyntheticDataset(n_customers=800, seed=1).cache_params())
    assert cache_key("x", [], bumped.cache_params()) != key
    data = (entry / "transactions.arrow").read_bytes()
    (entry / "transactions.arrow").write_bytes(data[:-64] + bytes(64))  # damaged on disk
    again = SyntheticDataset(n_customers=800, seed=1).load()
    assert again.meta.notes["cache"] == "miss"
    assert again.meta.fingerprint == first.meta.fingerprint
    assert SyntheticDataset(n_customers=800, seed=1).load().meta.notes["cache"] == "hit"


def test_a_cached_dataset_is_pseudonymised_in_the_same_order(tmp_path, monkeypatch):
    from segbench.data import pseudonyms

    monkeypatch.setenv("SEGBENCH_CACHE_DIR", str(tmp_path))
    generated = SyntheticDataset(n_customers=900, seed=4).load()
    cached = SyntheticDataset(n_customers=900, seed=4).load()
    assert cached.meta.notes["cache"] == "hit"
    assert (tmp_path / "datasets" / cached.meta.notes["cache_entry"] / "content.arrow").is_file()
    key = b"same key"
    a, b = (pseudonyms.pseudonymise(d, key=key) for d in (generated, cached))
    assert a.customers.index.equals(b.customers.index)
    uncached = SyntheticDataset(n_customers=900, seed=4, cache=False).load()
    assert pseudonyms.pseudonymise(uncached, key=key).customers.index.equals(a.customers.index)
    # the kept hashes belong to that transactions frame only: a changed copy is hashed afresh
    changed = cached.transactions.copy()
    changed.loc[0, "quantity"] += 1
    ids = cached.customers.index
    before = pseudonyms.member_hashes(cached.transactions, ids)
    after = pseudonyms.member_hashes(changed, ids)
    assert (before != after).sum() == 1
