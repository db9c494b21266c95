"""Acceptance: the synthetic data is realistic and recoverable, and the README's first command
gives a credible result from a cold start in the time budget."""

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from cli_helpers import all_runs
from segbench.api import run
from segbench.datasets.synthetic import DISTINCT_REVIEWS

pytestmark = pytest.mark.slow

#: The README's promise for ``python -m segbench algo=gmm features=rfm+text``, empty caches.
COLD_BUDGET_SECONDS = 30.0
#: Allowance for a shared machine (see the test below): ``SEGBENCH_TIME_FACTOR``, default 2.
TIME_FACTOR = float(os.environ.get("SEGBENCH_TIME_FACTOR", "2"))


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


def test_the_first_command_is_credible_from_a_cold_start(tmp_path: Path):
    """``python -m segbench algo=gmm features=rfm+text`` with empty caches, as a newcomer runs
    it: ARI >= 0.8, and its cost within the budget.

    Time is an acceptance bound here, not a benchmark. Every library runs on one thread
    (``OMP_NUM_THREADS=1``), so on a free core the CPU time (user + system) of the process is
    its wall time; on a shared machine the CPU time barely moves while the wall time grows
    with the load. The test asserts the CPU time of the whole process (imports, model load,
    embedding every review text, the run) against the budget times ``SEGBENCH_TIME_FACTOR``
    (default 2: what contention for caches and memory can add to CPU time on a loaded 2-core
    machine); it prints both times. Measure the budget itself on a quiet machine.
    """
    env = dict(
        os.environ,
        SEGBENCH_CACHE_DIR=str(tmp_path / "cache"),  # empty: nothing embedded yet
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
    )
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = [sys.executable, "-m", "segbench", "algo=gmm", "features=rfm+text"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    tic = time.perf_counter()
    done = subprocess.run(
        [*command, f"tracking.uri={store}", "blocks.text.progress=false"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    wall = time.perf_counter() - tic
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert done.returncode == 0, done.stderr[-3000:]

    (record,) = all_runs(MlflowClient(store))
    metrics = record.data.metrics
    assert metrics["text.embeddings_cached"] == 0  # a cold start indeed
    assert metrics["text.embeddings_computed"] == DISTINCT_REVIEWS
    assert metrics["ari"] >= 0.8, metrics["ari"]
    print(f"cold run: CPU {cpu:.1f} s, wall {wall:.1f} s, run {metrics['wall_seconds']:.1f} s")
    assert cpu < COLD_BUDGET_SECONDS * TIME_FACTOR, (
        f"cold run took {cpu:.1f} s of CPU ({wall:.1f} s wall); budget "
        f"{COLD_BUDGET_SECONDS:.0f} s × factor {TIME_FACTOR:g}"
    )
