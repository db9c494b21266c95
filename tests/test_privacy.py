"""No route back to a customer: the key rule, the order of customers, the owner-only dataset
cache, and the one explicit way to get raw ids back (``python -m segbench.export``)."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from badinputs import QUICK, Files, cust_overrides
from segbench.api import run, settings
from segbench.data.pseudonyms import KEY_ENV, pseudonymise_ids
from segbench.datasets import load_dataset
from segbench.datasets.cache import entry_dir
from segbench.errors import ConfigError, DataError
from segbench.export import export_segments, main
from segbench.tracking.privacy_scan import order_findings, reference_orders, scan_store


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Files:
    return Files(tmp_path_factory.mktemp("privacy"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_one_key_per_run_unless_the_key_is_set(files, monkeypatch):
    dataset = settings(cust_overrides(files.customers())).dataset
    monkeypatch.delenv(KEY_ENV, raising=False)
    first, second = load_dataset(dataset), load_dataset(dataset)
    assert not set(first.customer_ids) & set(second.customer_ids)  # unlinkable runs
    # the order is the same whatever the key: by content
    pd.testing.assert_frame_equal(
        first.customers.reset_index(drop=True), second.customers.reset_index(drop=True)
    )
    monkeypatch.setenv(KEY_ENV, "shared")
    a, b = load_dataset(dataset), load_dataset(dataset)
    assert list(a.customer_ids) == list(b.customer_ids)


def test_the_order_of_customers_carries_no_information_about_raw_ids(files, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "order")
    raw = files.customers()  # ids K00000, K00001, … in file order
    data = load_dataset(settings(cust_overrides(raw)).dataset)
    every = pd.read_csv(raw, dtype=str)["cust"].tolist()
    orders = {
        name: {p: i for i, p in enumerate(pseudonymise_ids(pd.Index(order), b"order"))}
        for name, order in reference_orders(every).items()
    }
    frame = pd.DataFrame({"customer_id": data.customer_ids})
    found, rows = order_findings(frame, orders, "customers")
    assert rows == 120 and found == []
    # the control: the same pseudonyms in raw-id order are found
    keyed = pseudonymise_ids(pd.Index(every), b"order")
    found, _ = order_findings(pd.DataFrame({"customer_id": keyed}), orders, "control")
    assert [f.kind for f in found] == ["order"]


def test_results_do_not_depend_on_the_key(files, tmp_path, monkeypatch):
    overrides = [
        *QUICK,
        *cust_overrides(files.customers()),
        f"tracking.uri=sqlite:///{tmp_path}/m.db",
    ]
    monkeypatch.setenv(KEY_ENV, "one")
    a = run(overrides)
    monkeypatch.setenv(KEY_ENV, "two")
    b = run(overrides)
    assert list(a.labels.index) != list(b.labels.index)
    np.testing.assert_array_equal(a.labels.to_numpy(), b.labels.to_numpy())
    assert a.metrics["silhouette"] == b.metrics["silhouette"]


def test_dataset_cache_entries_are_readable_by_their_owner_only(files, tmp_path, monkeypatch):
    monkeypatch.setenv("SEGBENCH_CACHE_DIR", str(tmp_path / "cache"))
    overrides = [o for o in cust_overrides(files.customers()) if o != "dataset.cache=false"]
    load_dataset(settings(overrides).dataset)
    (entry,) = (tmp_path / "cache" / "datasets").iterdir()
    assert mode(entry) == 0o700
    assert {mode(p) for p in entry.iterdir()} == {0o600}
    assert mode(tmp_path / "cache") == 0o700  # created by segbench
    # an entry written before the rule is tightened when it is read
    entry.chmod(0o755)
    for path in entry.iterdir():
        path.chmod(0o644)
    data = load_dataset(settings(overrides).dataset)
    assert data.meta.notes["cache"] == "hit"
    assert mode(entry) == 0o700 and {mode(p) for p in entry.iterdir()} == {0o600}
    assert entry_dir("tabular", "x").parent == entry.parent


@pytest.fixture(scope="module")
def keyed_run(files, tmp_path_factory):
    """A run made with the key set, and the key."""
    store = tmp_path_factory.mktemp("export-store")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, "export-key")
        result = run(
            [
                *QUICK,
                *cust_overrides(files.customers()),
                f"tracking.uri=sqlite:///{store}/mlflow.db",
            ]
        )
    return result, f"sqlite:///{store}/mlflow.db", store


def test_export_writes_raw_ids_with_their_segments_to_a_private_local_file(
    keyed_run, files, tmp_path, monkeypatch, capsys
):
    result, uri, store = keyed_run
    monkeypatch.setenv(KEY_ENV, "export-key")
    out = tmp_path / "segments.csv"
    assert main(["--run-id", result.run_id, "--output", str(out), "--tracking-uri", uri]) == 0
    assert "readable by you only" in capsys.readouterr().out
    assert mode(out) == 0o600
    table = pd.read_csv(out, dtype={"customer_id": str})
    assert list(table.columns) == ["customer_id", "segment", "segment_name"]
    raw = pd.read_csv(files.customers(), dtype=str)["cust"]
    assert sorted(table["customer_id"]) == sorted(raw)
    # each raw id has the segment the run gave its pseudonym
    keyed = pd.Series(
        table["segment"].to_numpy(), index=pseudonymise_ids(table["customer_id"], b"export-key")
    )
    pd.testing.assert_series_equal(
        keyed.sort_index(), result.labels.sort_index(), check_names=False, check_dtype=False
    )
    # nothing went to the store
    assert scan_store([store], ids=list(raw)).findings == []


def test_export_refuses_without_the_runs_key(keyed_run, files, monkeypatch):
    result, uri, _ = keyed_run
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(ConfigError, match=f"set {KEY_ENV}"):
        export_segments(result.run_id, uri)
    monkeypatch.setenv(KEY_ENV, "not-the-key")
    with pytest.raises(DataError, match="none of the 120 pseudonyms"):
        export_segments(result.run_id, uri)
    monkeypatch.setenv(KEY_ENV, "export-key")
    inside = Path(
        MlflowClient(uri).get_run(result.run_id).info.artifact_uri.removeprefix("file://")
    )
    status = main(
        ["--run-id", result.run_id, "--output", str(inside / "x.csv"), "--tracking-uri", uri]
    )
    assert status == 2 and not (inside / "x.csv").exists()
    # a run made with a random per-run key cannot be exported by anyone
    monkeypatch.delenv(KEY_ENV)
    other = run([*QUICK, *cust_overrides(files.customers()), f"tracking.uri={uri}"])
    monkeypatch.setenv(KEY_ENV, "export-key")
    with pytest.raises(ConfigError, match="random-per-run key"):
        export_segments(other.run_id, uri)
    assert (
        MlflowClient(uri).get_run(other.run_id).data.tags["segbench.pseudonym_key"]
        == "random-per-run"
    )
