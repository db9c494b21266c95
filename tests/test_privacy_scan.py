"""No route back to a customer reaches the MLflow store (database or artifacts).

Each dataset test runs segbench on a dataset into a fresh store, with a known pseudonym key,
then scans the whole store — the SQLite file (the ``segbench.error`` tags included) and every
artifact file (see :mod:`segbench.tracking.privacy_scan`) — for a sample of the dataset's *raw*
ids and review sentences, taken from the adapter before pseudonymisation, and for tables in the
order of the raw ids (every raw id, in the source's order and sorted). Each then plants a
control on the same dataset — a raw id, a review sentence, the assignments in raw-id order — and
shows the scan finds each one, so every check can fail on that data. The first tests show it on
a store: ids, texts and an error carrying a raw id deliberately logged are found.
"""

from __future__ import annotations

import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from datapaths import MALL, MARKETING, RETAIL, REVIEWS, data_file
from segbench.api import run, settings
from segbench.data.pseudonyms import KEY_ENV, pseudonymise_ids
from segbench.datasets.base import build_adapter
from segbench.errors import DataError
from segbench.tracking.mlflow_run import tracked_run
from segbench.tracking.privacy_scan import scan_store

KEY = "privacy-scan-tests"

TOY = ["dataset._target_=toydata.ToyDataset", "dataset.name=toy", "dataset.n_customers=300"]


def count_like(raw_id: str, n_customers: int) -> bool:
    """A plain number no larger than the dataset could be a count in any table: not sampled.

    (Marketing Campaign ids run 0-11191 over 2,216 customers; a segment of 1,506 customers
    would otherwise "leak" id 1506.) Zero-padded ids such as "0042" stay: counts have no
    leading zero.
    """
    return raw_id.isdigit() and not raw_id.startswith("0") and int(raw_id) <= n_customers


def raw_sample(overrides: list[str], n_ids: int = 40, n_texts: int = 40, min_id_length: int = 4):
    """Raw ids and review sentences of the dataset ``overrides`` select (not pseudonymised),
    and every raw id in the source's order."""
    data = build_adapter(settings(overrides).dataset).load()
    every = [str(i) for i in data.customers.index]
    rng = np.random.default_rng(0)
    ids = [
        str(i)
        for i in data.customers.index
        if len(str(i)) >= min_id_length and not count_like(str(i), data.n_customers)
    ]
    ids = list(rng.choice(ids, size=min(n_ids, len(ids)), replace=False)) if ids else []
    sentences: list[str] = []
    if data.texts is not None:
        for text in data.texts["text"].dropna().astype(str):
            sentences += [
                s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.strip()) >= 40
            ]
        unique = sorted(set(sentences))
        sentences = list(rng.choice(unique, size=min(n_texts, len(unique)), replace=False))
    return ids, sentences, every


# the SQLite store (mlflow.db) and its artifacts (mlruns/) are both under the test's tmp_path


def test_the_scan_finds_raw_ids_and_texts_when_they_are_logged(tmp_path, tracking_uri):
    ids, _, _ = raw_sample(TOY, n_ids=20)
    texts = ["great quality, I love it and I will buy it again next season"]
    run(
        [
            *TOY,
            f"tracking.uri={tracking_uri}",
            "algo.n_clusters=3",
            "features=rfm+demographics",
            "evaluation.stability.enabled=false",
            "analysis.predictive.enabled=false",
            "tracking.log_model=false",
        ]
    )
    clean = scan_store([tmp_path], ids=ids, texts=texts)
    assert len(clean.scanned) > 10 and clean.findings == [], clean.findings
    # deliberately leak: one id as a param, one in a Parquet artifact, a review as a tag
    leaked_param, leaked_parquet = ids[0], ids[1]
    with tracked_run(tracking_uri, "segbench", run_name="leak") as leak:
        leak.params({"customer": leaked_param})
        leak.table(pd.DataFrame({"customer_id": [leaked_parquet] * 50}), "ids.parquet", index=False)
        leak.tags({"note": texts[0]})
    found = scan_store([tmp_path], ids=ids, texts=texts)
    where = {(f.kind, f.needle, Path(f.path).suffix) for f in found}
    assert ("id", leaked_param, ".db") in where
    assert ("id", leaked_parquet, ".parquet") in where
    assert ("text", texts[0], ".db") in where
    assert {f.needle for f in found if f.kind == "id"} == {leaked_param, leaked_parquet}


def test_ids_match_as_whole_tokens_only(tmp_path):
    (tmp_path / "a.csv").write_text("segment,size\n0,178503\n1,17850.5\nabc17850f,2\n")
    assert scan_store([tmp_path], ids=["17850"]).findings == []
    (tmp_path / "b.csv").write_text("customer_id\n17850.0\n")
    assert [f.needle for f in scan_store([tmp_path], ids=["17850"])] == ["17850"]


