"""The real dataset adapters: cleaning figures per step, invariants, layouts, cache, channels.

Tests marked ``realdata`` read the shared datasets from ``SEGBENCH_DATA_DIR`` (skipped with a
message naming it when absent); the figures asserted are the ones documented in each
adapter's docstring. Online Retail is parsed once per module (cold, into a fresh cache) and
loaded a second time from the cache with the raw reader disabled.

Run: ``SEGBENCH_DATA_DIR=/path/to/shared/data pytest tests/test_datasets_real.py``
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from datapaths import MALL, MARKETING, RETAIL, REVIEWS, data_file
from segbench.configs import CONFIG_DIR
from segbench.data.model import CustomerData
from segbench.datasets import load_dataset
from segbench.datasets import online_retail as retail_module
from segbench.datasets.clothing_reviews import ClothingReviewsDataset
from segbench.datasets.mall_customers import MallCustomersDataset
from segbench.datasets.marketing_campaign import MarketingCampaignDataset
from segbench.datasets.online_retail import OnlineRetailDataset, net_cancellations
from segbench.errors import ConfigError, DataError
from segbench.features.channels import ChannelsBlock
from segbench.features.compose import check_feedable

ROOT = Path(__file__).resolve().parents[1]


def steps(data: CustomerData) -> list[tuple[str, int, int]]:
    return [(s.step, s.rows_before, s.rows_after) for s in data.meta.cleaning]


def check_invariants(data: CustomerData) -> None:
    data.validate()
    assert data.customers.index.is_unique
    assert data.customers.index.name == "customer_id"
    assert data.meta.fingerprint == data.content_fingerprint()
    assert data.meta.source and data.meta.licence
    assert data.meta.cleaning, "every adapter reports its cleaning"
    if data.sensitive is not None:
        assert data.sensitive.index.equals(data.customers.index)
        assert not data.sensitive.isna().any().any()
    if data.outcomes is not None:
        assert data.outcomes.index.equals(data.customers.index)
    if data.transactions is not None:
        assert set(data.transactions["customer_id"]) <= set(data.customers.index)
    if data.texts is not None:
        assert set(data.texts["customer_id"]) <= set(data.customers.index)


# ------------------------------------------------------------------------------------------
# Online Retail: one cold parse into a fresh cache, one warm load with the reader disabled


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> dict:
    path = data_file(RETAIL)
    cache = tmp_path_factory.mktemp("retail-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEGBENCH_CACHE_DIR", str(cache))
        started = time.perf_counter()
        cold = OnlineRetailDataset(path=path).load()
        cold_seconds = time.perf_counter() - started

        def no_parsing(*args, **kwargs):
            raise AssertionError("the raw file was read although the cache should hit")

        mp.setattr(retail_module, "read_table", no_parsing)
        mp.setattr(retail_module.OnlineRetailDataset, "build", no_parsing)
        started = time.perf_counter()
        warm = OnlineRetailDataset(path=path).load()
        warm_seconds = time.perf_counter() - started
    print(f"\nonline_retail load: cold {cold_seconds:.2f} s, warm {warm_seconds:.2f} s")
    return {
        "cold": cold,
        "warm": warm,
        "cold_s": cold_seconds,
        "warm_s": warm_seconds,
        "cache": cache,
    }


@pytest.mark.realdata
def test_online_retail_raw_figures_match_the_readme() -> None:
    adapter = OnlineRetailDataset(path=data_file(RETAIL))
    raw, layout = adapter.read_raw(adapter.sources()[0])
    assert layout == "Online Retail"
    assert len(raw) == 541_909
    assert raw["CustomerID"].isna().sum() == 135_080
    assert raw.duplicated().sum() == 5_268
    assert raw["InvoiceNo"].str.startswith("C").sum() == 9_288
    assert raw["CustomerID"].nunique() == 4_372
    assert raw["Description"].isna().sum() == 1_454


@pytest.mark.realdata
def test_online_retail_cleaning_figures(retail: dict) -> None:
    data = retail["cold"]
    assert steps(data) == [
        ("drop_missing_customer", 541_909, 406_829),
        ("drop_exact_duplicates", 406_829, 401_604),
        ("drop_non_product_codes", 401_604, 399_689),
        ("net_cancellations", 399_689, 389_465),
        ("drop_unmatched_cancellations", 389_465, 388_413),
        ("drop_non_positive", 388_413, 388_382),
    ]
    notes = data.meta.notes
    assert notes["customers_after_step"] == {
        "drop_missing_customer": 4_372,
        "drop_exact_duplicates": 4_372,
        "drop_non_product_codes": 4_363,
        "net_cancellations": 4_354,
        "drop_unmatched_cancellations": 4_325,
        "drop_non_positive": 4_324,
    }
    assert notes["cancellations"] == {
        "rows_before": 399_689,
        "cancellation_lines": 8_506,
        "matched": 7_454,
        "unmatched": 1_052,
        "unmatched_no_purchase": 692,
        "unmatched_only_later_purchases": 336,
        "unmatched_already_netted": 24,
        "units_netted": 248_964,
        "units_not_netted": 557,
        "purchase_lines_fully_cancelled": 2_770,
        "purchase_lines_partly_cancelled": 4_562,
    }
    assert notes["non_product_codes_dropped"] == {
        "BANK CHARGES": 12,
        "C2": 134,
        "CRUK": 16,
        "D": 77,
        "DOT": 16,
        "M": 460,
        "PADS": 4,
        "POST": 1_196,
    }
    assert data.n_customers == 4_324
    assert len(data.transactions) == 388_382
    assert data.customers["country_group"].value_counts().to_dict() == {"UK": 3_909, "non-UK": 415}
    assert notes["customers_with_several_countries"] == 8


@pytest.mark.realdata
def test_online_retail_invariants(retail: dict) -> None:
    data = retail["cold"]
    check_invariants(data)
    tx = data.transactions
    assert (tx["quantity"] > 0).all() and (tx["unit_price"] > 0).all()
    assert not tx["invoice_id"].str.startswith("C").any()
    assert tx["timestamp"].min() >= pd.Timestamp("2010-12-01")
    assert tx["timestamp"].max() <= pd.Timestamp("2011-12-09 12:50")
    assert data.meta.analysis_date == pd.Timestamp("2011-12-10")
    assert tx["channel"].isna().all()
    codes = tx["product_id"].str.upper()
    assert not codes.isin(["POST", "DOT", "M", "C2", "D", "S", "B", "BANK CHARGES"]).any()
    assert not codes.str.startswith("GIFT_0001_").any()
    assert set(tx["customer_id"]) == set(data.customers.index)
    # one text per customer, at most 60 descriptions, most bought first
    texts = data.texts
    assert texts["customer_id"].is_unique and len(texts) == data.n_customers
    assert texts["text"].str.split("; ").str.len().max() <= 60
    assert (texts["text"].str.len() > 0).all()
    assert data.demographic_columns == ("country_group",)
    assert list(data.sensitive.columns) == ["country", "country_group"]
    assert not (tx["description"] != tx["description"].str.strip()).any()


@pytest.mark.realdata
def test_online_retail_cache_hits_without_parsing(retail: dict) -> None:
    cold, warm = retail["cold"], retail["warm"]
    assert cold.meta.notes["cache"] == "miss"
    assert warm.meta.notes["cache"] == "hit"
    assert warm.meta.fingerprint == cold.meta.fingerprint
    assert steps(warm) == steps(cold)
    assert warm.meta.analysis_date == cold.meta.analysis_date
    assert warm.demographic_columns == cold.demographic_columns
    for part in ("customers", "transactions", "texts", "sensitive"):
        pd.testing.assert_frame_equal(getattr(warm, part), getattr(cold, part))
    assert retail["warm_s"] < retail["cold_s"] / 2


@pytest.mark.realdata
def test_online_retail_through_load_dataset_and_config(
    retail: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEGBENCH_DATA_DIR", str(data_file(RETAIL).parent))
    monkeypatch.setenv("SEGBENCH_CACHE_DIR", str(retail["cache"]))
    cfg = OmegaConf.load(CONFIG_DIR / "dataset" / "online_retail.yaml")
    assert cfg.name == "online_retail" and "CC BY 4.0" in cfg.description
    data = load_dataset(cfg)
    # the config spells out the adapter's defaults, so it shares the fixture's cache entry
    assert data.meta.notes["cache"] == "hit"
    assert data.meta.fingerprint == retail["cold"].meta.fingerprint
    assert data.n_customers == 4_324
    raw_ids = set(retail["cold"].customers.index)
    assert not raw_ids & set(data.customers.index), "ids are pseudonymised"
    assert data.customers.index.str.fullmatch(r"[0-9a-f]{16}").all()
    # channels: the data has none, and says so before any work
    block = ChannelsBlock()
    assert block.missing_part(data) is not None
    with pytest.raises(DataError, match="channel"):
        check_feedable({"channels": block}, data)


# ------------------------------------------------------------------------------------------
# Online Retail: the netting rule and the other layouts, on small hand-made data


def _lines(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "CustomerID"]
    )
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    return frame


def test_net_cancellations_rule() -> None:
    lines = _lines(
        [
            ("1", "X", 10, "2011-01-01", "A"),  # 0: netted 2 (by row 2), then 8 (by row 6)
            ("2", "X", 5, "2011-01-02", "A"),  # 1: netted to zero by row 2
            ("C3", "X", -7, "2011-01-03", "A"),  # 2: matched, 7 units
            ("C4", "Y", -3, "2011-01-03", "A"),  # 3: unmatched: no Y purchase
            ("C5", "X", -2, "2011-01-01", "B"),  # 4: unmatched: B buys X only later
            ("6", "X", 4, "2011-01-02", "B"),  # 5: untouched
            ("C7", "X", -20, "2011-01-04", "A"),  # 6: matched, 8 units netted, 12 left over
        ]
    )
    out, stats = net_cancellations(lines)
    assert stats["matched"] == 2 and stats["unmatched"] == 2
    assert stats["unmatched_no_purchase"] == 1 and stats["unmatched_only_later_purchases"] == 1
    assert stats["units_netted"] == 15 and stats["units_not_netted"] == 12
    assert stats["purchase_lines_fully_cancelled"] == 2
    assert out["InvoiceNo"].tolist() == ["C4", "C5", "6"]
    assert out["_unmatched"].tolist() == [True, True, False]
    assert out.loc[out["InvoiceNo"] == "6", "Quantity"].item() == 4


def test_net_cancellations_partial() -> None:
    lines = _lines([("1", "X", 10, "2011-01-01", "A"), ("C2", "X", -3, "2011-01-02", "A")])
    out, stats = net_cancellations(lines)
    assert out["Quantity"].tolist() == [7]
    assert stats["purchase_lines_partly_cancelled"] == 1 and stats["matched"] == 1


RAW_LINES = [
    # InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country
    ("536365", "85123A", "WHITE HANGING HEART ", 6, "2010-12-01 08:26:00", 2.55, "17850.0", "United Kingdom"),
    ("536365", "85123A", "WHITE HANGING HEART ", 6, "2010-12-01 08:26:00", 2.55, "17850.0", "United Kingdom"),
    ("536365", "POST", "POSTAGE", 1, "2010-12-01 08:26:00", 18.0, "17850.0", "United Kingdom"),
    ("536366", "22633", "HAND WARMER UNION JACK", 12, "2010-12-01 08:28:00", 1.85, "", "United Kingdom"),
    ("536367", "84879", "ASSORTED COLOUR BIRD ORNAMENT", 32, "2010-12-01 08:34:00", 1.69, "13047.0", "France"),
    ("536368", "22960", "JAM MAKING SET WITH JARS", 6, "2010-12-01 08:34:00", 0.0, "13047.0", "France"),
    ("C536379", "84879", "ASSORTED COLOUR BIRD ORNAMENT", -8, "2010-12-02 09:41:00", 1.69, "13047.0", "France"),
    ("C536380", "22632", "HAND WARMER RED POLKA DOT", -1, "2010-12-02 09:41:00", 1.85, "12583.0", "France"),
    ("536381", "22632", "HAND WARMER RED POLKA DOT", 2, "2010-12-03 10:00:00", 1.85, "12583.0", "France"),
    ("536382", "gift_0001_20", "Dotcomgiftshop Gift Voucher £20.00", 1, "2010-12-03 10:00:00", 16.67, "12583.0", "France"),
]  # fmt: skip
CLASSIC = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]
RETAIL_II = {"InvoiceNo": "Invoice", "UnitPrice": "Price", "CustomerID": "Customer ID"}


def _uci_xlsx_types(frame: pd.DataFrame) -> pd.DataFrame:
    """As Excel holds them: numeric invoice numbers and ids, real date-times."""
    out = frame.copy()
    out["InvoiceNo"] = [int(v) if v.isdigit() else v for v in out["InvoiceNo"]]
    out["StockCode"] = [int(v) if v.isdigit() else v for v in out["StockCode"]]
    out["CustomerID"] = pd.to_numeric(out["CustomerID"].replace("", np.nan))
    out["InvoiceDate"] = pd.to_datetime(out["InvoiceDate"])
    return out.astype({"InvoiceNo": object, "StockCode": object})


def test_online_retail_layouts_agree(tmp_path: Path) -> None:
    raw = pd.DataFrame(RAW_LINES, columns=CLASSIC)
    raw.to_csv(tmp_path / "retail.csv", index=False)
    with pd.ExcelWriter(tmp_path / "Online Retail.xlsx") as writer:
        _uci_xlsx_types(raw).to_excel(writer, sheet_name="Online Retail", index=False)
    ii = raw.rename(columns=RETAIL_II)
    ii.to_csv(tmp_path / "online_retail_II.csv", index=False)
    with pd.ExcelWriter(tmp_path / "online_retail_II.xlsx") as writer:
        excel = _uci_xlsx_types(raw).rename(columns=RETAIL_II)
        excel.iloc[:5].to_excel(writer, sheet_name="Year 2009-2010", index=False)
        excel.iloc[5:].to_excel(writer, sheet_name="Year 2010-2011", index=False)

    def load(name: str, **kwargs) -> CustomerData:
        return OnlineRetailDataset(path=tmp_path / name, cache=False, **kwargs).load()

    reference = load("retail.csv")
    assert steps(reference) == [
        ("drop_missing_customer", 10, 9),
        ("drop_exact_duplicates", 9, 8),
        ("drop_non_product_codes", 8, 6),
        ("net_cancellations", 6, 5),
        ("drop_unmatched_cancellations", 5, 4),
        ("drop_non_positive", 4, 3),
    ]
    check_invariants(reference)
    tx = reference.transactions
    assert tx["quantity"].tolist() == [6, 24, 2]
    assert tx["description"].tolist()[0] == "WHITE HANGING HEART"
    assert reference.customers.index.tolist() == ["12583", "13047", "17850"]
    assert reference.customers["country_group"].tolist() == ["non-UK", "non-UK", "UK"]
    assert reference.meta.analysis_date == pd.Timestamp("2010-12-04")
    variants = {
        "xlsx": load("Online Retail.xlsx"),
        "II csv": load("online_retail_II.csv"),
        "II xlsx, all sheets": load("online_retail_II.xlsx", sheet="all"),
    }
    for label, data in variants.items():
        assert steps(data) == steps(reference), label
        pd.testing.assert_frame_equal(data.transactions, reference.transactions, obj=label)
        pd.testing.assert_frame_equal(data.customers, reference.customers, obj=label)
        assert data.meta.fingerprint == reference.meta.fingerprint, label
    assert variants["II csv"].meta.notes["layout"] == "Online Retail II"
    one_sheet = load("online_retail_II.xlsx", sheet="Year 2010-2011")
    assert len(one_sheet.meta.cleaning) == 6 and one_sheet.meta.notes["raw_rows"] == 5
    with pytest.raises(DataError, match=r"no sheet named 'Year 2011'.*Year 2009-2010"):
        load("online_retail_II.xlsx", sheet="Year 2011")


def test_online_retail_wrong_columns_and_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pd.DataFrame({"Invoice": ["1"], "StockCode": ["X"]}).to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(DataError, match=r"missing required columns 'Description'.*'Invoice'"):
        OnlineRetailDataset(path=tmp_path / "r.csv", cache=False).load()
    pd.DataFrame({"a": [1], "b": [2]}).to_csv(tmp_path / "other.csv", index=False)
    with pytest.raises(DataError, match=r"Online Retail columns.*the file has the columns"):
        OnlineRetailDataset(path=tmp_path / "other.csv", cache=False).load()
    monkeypatch.setenv("SEGBENCH_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"online_retail\.csv\.gz.*SEGBENCH_DATA_DIR="):
        OnlineRetailDataset().load()


# ------------------------------------------------------------------------------------------
# marketing_campaign


@pytest.fixture(scope="module")
def marketing() -> CustomerData:
    return MarketingCampaignDataset(path=data_file(MARKETING), cache=False).load()


@pytest.mark.realdata
def test_marketing_campaign_cleaning_figures(marketing: CustomerData) -> None:
    assert steps(marketing) == [
        ("drop_constant_columns", 2_240, 2_240),
        ("implausible_birth_year", 2_240, 2_237),
        ("income_outlier", 2_237, 2_236),
        ("impute_income", 2_236, 2_236),
        ("marital_status", 2_236, 2_236),
        ("education", 2_236, 2_236),
    ]
    reasons = {s.step: s.reason for s in marketing.meta.cleaning}
    assert "Z_CostContact, Z_Revenue" in reasons["drop_constant_columns"]
    assert "[1893, 1899, 1900]" in reasons["implausible_birth_year"]
    assert "666666" in reasons["income_outlier"]
    assert marketing.meta.notes["income_imputed"] == 24
    assert marketing.meta.notes["income_median"] == 51_371.0
    assert "(3)" in reasons["marital_status"] and "(4)" in reasons["marital_status"]
    assert "(201)" in reasons["education"]


@pytest.mark.realdata
def test_marketing_campaign_invariants(marketing: CustomerData) -> None:
    check_invariants(marketing)
    c = marketing.customers
    assert marketing.n_customers == 2_236 and marketing.transactions is None
    assert {"recency", "frequency", "monetary"} <= set(c.columns)
    assert {
        "n_purchases_web",
        "n_purchases_catalog",
        "n_purchases_store",
        "n_purchases_deals",
    } <= set(c.columns)
    assert "Z_CostContact" not in c.columns and "Z_Revenue" not in c.columns
    spend = c.filter(like="spend_")
    assert spend.shape[1] == 6 and (spend >= 0).all().all()
    assert (c["monetary"] == spend.sum(axis=1)).all()
    web_cat_store = c[["n_purchases_web", "n_purchases_catalog", "n_purchases_store"]]
    assert (c["frequency"] == web_cat_store.sum(axis=1)).all()
    assert c["age"].between(18, 74).all()
    assert c["income"].notna().all() and c["income"].max() == 162_397
    assert set(c["marital_status"]) == {
        "Married",
        "Together",
        "Single",
        "Divorced",
        "Widow",
        "Other",
    }
    assert set(c["education"]) == {"Graduation", "Master", "PhD", "Basic"}
    assert c["tenure_days"].between(1, 700).all()
    assert marketing.meta.analysis_date == pd.Timestamp("2014-06-30")
    assert list(marketing.outcomes.columns) == [f"accepted_cmp{i}" for i in range(1, 6)] + [
        "response"
    ]
    assert marketing.outcomes["response"].sum() == 334
    assert set(marketing.sensitive.columns) == {"age_band", "marital_status"}
    assert marketing.demographic_columns == (
        "age",
        "education",
        "marital_status",
        "income",
        "children",
    )


@pytest.mark.realdata
def test_marketing_campaign_options() -> None:
    data = MarketingCampaignDataset(
        path=data_file(MARKETING),
        birth_year_handling="impute",
        income_outlier_handling="cap",
        odd_marital_handling="drop",
        merge_2n_cycle=False,
        cache=False,
    ).load()
    assert steps(data) == [
        ("drop_constant_columns", 2_240, 2_240),
        ("implausible_birth_year", 2_240, 2_240),
        ("income_outlier", 2_240, 2_240),
        ("impute_income", 2_240, 2_240),
        ("marital_status", 2_240, 2_236),
        ("education", 2_236, 2_236),
    ]
    assert data.customers["income"].max() == 200_000
    assert "2n Cycle" in set(data.customers["education"])
    with pytest.raises(ConfigError, match="birth_year_handling='guess'"):
        MarketingCampaignDataset(
            path=data_file(MARKETING), birth_year_handling="guess", cache=False
        ).load()


@pytest.mark.realdata
def test_marketing_campaign_channels_block(marketing: CustomerData) -> None:
    block = ChannelsBlock()
    assert block.missing_part(marketing) is None
    shares = block.fit_transform(marketing)
    assert list(shares.columns) == ["share_catalog", "share_store", "share_web"]
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert block.source_ == "customers" and block.n_without_purchases_ == 6
    assert shares.index.equals(marketing.customer_ids)


@pytest.mark.realdata
def test_marketing_campaign_comma_separator_is_explained() -> None:
    with pytest.raises(DataError, match=r"found 1 column 'ID\\tYear_Birth.*separator '\\t'"):
        MarketingCampaignDataset(path=data_file(MARKETING), sep=",", cache=False).load()


# ------------------------------------------------------------------------------------------
# mall_customers


@pytest.mark.realdata
def test_mall_customers() -> None:
    data = MallCustomersDataset(path=data_file(MALL), cache=False).load()
    check_invariants(data)
    assert steps(data) == [("validate_rows", 200, 200)]
    assert data.customers.index[:3].tolist() == ["0001", "0002", "0003"]
    assert data.customers["gender"].value_counts().to_dict() == {"Female": 112, "Male": 88}
    assert list(data.sensitive.columns) == ["gender", "age_band"]
    assert data.parts() == ["customers", "sensitive"]
    assert data.meta.notes["teaching_data"] is True
    assert data.meta.analysis_date is None
    cfg = OmegaConf.load(CONFIG_DIR / "dataset" / "mall_customers.yaml")
    assert cfg.teaching_data is True and "teaching" in cfg.description.lower()


# ------------------------------------------------------------------------------------------
# clothing_reviews


@pytest.fixture(scope="module")
def reviews() -> CustomerData:
    return ClothingReviewsDataset(path=data_file(REVIEWS), cache=False).load()


@pytest.mark.realdata
def test_clothing_reviews_cleaning_figures(reviews: CustomerData) -> None:
    assert steps(reviews) == [
        ("missing_text", 23_486, 22_641),
        ("fix_mojibake", 22_641, 22_641),
        ("fix_division_typo", 22_641, 22_641),
    ]
    assert reviews.meta.notes["no_review_text"] == 845
    assert reviews.meta.notes["no_text_at_all"] == 844
    assert reviews.meta.notes["mojibake_repaired"] == 30
    assert "(1426 rows)" in reviews.meta.cleaning[2].reason


@pytest.mark.realdata
def test_clothing_reviews_invariants(reviews: CustomerData) -> None:
    check_invariants(reviews)
    assert reviews.n_customers == 22_641
    assert reviews.customers["age"].between(18, 99).all()
    assert reviews.texts["customer_id"].tolist() == reviews.customers.index.tolist()
    assert (reviews.texts["text"].str.len() > 0).all()
    assert not reviews.texts["text"].str.contains("[\r\n]").any()
    assert not reviews.texts["text"].str.contains("ã[\u0080-\u00bf]").any()
    assert reviews.texts["text"].str.contains("appliqué").any()
    assert "Initmates" not in set(reviews.customers["division"])
    assert reviews.customers.index[:3].tolist() == ["0", "1", "2"]
    assert reviews.texts["text"].iloc[2].startswith("Some major design flaws. I had such high")
    assert list(reviews.sensitive.columns) == ["age_band"]
    assert reviews.demographic_columns == ("age",)


@pytest.mark.realdata
def test_clothing_reviews_keep_missing_text() -> None:
    data = ClothingReviewsDataset(
        path=data_file(REVIEWS), missing_text="keep", fix_mojibake=False, cache=False
    ).load()
    assert steps(data)[0] == ("missing_text", 23_486, 23_486)
    assert data.n_customers == 23_486
    assert (data.texts["text"] == "").sum() == 844
    assert data.texts["text"].str.contains("ã©").any()


# ------------------------------------------------------------------------------------------
# all four through their configs and load_dataset; a second load hits the cache


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("config", "customers"),
    [("marketing_campaign", 2_236), ("mall_customers", 200), ("clothing_reviews", 22_641)],
)
def test_configs_load_and_cache(
    config: str, customers: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEGBENCH_DATA_DIR", str(data_file(MALL).parent))
    monkeypatch.setenv("SEGBENCH_CACHE_DIR", str(tmp_path))
    cfg = OmegaConf.load(CONFIG_DIR / "dataset" / f"{config}.yaml")
    assert cfg.name == config and cfg.description and cfg.cache is True
    first = load_dataset(cfg)
    second = load_dataset(cfg)
    assert first.n_customers == second.n_customers == customers
    assert first.meta.notes["cache"] == "miss" and second.meta.notes["cache"] == "hit"
    assert first.meta.fingerprint == second.meta.fingerprint
    entries = list((tmp_path / "datasets").iterdir())
    assert len(entries) == 1 and entries[0].name.startswith(f"{config}-")
    assert {p.name for p in entries[0].iterdir()} >= {"meta.json", "customers.arrow"}
