"""Data scale (issue 14): size guards of the quadratic methods, the subsample-then-assign mode,
transactions aggregated out of core by DuckDB. No timing here: the figures are in
``benchmarks/bench_scale.py`` and ``benchmarks/bench_transactions.py``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from segbench.algorithms import fit_segmentation as plain_fit
from segbench.algorithms.density import DBSCAN
from segbench.errors import DataError, SegbenchError
from segbench.serving.subsample import SubsampleAssign, fit_segmentation

ONLINE_RETAIL = {
    "timestamp": "InvoiceDate",
    "quantity": "Quantity",
    "unit_price": "UnitPrice",
    "invoice_id": "InvoiceNo",
}


# -- the guard ---------------------------------------------------------------------------


@pytest.mark.parametrize("algo", ["hdbscan", "dbscan", "agglomerative"])
def test_plain_mode_above_the_guard_is_refused_before_any_work_naming_the_mode(algo):
    from segbench.api import settings

    with pytest.raises(SegbenchError) as caught:
        settings([f"algo={algo}", "dataset.n_customers=1000000", "features=rfm"])
    message = str(caught.value)
    guard = settings([f"algo={algo}"]).algo.max_customers
    assert f"fits at most {guard} customers (algo.max_customers)" in message
    assert "this dataset has 1000000. Fit it on a seeded sample" in message
    assert f"algo.subsample={min(guard, 10_000)}" in message
    assert "\n" not in message  # one paragraph


def test_the_guard_names_the_mode_on_the_command_line(tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "segbench", "algo=hdbscan", "dataset.n_customers=300000",
         f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "algo.subsample=10000" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "mlflow.db").exists()  # refused before a run exists


def test_subsample_above_the_guard_is_a_settings_error():
    from segbench.api import settings

    with pytest.raises(SegbenchError, match=r"subsample=200000 is above max_customers=20000"):
        settings(["algo=agglomerative", "algo.subsample=200000"])


def test_dbscan_refuses_an_eps_whose_neighbourhoods_are_quadratic():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 3))
    with pytest.raises(DataError, match=r"algo.max_neighbour_pairs=1000000\. Choose a smaller"):
        DBSCAN(eps=50.0, min_samples=5, max_neighbour_pairs=1_000_000).fit(X)
    # a radius of the data's own scale passes, and so does any eps without the bound
    assert len(DBSCAN(eps=0.1, min_samples=5, max_neighbour_pairs=1_000_000).fit(X).labels_)


# -- the subsample-then-assign mode ------------------------------------------------------


def test_at_or_below_the_sample_size_the_mode_changes_nothing():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 3))
    algo = {"_target_": "sklearn.cluster.AgglomerativeClustering", "n_clusters": 4,
            "max_customers": 20000}  # fmt: skip
    plain = plain_fit(algo, X)
    moded = fit_segmentation({**algo, "subsample": 400}, X, seed=0)
    assert np.array_equal(plain.labels, moded.labels)
    assert moded.metrics == {} and moded.notes == {}
    assert type(moded.estimator).__name__ == "AgglomerativeClustering"


def test_the_wrapper_is_clonable_and_fits_small_refits_plainly():
    from sklearn.base import clone
    from sklearn.cluster import AgglomerativeClustering

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 2))
    model = clone(SubsampleAssign(AgglomerativeClustering(3), sample_size=500, seed=0)).fit(X)
    assert model.sample_ is None and model.metrics_ == {}
    assert np.array_equal(model.labels_, AgglomerativeClustering(3).fit(X).labels_)


@pytest.mark.parametrize(
    ("algo", "method"),
    [("agglomerative", "surrogate_knn"), ("hdbscan", "approximate_predict"),
     ("dbscan", "nearest_core_point")],
)  # fmt: skip
def test_subsample_mode_on_online_retail_labels_everyone_and_logs_agreement(
    tracking_uri, algo, method
):
    from segbench.api import run

    result = run(
        [
            "dataset=online_retail",
            f"algo={algo}",
            "algo.subsample=1500",
            "features=rfm",
            f"tracking.uri={tracking_uri}",
            "tracking.log_plots=false",
            "tracking.log_model=false",
            "fairness=none",
            "analysis.personalisation.enabled=false",
            "analysis.k_selection.enabled=false",
        ]
    )
    n = result.data.n_customers
    assert n > 4000
    labels = result.labels
    assert len(labels) == n and labels.notna().all()
    assert labels.index.equals(result.features.index)
    metrics = result.metrics
    assert metrics["subsample.size"] == 1500
    assert metrics["subsample.assigned"] == n - 1500
    assert metrics["subsample.holdout_customers"] == 300
    assert 0.5 <= metrics["subsample.agreement"] <= 1.0
    logged = MlflowClient(tracking_uri).get_run(result.run_id).data
    assert logged.metrics["subsample.agreement"] == pytest.approx(metrics["subsample.agreement"])
    assert logged.tags["segbench.subsample.method"] == method
    # the customers the sample fit did not see carry the assignment method's labels
    estimator = result.estimator
    rest = np.setdiff1d(np.arange(n), estimator.sample_)
    assert np.array_equal(estimator.predict(result.features.X[rest]), labels.to_numpy()[rest])


# -- transactions out of core -------------------------------------------------------------


def _rfm(data) -> pd.DataFrame:
    from segbench.features.rfm import RFMBlock

    return RFMBlock(log_transform=False).profile(data).sort_index()


@pytest.fixture(scope="module")
def online_retail_parquet(tmp_path_factory) -> str:
    from segbench.data.paths import data_dir

    frame = pd.read_csv(data_dir() / "online_retail.csv.gz", dtype={"InvoiceNo": str})
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    path = tmp_path_factory.mktemp("retail") / "online_retail.parquet"
    frame.to_parquet(path, row_group_size=100_000)
    return str(path)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_duckdb_gives_the_pandas_rfm_table_on_online_retail(kind, online_retail_parquet):
    from segbench.data.paths import data_dir
    from segbench.datasets.tabular import TabularDataset

    path = str(data_dir() / "online_retail.csv.gz") if kind == "csv" else online_retail_parquet
    options = {"path": path, "customer_id": "CustomerID", "transactions": ONLINE_RETAIL}
    whole = TabularDataset(**options, engine="pandas", cache=False).load()
    out_of_core = TabularDataset(**options, engine="duckdb", cache=False).load()
    assert out_of_core.transactions is None and out_of_core.meta.notes["engine"] == "duckdb"
    expected, found = _rfm(whole), _rfm(out_of_core)
    assert len(expected) == 4372
    assert found.index.equals(expected.index)
    assert (found["frequency"] == expected["frequency"]).all()
    pd.testing.assert_frame_equal(found, expected, check_exact=False, rtol=1e-12, atol=1e-9)
    assert out_of_core.meta.analysis_date == whole.meta.analysis_date
    steps = [(s.step, s.rows_before, s.rows_after) for s in out_of_core.meta.cleaning]
    assert steps == [(s.step, s.rows_before, s.rows_after) for s in whole.meta.cleaning]


def test_auto_engine_takes_duckdb_from_the_size_threshold(online_retail_parquet):
    from segbench.datasets.tabular import TabularDataset

    options = {"path": online_retail_parquet, "customer_id": "CustomerID",
               "transactions": ONLINE_RETAIL, "cache": False}  # fmt: skip
    assert not TabularDataset(**options).out_of_core()  # a few MB: read whole
    small_threshold = TabularDataset(**options, out_of_core_bytes=1024)
    assert small_threshold.out_of_core()
    assert small_threshold.layout().transactions is None


def test_out_of_core_refuses_customer_columns_naming_the_engine(online_retail_parquet):
    from segbench.datasets.tabular import TabularDataset

    adapter = TabularDataset(
        path=online_retail_parquet, customer_id="CustomerID", transactions=ONLINE_RETAIL,
        demographic_columns=["Country"], engine="duckdb", cache=False,
    )  # fmt: skip
    with pytest.raises(SegbenchError, match=r"found demographic_columns too.*engine=pandas"):
        adapter.check_options()
