"""Numeric data without pretending: the ``numeric`` block, the clustbench matrix dataset on the
FCPS battery, the benchmark's ``common`` scaling, and partial or noise-labelled ground truth."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from badinputs import QUICK, Files, cust_overrides
from datapaths import data_file
from segbench.api import run, settings
from segbench.data import CustomerData, DatasetMeta
from segbench.data.pseudonyms import KEY_ENV, pseudonymise_ids
from segbench.datasets import load_dataset
from segbench.errors import ConfigError, DataError
from segbench.features import build_block
from segbench.features.numeric import NumericBlock

FCPS = {  # name: (rows, columns, K) from the battery's README
    "atom": (800, 3, 2),
    "chainlink": (1000, 3, 2),
    "engytime": (4096, 2, 2),
    "hepta": (212, 3, 7),
    "lsun": (400, 2, 3),
    "target": (770, 2, 6),
    "tetra": (400, 3, 4),
    "twodiamonds": (800, 2, 2),
    "wingnut": (1016, 2, 2),
}


KEY = "numeric-tests"


@pytest.fixture(autouse=True)
def known_key(monkeypatch):
    """A known pseudonym key, so rows can be found by their raw id (the row number)."""
    monkeypatch.setenv(KEY_ENV, KEY)


def by_row(values: pd.DataFrame | pd.Series, n: int) -> pd.DataFrame | pd.Series:
    """``values`` (indexed by pseudonym) in the order of the file's rows 1..n."""
    return values.reindex(pseudonymise_ids(pd.Index([str(i + 1) for i in range(n)]), KEY.encode()))


def fcps(name: str) -> Path:
    return data_file(f"clustbench/fcps/{name}.data.gz")


def clustbench(path: Path, *more: str) -> list[str]:
    return ["dataset=clustbench", f"dataset.path={path}", "features=numeric", *more]


@pytest.fixture
def toy() -> CustomerData:
    ids = pd.Index([f"c{i}" for i in range(6)], name="customer_id")
    customers = pd.DataFrame(
        {
            "x1": [0.0, 1, 2, 10, 11, 12],
            "x2": [5.0, np.nan, 5, 9, 9, 9],
            "spend_total": [1.0, 2, 3, 4, 5, 6],
            "age": [30.0, 31, 32, 60, 61, 62],
            "kind": list("aabbcc"),
        },
        index=ids,
    )
    sensitive = pd.DataFrame({"age": customers["age"]}, index=ids)
    return CustomerData(customers, DatasetMeta("toy"), sensitive=sensitive)


# --- the numeric block --------------------------------------------------------------------


def test_numeric_block_takes_every_numeric_column_a_list_or_a_pattern(toy, caplog):
    with caplog.at_level("WARNING"):
        every = NumericBlock().fit_transform(toy)
    assert every.columns.tolist() == ["x1", "x2", "spend_total"]  # text and sensitive left out
    assert every.loc["c1", "x2"] == 9.0  # the median of 5, 5, 9, 9, 9, said on the console
    assert "set 1 missing values to the column median (x2: 1)" in caplog.text
    assert NumericBlock(columns=["x2", "x1"]).fit_transform(toy).columns.tolist() == ["x2", "x1"]
    assert NumericBlock(pattern=r"x\d").fit_transform(toy).columns.tolist() == ["x1", "x2"]
    assert "age" in NumericBlock(include_sensitive=True).fit_transform(toy).columns


