"""The seed-study preset on the shared Online Retail file: quarters, migration, drift, online."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from datapaths import RETAIL, data_file
from test_segment_identity import check_one_identity, figures  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def test_seed_study_preset_on_online_retail(tracking_uri, figures):  # noqa: F811
    from segbench.api import run

    data_file(RETAIL)  # skips, naming SEGBENCH_DATA_DIR, when the shared data is absent
    result = run(
        [
            "experiment=online_retail_rfm_kmeans",
            f"tracking.uri={tracking_uri}",
            "analysis.k_selection.k_max=6",
            "evaluation.stability.enabled=false",
        ]
    )
    stored = MlflowClient(tracking_uri).get_run(result.run_id).data
    m, tags = stored.metrics, stored.tags
    assert m["n_customers"] == 4324 and m["n_segments"] == 5
    # quarters 2010Q4 (December only) .. 2011Q4 (to 9 December)
    assert m["temporal.windows"] == 5
    assert tags["segbench.temporal.drift"]  # 'none' or the flagged quarters
    assert 0 <= m["temporal.stability"] <= 1
    assert m["temporal.online.batches"] == 11  # 13 months, 3 of them warm-up before the first
    assert m["temporal.online.update_seconds_mean"] > 0 and m["temporal.online.refit_seconds"] > 0
    assert tags["segbench.predictive.cutoff"] == "2011-09-11"
    assert m["k_selection.elbow_k"] >= 2
    local = mlflow.artifacts.download_artifacts(run_id=result.run_id, tracking_uri=tracking_uri)
    for path in (
        "k_selection/k_choice.png",
        "temporal/migration.png",
        "temporal/shares.png",
        "personalisation/top_products.csv",
        "personalisation/recommendations.md",
    ):
        assert (Path(local) / path).is_file(), path
    top = pd.read_csv(f"{local}/personalisation/top_products.csv")
    assert set(top["by"]) == {"quantity", "revenue"} and top["segment"].nunique() == 5
    affinity = pd.read_csv(f"{local}/personalisation/product_affinity.csv")
    assert (affinity["lift"] > 1).any() and (affinity["buyers"] >= 10).all()  # k = 10
    migration = pd.read_csv(f"{local}/temporal/migration.csv")
    assert migration["from_window"].nunique() == 4
    card = (Path(local) / "segment_card.md").read_text()
    assert "What to offer" in card
    # one story: the card, profiles, offers, windows and every plot name the run's segments
    # alike (the preset once called segments 1/2/4 lost/champions/at risk on the card and
    # champions/hibernating/lost in its temporal artifacts)
    names = check_one_identity(Path(local), figures)
    assert sorted(n.split(" (")[0] for n in names.values()) == sorted(
        ["new customers", "lost", "champions", "champions", "at risk"]
    )
    # the Sankey page is small and holds no number a raw customer id could be mistaken for
    from segbench.tracking.privacy_scan import scan_store

    sankey = Path(local) / "temporal/migration_sankey.html"
    assert sankey.stat().st_size < 200_000
    ids = [str(i) for i in range(12_346, 18_288)]
    assert scan_store([sankey], ids=ids, known_files=set()).findings == []
