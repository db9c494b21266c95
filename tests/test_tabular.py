"""The ``tabular`` adapter (user files with a column mapping), the dataset cache, and the
``channels`` block on user data. Small generated files; one check against the shared data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from datapaths import MALL, data_file
from segbench.configs import CONFIG_DIR
from segbench.datasets import load_dataset
from segbench.datasets import tabular as tabular_module
from segbench.datasets.cache import entry_dir, source_fingerprint
from segbench.datasets.mall_customers import MallCustomersDataset
from segbench.datasets.tabular import TabularDataset
from segbench.errors import ConfigError, DataError
from segbench.features.channels import ChannelsBlock
from segbench.features.rfm import RFMBlock

ROOT = Path(__file__).resolve().parents[1]

CUSTOMERS_CSV = """\
cust_no,age,gender,income,days_since,segment,churned,note
007,34,f,41000,12,gold,0,loves the app
008,51,m,52000,80,silver,1,
009,29,f,,5,gold,0,fast delivery
,40,m,30000,9,bronze,0,orphan row
"""

ORDERS_CSV = """\
client;order;date;sku;item;qty;price;via;age;gender;review
A1;o1;2024-01-03 10:00;p1;mug;2;4.5;web;30;f;nice mug
A1;o1;2024-01-03 10:00;p2;plate;1;10;web;30;f;
A1;o2;2024-02-10 09:30;p1;mug;1;4.5;store;30;f;again a mug
B2;o3;2024-01-20 12:00;p3;bowl;3;6;store;45;m;
B2;o4;not a date;p3;bowl;1;6;store;45;m;
C3;o5;2024-03-01 08:00;p2;plate;-1;10;app;61;f;returned
C3;o6;2024-03-02 08:00;p2;plate;2;;app;61;f;
"""

ORDER_MAPPING = {
    "invoice_id": "order",
    "timestamp": "date",
    "product_id": "sku",
    "description": "item",
    "quantity": "qty",
    "unit_price": "price",
    "channel": "via",
}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def steps(data) -> list[tuple[str, int, int]]:
    return [(s.step, s.rows_before, s.rows_after) for s in data.meta.cleaning]


# --- customer-level files -----------------------------------------------------------------


def test_customer_level_file(tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", CUSTOMERS_CSV)
    data = TabularDataset(
        path=path,
        customer_id="cust_no",
        demographic_columns=["age", "income"],
        behaviour_columns={"recency": "days_since"},
        sensitive_columns=["gender"],
        outcome_columns={"churn": "churned"},
        text_column="note",
        label_column="segment",
        cache=False,
    ).load()
    data.validate()
    assert steps(data) == [("drop_missing_customer", 4, 3)]
    assert data.customers.index.tolist() == ["007", "008", "009"]
    assert list(data.customers.columns) == ["age", "income", "recency"]
    assert data.demographic_columns == ("age", "income")
    assert data.sensitive["gender"].tolist() == ["f", "m", "f"]
    assert data.outcomes["churn"].tolist() == [0, 1, 0]
    assert data.labels.tolist() == ["gold", "silver", "gold"]
    assert data.texts["customer_id"].tolist() == ["007", "009"]
    assert data.transactions is None and data.meta.analysis_date is None
    assert data.meta.name == "tabular" and "customers.csv" in data.meta.source
    assert np.isnan(data.customers.loc["009", "income"])


def test_duplicated_ids_need_a_transactions_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "dups.csv", "id,x\n1,2\n1,3\n")
    with pytest.raises(DataError, match=r"duplicated values \(e.g. \['1'\]\).*map `transactions`"):
        TabularDataset(path=path, customer_id="id", cache=False).load()


# --- wrong mappings ------------------------------------------------------------------------


def test_wrong_mapping_names_the_column_and_lists_the_file_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", CUSTOMERS_CSV)
    with pytest.raises(DataError) as info:
        TabularDataset(
            path=path, customer_id="customer", demographic_columns=["age", "salary"], cache=False
        ).load()
    message = str(info.value)
    assert "missing required columns 'customer', 'salary'" in message
    assert "named by the dataset config's column mapping" in message
    assert "['cust_no', 'age', 'gender', 'income', 'days_since', 'segment', 'churned', 'note']" in (
        message
    )
    assert str(path) in message and "\n" not in message
    orders = write(tmp_path / "orders.csv", ORDERS_CSV)
    with pytest.raises(DataError, match=r"missing required column 'when'.*'client', 'order'"):
        TabularDataset(
            path=orders,
            customer_id="client",
            transactions={**ORDER_MAPPING, "timestamp": "when"},
            cache=False,
        ).load()


def test_invalid_mapping_config(tmp_path: Path) -> None:
    path = write(tmp_path / "orders.csv", ORDERS_CSV)
    with pytest.raises(ConfigError, match=r"unknown canonical columns \['basket'\]"):
        TabularDataset(path=path, customer_id="client", transactions={"basket": "order"}).load()
    with pytest.raises(ConfigError, match="needs 'timestamp'"):
        TabularDataset(path=path, customer_id="client", transactions={"unit_price": "price"}).load()
    with pytest.raises(ConfigError, match="needs 'unit_price' or 'amount'"):
        TabularDataset(path=path, customer_id="client", transactions={"timestamp": "date"}).load()
    with pytest.raises(ConfigError, match=r"needs dataset\.path"):
        TabularDataset().load()
    with pytest.raises(DataError, match="does not exist"):
        TabularDataset(path=tmp_path / "nope.csv").load()


# --- transaction-level files ---------------------------------------------------------------


@pytest.fixture
def orders(tmp_path: Path):
    path = write(tmp_path / "orders.csv", ORDERS_CSV)
    return TabularDataset(
        path=path,
        customer_id="client",
        transactions=ORDER_MAPPING,
        demographic_columns=["age"],
        sensitive_columns=["gender"],
        text_column="review",
        cache=False,
    ).load()


def test_transaction_level_file(orders) -> None:
    data = orders.validate()
    assert steps(data) == [
        ("drop_missing_customer", 7, 7),
        ("drop_bad_timestamp", 7, 6),
        ("drop_missing_amount", 6, 5),
    ]
    assert data.meta.notes["customers_after_step"]["drop_missing_amount"] == 3
    tx = data.transactions
    assert list(tx.columns) == [
        "customer_id",
        "invoice_id",
        "timestamp",
        "product_id",
        "description",
        "quantity",
        "unit_price",
        "channel",
    ]
    assert tx["quantity"].dtype == "int64" and tx["timestamp"].is_monotonic_increasing
    assert tx["invoice_id"].tolist() == ["o1", "o1", "o3", "o2", "o5"]
    assert data.customers.index.tolist() == ["A1", "B2", "C3"]
    assert data.customers["age"].tolist() == [30, 45, 61]
    assert data.sensitive["gender"].tolist() == ["f", "m", "f"]
    assert data.texts["customer_id"].tolist() == ["A1", "A1", "C3"]
    assert data.meta.analysis_date == pd.Timestamp("2024-03-02")
    rfm = RFMBlock(log_transform=False).fit_transform(data)
    assert rfm.loc["A1", "frequency"] == 2 and rfm.loc["A1", "monetary"] == 23.5


def test_channels_block_from_transactions(orders) -> None:
    block = ChannelsBlock()
    assert block.missing_part(orders) is None
    shares = block.fit_transform(orders)
    assert block.source_ == "transactions"
    assert list(shares.columns) == ["share_app", "share_store", "share_web"]
    assert shares.loc["A1"].tolist() == [0.0, 0.5, 0.5]  # invoices o1 (web), o2 (store)
    spend = ChannelsBlock(unit="spend").fit_transform(orders)
    assert spend.loc["A1", "share_web"] == pytest.approx(19 / 23.5)
    # C3's only line is a return (negative spend): no purchases, gets the mean shares
    assert spend.loc["C3"].tolist() == pytest.approx(spend.loc[["A1", "B2"]].mean().tolist())
    assert np.allclose(spend.sum(axis=1), 1.0)


def test_channels_block_reports_missing_channels(tmp_path: Path) -> None:
    path = write(tmp_path / "orders.csv", ORDERS_CSV.replace(";web;", ";unknown;"))
    mapping = {k: v for k, v in ORDER_MAPPING.items() if k != "channel"}
    data = TabularDataset(path=path, customer_id="client", transactions=mapping, cache=False).load()
    message = ChannelsBlock().missing_part(data)
    assert message is not None and "n_purchases_<channel>" in message
    with pytest.raises(DataError, match="cannot feed the 'channels' block"):
        ChannelsBlock().fit(data)
    # only unknown values in the channel column: still nothing to use
    only_unknown = write(tmp_path / "u.csv", "c,t,p,ch\n1,2024-01-01,3,unknown\n2,2024-01-02,4,\n")
    data = TabularDataset(
        path=only_unknown,
        customer_id="c",
        transactions={"timestamp": "t", "unit_price": "p", "channel": "ch"},
        cache=False,
    ).load()
    assert ChannelsBlock().missing_part(data) is not None


def test_amount_mapping_and_optional_steps(tmp_path: Path) -> None:
    text = "id,when,total,n\n1,05/02/2024,10,2\n1,05/02/2024,10,2\n2,06/02/2024,-3,1\n"
    path = write(tmp_path / "t.csv", text)
    data = TabularDataset(
        path=path,
        customer_id="id",
        transactions={"timestamp": "when", "amount": "total", "quantity": "n"},
        timestamp_format="%d/%m/%Y",
        drop_duplicates=True,
        drop_non_positive=True,
        cache=False,
    ).load()
    assert [s.step for s in data.meta.cleaning] == [
        "drop_missing_customer",
        "drop_exact_duplicates",
        "drop_bad_timestamp",
        "drop_missing_amount",
        "drop_non_positive",
    ]
    assert steps(data)[1] == ("drop_exact_duplicates", 3, 2)
    assert steps(data)[-1] == ("drop_non_positive", 2, 1)
    tx = data.transactions
    assert tx["unit_price"].tolist() == [5.0] and tx["timestamp"].tolist() == [
        pd.Timestamp("2024-02-05")
    ]
    assert tx["invoice_id"].tolist() == ["1@2024-02-05T00:00:00"]
    with pytest.raises(DataError, match=r"holds no readable dates.*timestamp_format"):
        TabularDataset(
            path=path,
            customer_id="id",
            transactions={"timestamp": "when", "amount": "total"},
            timestamp_format="%Y-%m-%d",
            cache=False,
        ).load()


def test_varying_customer_columns_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "o.csv", "c,t,p,city\n1,2024-01-01,3,Oslo\n1,2024-01-02,4,Bergen\n")
    data = TabularDataset(
        path=path,
        customer_id="c",
        transactions={"timestamp": "t", "unit_price": "p"},
        demographic_columns=["city"],
        cache=False,
    ).load()
    assert data.customers["city"].tolist() == ["Oslo"]
    assert data.meta.notes["varying_customer_columns"] == {"city": 1}


def test_parquet_and_xlsx_inputs(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": [17850, 13047], "age": [30, 40], "score": [0.5, 0.7]})
    frame.to_parquet(tmp_path / "c.parquet")
    data = TabularDataset(
        path=tmp_path / "c.parquet", customer_id="id", demographic_columns=["age"], cache=False
    ).load()
    assert data.customers.index.tolist() == ["17850", "13047"]
    with pd.ExcelWriter(tmp_path / "c.xlsx") as writer:
        frame.to_excel(writer, sheet_name="people", index=False)
    data = TabularDataset(
        path=tmp_path / "c.xlsx", customer_id="id", behaviour_columns=["score"], sheet="people"
    ).load()
    assert data.customers.index.tolist() == ["17850", "13047"]
    assert data.customers["score"].tolist() == [0.5, 0.7]
    with pytest.raises(DataError, match=r"no sheet named 'Sheet1'.*\['people'\]"):
        TabularDataset(path=tmp_path / "c.xlsx", customer_id="id", sheet="Sheet1").load()


def test_config_file_and_load_dataset(tmp_path: Path) -> None:
    path = write(tmp_path / "orders.csv", ORDERS_CSV)
    cfg = OmegaConf.load(CONFIG_DIR / "dataset" / "tabular.yaml")
    assert cfg.name == "tabular" and cfg.path is None
    with pytest.raises(ConfigError, match=r"needs dataset\.path"):
        load_dataset(cfg)
    cfg = OmegaConf.merge(
        cfg,
        {
            "path": str(path),
            "customer_id": "client",
            "transactions": ORDER_MAPPING,
            "sensitive_columns": ["gender"],
            "dataset_name": "shop",
        },
    )
    data = load_dataset(cfg)
    assert data.name == "shop" and data.n_customers == 3
    assert data.customers.index.str.fullmatch(r"[0-9a-f]{16}").all()
    assert set(data.transactions["customer_id"]) == set(data.customers.index)


# --- the cache ------------------------------------------------------------------------------


def test_cache_hit_miss_and_invalidation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGBENCH_CACHE_DIR", str(tmp_path / "cache"))
    path = write(tmp_path / "orders.csv", ORDERS_CSV)

    def load(**kwargs):
        options = {"path": path, "customer_id": "client", "transactions": ORDER_MAPPING}
        return TabularDataset(**{**options, **kwargs}).load()

    first = load()
    assert first.meta.notes["cache"] == "miss"
    calls = []
    real_read = tabular_module.read_table
    monkeypatch.setattr(
        tabular_module, "read_table", lambda *a, **k: calls.append(1) or real_read(*a, **k)
    )
    second = load()
    assert second.meta.notes["cache"] == "hit" and not calls, "a hit does not read the file"
    assert second.meta.fingerprint == first.meta.fingerprint
    pd.testing.assert_frame_equal(second.transactions, first.transactions)
    pd.testing.assert_frame_equal(second.customers, first.customers)
    assert [s.reason for s in second.meta.cleaning] == [s.reason for s in first.meta.cleaning]
    # a cleaning option is part of the key
    assert load(drop_non_positive=True).meta.notes["cache"] == "miss" and calls
    # so is the file's content (not its name or place)
    moved = tmp_path / "elsewhere.csv"
    moved.write_bytes(path.read_bytes())
    assert load(path=moved).meta.notes["cache"] == "hit"
    write(path, ORDERS_CSV + "D4;o7;2024-03-05 08:00;p1;mug;1;4.5;web;22;m;\n")
    changed = load()
    assert changed.meta.notes["cache"] == "miss" and changed.n_customers == 4
    assert load(cache=False).meta.notes["cache"] == "off"
    # a damaged entry is rebuilt, not trusted
    entry = entry_dir("tabular", changed.meta.notes["cache_entry"].split("-", 1)[1])
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["params"]["customer_id"] == "client" and meta["fingerprint"]
    (entry / "transactions.arrow").unlink()
    rebuilt = load()
    assert rebuilt.meta.notes["cache"] == "miss"
    assert rebuilt.meta.fingerprint == changed.meta.fingerprint
    assert load().meta.notes["cache"] == "hit"
    assert not [p for p in entry.parent.iterdir() if p.name.startswith(".")], "no temp folders"


def test_source_fingerprint_full_and_partial(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(3 * 2**20))
    full = source_fingerprint(path)
    partial = source_fingerprint(path, full_hash_limit=2**20)
    assert full != partial and len(full) == 32
    copy = tmp_path / "copy.bin"
    copy.write_bytes(path.read_bytes())
    assert source_fingerprint(copy) == full


# --- against the shared data ---------------------------------------------------------------


@pytest.mark.realdata
def test_tabular_reads_mall_customers_like_its_adapter() -> None:
    path = data_file(MALL)
    mapped = TabularDataset(
        path=path,
        customer_id="CustomerID",
        sep=",",
        demographic_columns={
            "age": "Age",
            "annual_income_k": "Annual Income (k$)",
            "spending_score": "Spending Score (1-100)",
        },
        sensitive_columns={"gender": "Genre"},
        cache=False,
    ).load()
    dedicated = MallCustomersDataset(path=path, cache=False).load()
    assert mapped.customers.index.equals(dedicated.customers.index)
    for column in ("age", "annual_income_k", "spending_score"):
        assert (mapped.customers[column] == dedicated.customers[column]).all()
    assert mapped.sensitive["gender"].equals(dedicated.sensitive["gender"])
