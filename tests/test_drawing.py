"""Figures drawn beside the run (segbench.reporting.drawing): the same bytes as drawn in the
run's process, nothing lost when the drawing process fails, nothing left behind."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from segbench.api import run
from segbench.parallel.side_by_side import can_fork
from segbench.reporting.drawing import PATIENCE_SECONDS, Drawer, Sketch
from segbench.reporting.fairness_charts import group_mix_chart
from segbench.reporting.plots import projection_scatter, segment_sizes

pytestmark = pytest.mark.skipif(not can_fork(), reason="the drawing process needs fork")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(300, 3))
LABELS = RNG.integers(0, 4, size=300)
TABLE = pd.DataFrame(
    {
        "segment": [0, 0, 1, 1],
        "group": ["a", "b", "a", "b"],
        "segment_share": [0.25, 0.75, 0.6, 0.4],
        "population_share": [0.4, 0.6, 0.4, 0.6],
    }
)
SKETCHES = {
    "plots/projection.png": Sketch(projection_scatter, (X, LABELS, "t", 0)),
    "plots/segment_sizes.png": Sketch(segment_sizes, (LABELS, "t"), {"names": {0: "zero"}}),
    "plots/fairness_group.png": Sketch(group_mix_chart, (TABLE, "group", "t")),
}


def nothing_to_draw():
    return None


def broken_figure():
    raise ValueError("this figure cannot be drawn")


def drawn_here() -> dict[str, bytes]:
    with Drawer(aside=False) as drawer:
        for path, sketch in SKETCHES.items():
            drawer.submit(path, sketch)
        return dict(drawer.collect())


def test_figures_drawn_aside_are_byte_identical_to_those_drawn_in_the_run():
    expected = drawn_here()
    assert all(data.startswith(b"\x89PNG") for data in expected.values())
    with Drawer() as drawer:
        assert drawer.aside
        for path, sketch in SKETCHES.items():
            drawer.submit(path, sketch)
        drawer.submit("plots/none.png", Sketch(nothing_to_draw))  # left out
        wait_for(lambda: len(list(drawer._folder.glob("*.png"))) == 3)  # drawn by the process
        got = list(drawer.collect())
        assert drawer.aside  # it drew them: the process is still there
    assert [path for path, _ in got] == list(SKETCHES)  # in the order they were sketched
    assert dict(got) == expected
    assert not drawer.aside  # closed with the block


def wait_for(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the drawing process did not draw the figures"
        time.sleep(0.01)


def test_the_run_draws_what_the_process_has_not_started_instead_of_waiting():
    expected = drawn_here()
    with Drawer() as drawer:
        os.kill(drawer._process.pid, signal.SIGSTOP)  # a process that gets no CPU
        try:
            for path, sketch in SKETCHES.items():
                drawer.submit(path, sketch)
            start = time.monotonic()
            assert dict(drawer.collect()) == expected
            assert time.monotonic() - start < PATIENCE_SECONDS  # it waited for none of them
        finally:
            os.kill(drawer._process.pid, signal.SIGCONT)


def test_a_figure_that_fails_raises_in_the_run_and_the_others_are_logged():
    with Drawer() as drawer:
        drawer.submit("plots/segment_sizes.png", SKETCHES["plots/segment_sizes.png"])
        drawer.submit("plots/broken.png", Sketch(broken_figure))
        wait_for(lambda: len(list(drawer._folder.glob("*.failed"))) == 1)  # failed aside
        results = drawer.collect()
        path, data = next(results)
        assert path == "plots/segment_sizes.png" and data.startswith(b"\x89PNG")
        with pytest.raises(ValueError, match="cannot be drawn"):
            next(results)


def test_a_sketch_that_cannot_be_pickled_is_drawn_in_the_run():
    local = Sketch(lambda: segment_sizes(LABELS, "t"))
    with Drawer() as drawer:
        drawer.submit("plots/local.png", local)
        assert dict(drawer.collect()) == {"plots/local.png": local.png()}


def test_when_the_drawing_process_dies_the_run_draws_every_figure_itself():
    expected = drawn_here()
    with Drawer() as drawer:
        os.kill(drawer._process.pid, signal.SIGKILL)
        drawer._process.join(timeout=10)
        for path, sketch in SKETCHES.items():
            drawer.submit(path, sketch)
        assert dict(drawer.collect()) == expected


def running(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie waiting to be reaped has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_the_drawing_process_ends_when_the_run_process_is_killed(tmp_path):
    script = textwrap.dedent(
        """
        import sys, time
        from segbench.reporting.drawing import Drawer
        drawer = Drawer()
        print(drawer._process.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert running(child)
    parent.kill()  # kill -9: nothing of the run's process runs any more
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not running(child):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the drawing process outlived the run's process by 10 s")


def artifacts(uri: str, run_id: str, folder: Path) -> dict[str, bytes]:
    import mlflow

    local = Path(
        mlflow.artifacts.download_artifacts(run_id=run_id, tracking_uri=uri, dst_path=str(folder))
    )
    return {str(p.relative_to(local)): p.read_bytes() for p in local.rglob("*.png")}


def test_a_run_logs_the_same_figures_drawn_aside_as_drawn_in_its_process(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    common = [f"tracking.uri={uri}", "dataset.n_customers=600", "tracking.log_model=false"]
    aside = run([*common, "tracking.draw_aside=true"])
    assert multiprocessing.active_children() == []  # the drawing process ended with the run
    here = run([*common, "tracking.draw_aside=false"])
    drawn_aside = artifacts(uri, aside.run_id, tmp_path / "aside")
    drawn_here = artifacts(uri, here.run_id, tmp_path / "here")
    assert {
        "plots/projection.png",
        "plots/segment_sizes.png",
        "plots/silhouette.png",
        "plots/profile_heatmap.png",
        "k_selection/k_choice.png",
    } <= set(drawn_aside)
    assert any(p.startswith("plots/fairness_") for p in drawn_aside)
    assert drawn_aside == drawn_here


def test_a_run_that_fails_after_its_figures_were_sketched_leaves_no_drawing_process(
    tmp_path, monkeypatch
):
    import segbench.experiment as experiment

    def failing(*args, **kwargs):
        raise RuntimeError("the store is full")

    monkeypatch.setattr(experiment, "log_outputs", failing)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with pytest.raises(RuntimeError, match="store is full"):
        run([f"tracking.uri={uri}", "dataset.n_customers=600"])
    assert multiprocessing.active_children() == []
    (failed,) = MlflowClient(uri).search_runs(["1"])
    assert failed.info.status == "FAILED"
