"""FCPS peer validation (``python -m segbench.peer``, preset ``experiment=fcps_peer``):
segbench's k-means, GMM and Ward on the FCPS battery agree with the published partitions.

``tests/test_numeric_data.py`` checks k-means on four datasets through ``dataset=clustbench``;
this runs the peer command over the whole battery and all three published methods, and checks
its table: the ARI of the published partition is computed as the benchmark computes it
(reference label 0 left out) and segbench's ARI agrees within 0.01 wherever the settings match.
The data is read through ``SEGBENCH_DATA_DIR``.
"""

from __future__ import annotations

import pandas as pd
import pytest

from datapaths import data_file
from segbench.peer import METHODS, battery, main, published_ari

#: Where the settings match but the result does not, and why (checked, not skipped): GMM on
#: target lands in another optimum than the published run (the published ARI 0.648, segbench
#: 0.659 with the same n_init=100 and random_state=123: scikit-learn's random stream and
#: k-means initialisation differ between its versions).
DIFFERENT = {("target", "sklearn_gm"): 0.02}


def folder():
    return data_file("clustbench/README.md").parent


@pytest.mark.realdata
def test_the_published_ari_is_the_benchmarks(tmp_path):
    """Hand-checked: hepta is solved by every method; lsun's Ward partition has ARI 0.3688."""
    data = {d.name: d for d in battery(folder(), ["hepta", "lsun"])}
    assert data["hepta"].k == 7 and data["lsun"].k == 3
    for method in METHODS:
        assert published_ari(folder(), method, data["hepta"]) == pytest.approx(1.0)
    assert published_ari(folder(), "fastcluster_ward", data["lsun"]) == pytest.approx(
        0.3688, abs=1e-4
    )


@pytest.mark.realdata
@pytest.mark.slow
def test_segbench_agrees_with_the_published_partitions(tmp_path):
    out = tmp_path / "peer"
    status = main(["--out", str(out), f"tracking.uri=sqlite:///{tmp_path / 'm.db'}"])
    table = pd.read_csv(out / "peer.csv")
    assert len(table) == 9 * 3 and set(table["method"]) == set(METHODS)
    assert (table["labelled"] == table["n"]).all()  # labels0 of FCPS marks no point 0
    for row in table.itertuples():
        tolerance = DIFFERENT.get((row.dataset, row.method), 0.01)
        assert abs(row.segbench_ari - row.published_ari) <= tolerance, row
        assert row.agrees == (abs(row.difference) <= 0.01)
    expected = 0 if table["agrees"].all() else 1
    assert status == expected
    page = (out / "peer.md").read_text()
    assert f"**{int(table['agrees'].sum())} of 27 rows agree within 0.01**" in page


def test_a_missing_battery_is_one_paragraph(tmp_path, capsys):
    assert main(["--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("segbench.peer: error: --data ")
    assert "expected the FCPS battery" in err and "Traceback" not in err
    assert main(["--methods", "sklearn_dbscan", "--data", str(tmp_path)]) == 2
    assert "expected some of" in capsys.readouterr().err
