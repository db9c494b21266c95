"""The synthetic data is realistic, not trivially separable, and recoverable with all blocks."""

import pytest

from segbench.api import run

pytestmark = pytest.mark.slow


def test_best_of_kmeans_and_gmm_on_all_blocks_recovers_the_planted_segments(tracking_uri):
    ari = {}
    for algo in ("kmeans", "gmm"):
        result = run(
            [
                f"algo={algo}",
                "features=rfm+demographics+text",
                f"tracking.uri={tracking_uri}",
                "blocks.text.progress=false",
                "tracking.log_model=false",
                "tracking.log_plots=false",
            ]
        )
        ari[algo] = result.metrics["ari"]
    assert max(ari.values()) >= 0.8, ari