def test_an_error_carrying_a_raw_id_is_found_in_its_tag_and_error_txt(tmp_path, tracking_uri):
    """Planted: an error without a public message; real: a duplicated-id error (it has one)."""
    raw_id = "C77123"
    with pytest.raises(DataError), tracked_run(tracking_uri, "segbench", run_name="planted"):
        raise DataError(f"customer_id must be unique; duplicated e.g. ['{raw_id}']")
    found = scan_store([tmp_path], ids=[raw_id])
    where = {(Path(f.path).name, f.where) for f in found}
    assert ("mlflow.db", "tags[segbench.error]") in where
    assert ("error.txt", "") in where
    assert any(raw_id in tag for tag in found.error_tags)

    clean = tmp_path / "clean"
    clean.mkdir()
    uri = f"sqlite:///{clean / 'mlflow.db'}"
    with pytest.raises(DataError), tracked_run(uri, "segbench", run_name="public"):
        raise DataError(
            f"customer_id must be unique; duplicated e.g. ['{raw_id}']",
            public="customer_id must be unique; 1 duplicated id",
        )
    report = scan_store([clean], ids=[raw_id])
    assert report.findings == []
    assert report.error_tags == ["DataError: customer_id must be unique; 1 duplicated id"]
    assert any(p.endswith("error.txt") for p in report.scanned)


def plant_controls(folder: Path, ids: list[str], texts: list[str], every: list[str]) -> None:
    """A raw id, a review sentence and assignments in raw-id order, in files of ``folder``."""
    folder.mkdir()
    if ids:
        (folder / "note.txt").write_text(f"customer {ids[0]} asked for a refund")
    if texts:
        (folder / "tag.txt").write_text(f"quote: {texts[0]}")
    keyed = pseudonymise_ids(pd.Index(every), KEY.encode())
    pd.DataFrame({"customer_id": keyed, "segment": np.arange(len(keyed)) % 3}).to_parquet(
        folder / "assignments.parquet", index=False
    )


def scan_run(tmp_path: Path, tracking_uri: str, overrides: list[str], min_id_length: int = 4):
    ids, texts, every = raw_sample(overrides, min_id_length=min_id_length)
    result = run([*overrides, f"tracking.uri={tracking_uri}", "blocks.text.progress=false"])
    assert mlflow.get_run(result.run_id).info.status == "FINISHED"
    report = scan_store([tmp_path], ids=ids, texts=texts, customers=every, key=KEY.encode())
    assert report.findings == [], report.findings[:10]
    assert any(p.endswith(".db") for p in report.scanned)
    assert any(p.endswith("segment_card.md") for p in report.scanned)
    # the row order of the run's assignments was checked, on every customer
    ordered = {Path(p).name: rows for p, rows in report.ordered_tables}
    assert ordered.get("assignments.parquet") == result.data.n_customers
    # planted controls on the same data: each check finds its route back
    planted = tmp_path / "planted"
    plant_controls(planted, ids, texts, every)
    found = scan_store([planted], ids=ids, texts=texts, customers=every, key=KEY.encode())
    kinds = {(Path(f.path).name, f.kind) for f in found}
    assert ("assignments.parquet", "order") in kinds
    assert not ids or ("note.txt", "id") in kinds
    assert not texts or ("tag.txt", "text") in kinds
    return ids, texts, report


@pytest.fixture
def known_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.mark.slow
def test_synthetic_run_leaks_no_raw_id_or_review(tmp_path, tracking_uri, known_key):
    ids, texts, _ = scan_run(
        tmp_path,
        tracking_uri,
        ["dataset.n_customers=1500", "features=rfm+demographics+text", "blocks.text.method=tfidf"],
    )
    assert len(ids) == 40 and len(texts) == 40


REAL = [
    pytest.param(RETAIL, ["dataset=online_retail", "features=rfm"], 5, id="online_retail"),
    pytest.param(
        MARKETING,
        ["dataset=marketing_campaign", "features=rfm+demographics"],
        4,
        id="marketing_campaign",
    ),
    pytest.param(
        MALL,
        ["dataset=mall_customers", "features=demographics", "algo.n_clusters=5"],
        4,
        id="mall_customers",
    ),
    # no customer id in the file (ids are row numbers, not identifiers): scan the review texts
    pytest.param(
        REVIEWS,
        ["dataset=clothing_reviews", "features=text+demographics", "blocks.text.method=tfidf"],
        10**6,
        id="clothing_reviews",
    ),
]


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize(("file", "overrides", "min_id_length"), REAL)
def test_real_dataset_run_leaks_no_raw_id_or_review(
    tmp_path, tracking_uri, known_key, file, overrides, min_id_length
):
    data_file(file)  # skips, naming SEGBENCH_DATA_DIR, when the shared data are missing
    ids, texts, _ = scan_run(tmp_path, tracking_uri, overrides, min_id_length)
    if file == REVIEWS:
        assert ids == [] and len(texts) == 40
    else:
        assert len(ids) == 40


def test_copies_of_segbench_source_are_skipped_but_changed_copies_are_read(tmp_path):
    import segbench.data.pseudonyms as library_module

    source = Path(library_module.__file__).read_bytes()
    (tmp_path / "copy.py").write_bytes(source)
    (tmp_path / "changed.py").write_bytes(source + b"\n# customer S0000042\n")
    report = scan_store([tmp_path], ids=["S0000042"])
    assert str(tmp_path / "copy.py") in report.skipped
    assert [(Path(f.path).name, f.needle) for f in report] == [("changed.py", "S0000042")]