def test_numeric_block_says_what_it_cannot_use(toy):
    with pytest.raises(DataError, match=r"columns \['nope'\] named by blocks.numeric.columns"):
        NumericBlock(columns=["nope"]).fit(toy)
    with pytest.raises(DataError, match=r"numeric values in the columns \['kind'\]"):
        NumericBlock(columns=["kind"]).fit(toy)
    with pytest.raises(DataError, match=r"matching blocks.numeric.pattern='y.\*'"):
        NumericBlock(pattern="y.*").fit(toy)
    with pytest.raises(DataError, match="all sensitive attributes"):
        NumericBlock(columns=["age"]).fit(toy)
    toy.customers.loc["c2", "x1"] = np.inf
    with pytest.raises(DataError, match=r"\['x1'\] hold infinite values"):
        NumericBlock().fit(toy)
    for params, message in [
        ({"pattern": "x[", "columns": None}, "not a regular expression"),
        ({"columns": ["x1"], "pattern": "x.*"}, "give one of them"),
        ({"columns": []}, "empty list"),
        ({"weight": -1}, "weight"),
    ]:
        with pytest.raises(ConfigError, match=message):
            build_block("numeric", {"_target_": "segbench.features.numeric.NumericBlock", **params})


def test_numeric_block_on_a_customer_table(tmp_path):
    files = Files(tmp_path)
    overrides = [
        *cust_overrides(files.customers()),
        "features=numeric",
        f"tracking.uri=sqlite:///{tmp_path}/m.db",
    ]
    result = run([*QUICK, *overrides, "blocks.numeric.pattern='(age|income)'"])
    assert result.features.columns == ["numeric.age", "numeric.income"]


# --- the clustbench matrix dataset --------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(FCPS))
def test_every_fcps_file_is_read_with_its_reference_labels(name):
    rows, columns, k = FCPS[name]
    data = load_dataset(settings(clustbench(fcps(name))).dataset)
    assert data.name == f"clustbench.{name}"
    assert data.customers.shape == (rows, columns)
    assert list(data.customers.columns) == [f"x{j + 1}" for j in range(columns)]
    assert data.labels.nunique() == k and data.labels.notna().all()
    raw = np.loadtxt(fcps(name))
    # customer i is row i of the file (its id, pseudonymised)
    np.testing.assert_allclose(by_row(data.customers, rows).to_numpy(), raw.reshape(rows, columns))
    reference = pd.read_csv(fcps(name).with_name(f"{name}.labels0.gz"), header=None)[0]
    assert by_row(data.labels, rows).tolist() == reference.astype(str).tolist()


@pytest.mark.realdata
def test_a_labels_file_can_be_named_or_left_out():
    hepta = fcps("hepta")
    named = load_dataset(settings(clustbench(hepta, "dataset.labels=hepta.labels0.gz")).dataset)
    assert named.labels.nunique() == 7
    none = load_dataset(settings(clustbench(hepta, "dataset.labels=null")).dataset)
    assert none.labels is None
    engytime = load_dataset(
        settings(clustbench(fcps("engytime"), "dataset.labels=engytime.labels1.gz")).dataset
    )
    assert engytime.labels.notna().all()


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "k"), [("hepta", 7), ("lsun", 3), ("target", 6), ("wingnut", 2)])
def test_kmeans_on_fcps_gives_the_published_agreement(name, k, tmp_path):
    """segbench's k-means with the benchmark's scaling reproduces the published partition's
    ARI against the reference labels (results/sklearn_kmeans, random_state=123)."""
    result = run(
        [
            *QUICK,
            *clustbench(fcps(name), f"algo.n_clusters={k}", "algo.random_state=123"),
            "preprocess.scaler=common",
            "preprocess.block_weighting=false",
            f"tracking.uri=sqlite:///{tmp_path}/m.db",
        ]
    )
    folder = fcps(name).parent.parent
    reference = pd.read_csv(folder / "fcps" / f"{name}.labels0.gz", header=None)[0].to_numpy()
    published = pd.read_csv(
        folder / "results" / "sklearn_kmeans" / "fcps" / f"{name}.result{k}.gz",
        header=None,
        skiprows=1,
    )[0].to_numpy()
    expected = adjusted_rand_score(reference[reference != 0], published[reference != 0])
    assert result.metrics["ari"] == pytest.approx(expected, abs=0.01)
    assert result.metrics["labelled_customers"] == FCPS[name][0]


