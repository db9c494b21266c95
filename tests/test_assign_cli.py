"""The whole path: a run on raw Online-Retail-format lines, its pyfunc model, ``segbench.assign``.

The raw files are generated here in the UCI Online Retail layout (no real data needed), so the
real adapter's cleaning runs on them exactly as on the shared file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from segbench.api import run
from segbench.assign import main
from segbench.datasets import load_dataset
from segbench.datasets.base import build_adapter
from segbench.serving.model import SegmentationModel, from_rows, to_rows

PRODUCTS = [(f"{20000 + i}", f"PRODUCT {i}", 1.0 + (i % 7)) for i in range(30)]


def retail_lines(n_customers: int = 150, seed: int = 0) -> pd.DataFrame:
    """Invoice lines of three kinds of customers over 2011 (UCI Online Retail columns)."""
    rng = np.random.default_rng(seed)
    rows, invoice = [], 540000
    days = pd.date_range("2011-01-03", "2011-11-30", freq="D")
    for c in range(n_customers):
        kind = c % 3  # 0 frequent big buyers, 1 regulars, 2 one-off early buyers
        n_invoices = {0: 14, 1: 5, 2: 1}[kind] + int(rng.integers(0, 3))
        pool = days[: len(days) // 4] if kind == 2 else days
        for day in rng.choice(pool, size=n_invoices, replace=False):
            invoice += 1
            stamp = pd.Timestamp(day) + pd.Timedelta(hours=int(rng.integers(8, 18)))
            picks = rng.choice(len(PRODUCTS), size=int(rng.integers(1, 5)), replace=False)
            for p in picks:
                code, description, price = PRODUCTS[(p + 10 * kind) % len(PRODUCTS)]
                rows.append(
                    {
                        "InvoiceNo": str(invoice),
                        "StockCode": code,
                        "Description": description,
                        "Quantity": int(rng.integers(1, 6)) * (12 if kind == 0 else 1),
                        "InvoiceDate": stamp.strftime("%Y-%m-%d %H:%M:%S"),
                        "UnitPrice": price,
                        "CustomerID": f"{13000 + c}.0",
                        "Country": "United Kingdom" if c % 5 else "France",
                    }
                )
    return pd.DataFrame(rows).sort_values("InvoiceDate", kind="stable")


@pytest.fixture(scope="module")
def raw_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("retail")
    lines = retail_lines()
    stamps = pd.to_datetime(lines["InvoiceDate"])
    files = {
        "all": lines,
        "train": lines[stamps < "2011-11-01"],
        "new": lines[stamps >= "2011-11-01"],
    }
    paths = {}
    for name, frame in files.items():
        paths[name] = folder / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths


def by_id(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values("customer_id").reset_index(drop=True)


@pytest.fixture
def linked_ids(monkeypatch):
    """One pseudonym key for the run and the assignment, so their ids can be compared."""
    monkeypatch.setenv("SEGBENCH_PSEUDONYM_KEY", "tests-key")


def retail_run(uri: str, path: Path, *more: str):
    return run(
        [
            "dataset=online_retail",
            f"dataset.path={path}",
            "dataset.cache=false",
            "features=rfm",
            f"tracking.uri={uri}",
            "tracking.log_plots=false",
            "analysis.predictive.enabled=false",
            "evaluation.stability.enabled=false",
            "fairness=none",
            *more,
        ]
    )


@pytest.mark.parametrize(
    ("algo", "method"),
    [
        (["algo=kmeans", "algo.n_clusters=3"], "predict"),
        (["algo=agglomerative", "algo.n_clusters=3"], "surrogate_knn"),
    ],
)
def test_assigning_the_training_file_reproduces_the_run(
    tracking_uri, raw_files, linked_ids, tmp_path, algo, method, capsys
):
    result = retail_run(tracking_uri, raw_files["train"], *algo)
    tags = MlflowClient(tracking_uri).get_run(result.run_id).data.tags
    assert tags["segbench.assign_method"] == method
    out = tmp_path / "segments.csv"
    status = main(
        [
            "--run-id",
            result.run_id,
            "--input",
            str(raw_files["train"]),
            "--output",
            str(out),
            "--tracking-uri",
            tracking_uri,
        ]
    )
    assert status == 0
    assert f"method {method}" in capsys.readouterr().out
    table = pd.read_csv(out, dtype={"customer_id": str})
    expected = result.labels.rename("expected")
    joined = table.set_index("customer_id").join(expected, how="outer")
    assert len(joined) == result.data.n_customers  # same customers, no one lost or added
    np.testing.assert_array_equal(joined["segment"], joined["expected"])
    assert {"segment_name"} <= set(table.columns)  # RFM names of the run


def test_assign_new_customers_from_a_raw_file(tracking_uri, raw_files, linked_ids, tmp_path):
    result = retail_run(tracking_uri, raw_files["train"], "algo=kmeans", "algo.n_clusters=3")
    out = tmp_path / "new.parquet"
    uri = MlflowClient(tracking_uri).get_run(result.run_id).data.tags["segbench.model_uri"]
    status = main(
        [
            "--model-uri",
            uri,
            "--input",
            str(raw_files["new"]),
            "--output",
            str(out),
            "--dataset-config",
            "online_retail",
            "--tracking-uri",
            tracking_uri,
        ]
    )
    assert status == 0
    table = pd.read_parquet(out)
    new_lines = pd.read_csv(raw_files["new"], dtype={"CustomerID": str})
    assert len(table) == new_lines["CustomerID"].nunique()
    assert table["customer_id"].str.fullmatch(r"[0-9a-f]{16}").all()  # pseudonyms only
    raw = set(new_lines["CustomerID"].str.replace(".0", "", regex=False))
    assert not raw & set(table["customer_id"])
    assert set(table["segment"]) <= set(result.labels)


def test_pyfunc_predict_on_canonical_rows_equals_the_model_path(
    tracking_uri, raw_files, linked_ids
):
    result = retail_run(tracking_uri, raw_files["train"], "algo=gmm", "algo.n_components=3")
    uri = MlflowClient(tracking_uri).get_run(result.run_id).data.tags["segbench.model_uri"]
    loaded = mlflow.pyfunc.load_model(uri)
    model = loaded.unwrap_python_model()
    assert isinstance(model, SegmentationModel)
    assert loaded.metadata.signature is not None
    assert {"part", "customer_id", "timestamp", "quantity"} <= set(
        loaded.metadata.signature.inputs.input_names()
    )
    config = {**model.dataset_config, "path": str(raw_files["new"])}
    new = load_dataset(config)
    rows = to_rows(build_adapter(config).load())  # the customers' own ids, as a caller has them
    day = str(new.meta.analysis_date.date())
    via_pyfunc = loaded.predict(rows, params={"analysis_date": day})
    direct = model.segment(new)
    # the model gives ids as a run and segbench.assign do: pseudonyms under the key
    pd.testing.assert_frame_equal(by_id(via_pyfunc), by_id(direct))
    # a frame of already-transformed features is accepted too (1-D output)
    X = pd.DataFrame(result.features.X[:7], columns=result.features.columns)
    np.testing.assert_array_equal(np.asarray(loaded.predict(X)), result.labels.to_numpy()[:7])


def test_rows_round_trip_keeps_every_part():
    from toydata import toy_data

    data = toy_data(30)
    rows = to_rows(data)
    assert set(rows["part"]) == {"customers", "transactions", "texts"}
    back = from_rows(
        rows,
        {"age": "numeric", "income": "numeric", "gender": "string", "region": "string"},
        ("age", "income", "region"),
        "2024-12-31",
    )
    pd.testing.assert_index_equal(back.customer_ids, data.customer_ids.astype(str))
    assert len(back.transactions) == len(data.transactions)
    np.testing.assert_allclose(back.customers["income"], data.customers["income"])
    assert back.meta.analysis_date == pd.Timestamp("2024-12-31")
    assert back.demographic_columns == ("age", "income", "region")


def test_bad_input_to_the_model_names_what_is_missing():
    from segbench.errors import DataError

    with pytest.raises(DataError, match="lacks the column 'part'"):
        from_rows(pd.DataFrame({"customer_id": ["a"]}), {})
    with pytest.raises(DataError, match="unknown part values"):
        from_rows(pd.DataFrame({"part": ["orders"], "customer_id": ["a"]}), {})


def test_cli_errors_are_one_paragraph_and_status_2(tracking_uri, raw_files, tmp_path, capsys):
    status = main(
        [
            "--run-id",
            "nope",
            "--input",
            str(raw_files["new"]),
            "--output",
            str(tmp_path / "x.csv"),
            "--tracking-uri",
            tracking_uri,
        ]
    )
    assert status == 2
    assert "run 'nope' not found" in capsys.readouterr().err
    status = main(
        [
            "--run-id",
            "nope",
            "--input",
            str(tmp_path / "missing.csv"),
            "--output",
            str(tmp_path / "x.csv"),
            "--tracking-uri",
            tracking_uri,
        ]
    )
    assert status == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.slow
def test_mlflow_models_predict_cli_serves_canonical_rows(
    tracking_uri, raw_files, linked_ids, tmp_path
):
    """`mlflow models predict` (a separate process, local env) on canonical rows as CSV and JSON."""
    result = retail_run(tracking_uri, raw_files["train"], "algo=kmeans", "algo.n_clusters=3")
    uri = MlflowClient(tracking_uri).get_run(result.run_id).data.tags["segbench.model_uri"]
    model = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    config = {**model.dataset_config, "path": str(raw_files["new"])}
    expected = by_id(model.segment(load_dataset(config)))
    rows = to_rows(build_adapter(config).load())
    csv_in, json_in = tmp_path / "rows.csv", tmp_path / "rows.json"
    rows.to_csv(csv_in, index=False)
    json_in.write_text(
        json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split", index=False))})
    )
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    for path, kind in ((csv_in, "csv"), (json_in, "json")):
        out = tmp_path / f"out-{kind}.json"
        done = subprocess.run(
            [
                str(mlflow_cli),
                "models",
                "predict",
                "-m",
                uri,
                "-i",
                str(path),
                "-t",
                kind,
                "-o",
                str(out),
                "--env-manager",
                "local",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        predictions = pd.DataFrame(json.loads(out.read_text())["predictions"])
        pd.testing.assert_frame_equal(by_id(predictions), expected, check_dtype=False)


@pytest.mark.realdata
@pytest.mark.slow
def test_assign_the_last_month_of_online_retail_with_a_model_of_the_earlier_months(
    tracking_uri, linked_ids, tmp_path
):
    """The issue's acceptance: train on the lines before 2011-11-09, assign the last month."""
    from datapaths import RETAIL, data_file

    raw = pd.read_csv(data_file(RETAIL), dtype=str, keep_default_na=False)
    stamp = pd.to_datetime(raw["InvoiceDate"])
    earlier, last = tmp_path / "earlier.csv.gz", tmp_path / "last_month.csv.gz"
    raw[stamp < "2011-11-09"].to_csv(earlier, index=False)
    raw[stamp >= "2011-11-09"].to_csv(last, index=False)
    result = retail_run(tracking_uri, earlier, "algo=kmeans", "algo.n_clusters=5")
    assert result.data.transactions["timestamp"].max() < pd.Timestamp("2011-11-09")
    out = tmp_path / "segments.csv"
    assert (
        main(
            [
                "--run-id",
                result.run_id,
                "--input",
                str(last),
                "--output",
                str(out),
                "--tracking-uri",
                tracking_uri,
            ]
        )
        == 0
    )
    table = pd.read_csv(out, dtype={"customer_id": str})
    assert 1500 < len(table) < 1714  # 1,714 raw customers in the last month, fewer after cleaning
    assert table["customer_id"].str.fullmatch(r"[0-9a-f]{16}").all()
    assert set(table["segment"]) <= set(result.labels)


def test_assign_refuses_a_dataset_without_a_raw_file_format(tmp_path, capsys):
    from segbench.assign import dataset_config
    from segbench.errors import ConfigError

    model = SegmentationModel(None, None, [], {}, (), {"_target_": "toydata.ToyDataset"})
    with pytest.raises(ConfigError, match="takes no 'path'"):
        dataset_config(model, None, tmp_path / "x.csv")
    cfg = dataset_config(model, "online_retail", tmp_path / "x.csv")
    assert cfg["path"] == str(tmp_path / "x.csv") and cfg["_target_"].endswith(
        "OnlineRetailDataset"
    )
