"""No raw customer id or review text reaches the MLflow store (database or artifacts).

Each test runs segbench on a dataset into a fresh store, then scans the whole store — the
SQLite file and every artifact file (see :mod:`segbench.tracking.privacy_scan`) — for a sample of the
dataset's *raw* ids and review sentences, taken from the adapter before pseudonymisation. The
first test shows the scan can fail: ids and texts deliberately logged are found.
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
from segbench.datasets.base import build_adapter
from segbench.tracking.mlflow_run import tracked_run
from segbench.tracking.privacy_scan import scan_store

TOY = ["dataset._target_=toydata.ToyDataset", "dataset.name=toy", "dataset.n_customers=300"]


def count_like(raw_id: str, n_customers: int) -> bool:
    """A plain number no larger than the dataset could be a count in any table: not sampled.

    (Marketing Campaign ids run 0-11191 over 2,216 customers; a segment of 1,506 customers
    would otherwise "leak" id 1506.) Zero-padded ids such as "0042" stay: counts have no
    leading zero.
    """
    return raw_id.isdigit() and not raw_id.startswith("0") and int(raw_id) <= n_customers


def raw_sample(overrides: list[str], n_ids: int = 40, n_texts: int = 40, min_id_length: int = 4):
    """Raw ids and review sentences of the dataset ``overrides`` select (not pseudonymised)."""
    data = build_adapter(settings(overrides).dataset).load()
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
    return ids, sentences


# the SQLite store (mlflow.db) and its artifacts (mlruns/) are both under the test's tmp_path


def test_the_scan_finds_raw_ids_and_texts_when_they_are_logged(tmp_path, tracking_uri):
    ids, _ = raw_sample(TOY, n_ids=20)
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


def scan_run(tmp_path: Path, tracking_uri: str, overrides: list[str], min_id_length: int = 4):
    ids, texts = raw_sample(overrides, min_id_length=min_id_length)
    result = run([*overrides, f"tracking.uri={tracking_uri}", "blocks.text.progress=false"])
    assert mlflow.get_run(result.run_id).info.status == "FINISHED"
    report = scan_store([tmp_path], ids=ids, texts=texts)
    assert report.findings == [], report.findings[:10]
    assert any(p.endswith(".db") for p in report.scanned)
    assert any(p.endswith("segment_card.md") for p in report.scanned)
    return ids, texts, report


@pytest.mark.slow
def test_synthetic_run_leaks_no_raw_id_or_review(tmp_path, tracking_uri):
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
    tmp_path, tracking_uri, file, overrides, min_id_length
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