def write_gz(path: Path, text: str) -> Path:
    path.write_bytes(gzip.compress(text.encode()))
    return path


@pytest.mark.parametrize(
    ("data", "labels", "message"),
    [
        ("1 2\n3 4\n", "1\n2\n3\n", "expected one label per line for the 2 rows"),
        ("1 2\n3 x\n", None, "line 2, column 2 holds 'x'"),
        ("1 2\n3 4 5\n", None, "rows of different lengths"),
        ("1 2\n3 inf\n", None, "column 2' holds infinite values"),
        ("", None, "is empty"),
    ],
)
def test_a_bad_matrix_is_named_by_line(tmp_path, data, labels, message):
    path = write_gz(tmp_path / "m.data.gz", data)
    if labels is not None:
        write_gz(tmp_path / "m.labels0.gz", labels)
    with pytest.raises(DataError, match=message):
        load_dataset(settings(clustbench(path, "dataset.cache=false")).dataset)


# --- partial and noise-labelled ground truth ----------------------------------------------


@pytest.mark.realdata
def test_the_noise_label_is_scored_as_the_clustbench_benchmark_does(tmp_path):
    """Points labelled 0 are left out; ARI on the others (the benchmark's rule)."""
    folder = tmp_path / "battery"
    folder.mkdir()
    shutil.copy(fcps("lsun"), folder / "lsun.data.gz")
    reference = pd.read_csv(fcps("lsun").with_name("lsun.labels0.gz"), header=None)[0].to_numpy()
    noisy = reference.copy()
    noisy[::5] = 0  # every fifth point made noise/unlabelled
    write_gz(folder / "lsun.labels0.gz", "\n".join(map(str, noisy)) + "\n")
    overrides = [
        *QUICK,
        *clustbench(folder / "lsun.data.gz", "algo.n_clusters=3"),
        f"tracking.uri=sqlite:///{tmp_path}/m.db",
    ]
    scored = run(overrides)
    found = by_row(scored.labels, 400).to_numpy()
    keep = noisy != 0
    assert scored.metrics["labelled_customers"] == keep.sum() == 320
    assert scored.metrics["ari"] == pytest.approx(adjusted_rand_score(noisy[keep], found[keep]))
    assert "80 unlabelled or noise" in scored.notes["external_indices"]
    # without the setting, 0 is a class of its own: another number
    counted = run([*overrides, "dataset.noise_label=null"])
    assert counted.metrics["labelled_customers"] == 400
    assert counted.metrics["ari"] == pytest.approx(adjusted_rand_score(noisy, found))
    assert counted.metrics["ari"] != pytest.approx(scored.metrics["ari"])


def test_labels_with_empty_cells_score_the_labelled_customers(tmp_path):
    from mlflow.tracking import MlflowClient

    files = Files(tmp_path)
    path = files.customers_with(
        "partial.csv", lambda c: c.assign(seg=c["seg"].where(c.index % 4 != 0))
    )
    uri = f"sqlite:///{tmp_path}/m.db"
    result = run([*QUICK, *cust_overrides(path, "dataset.label_column=seg"), f"tracking.uri={uri}"])
    recorded = MlflowClient(uri).get_run(result.run_id)
    assert recorded.info.status == "FINISHED"
    assert recorded.data.metrics["labelled_customers"] == 90
    assert recorded.data.tags["segbench.external_indices"].startswith("computed on the 90 of 120")
    truth = pd.read_csv(path, dtype=str).set_index("cust")["seg"]
    truth.index = pseudonymise_ids(truth.index, KEY.encode())
    found = result.labels.reindex(truth.index)
    keep = truth.notna().to_numpy()
    expected = adjusted_rand_score(truth[keep], found[keep])
    assert recorded.data.metrics["ari"] == pytest.approx(expected)
