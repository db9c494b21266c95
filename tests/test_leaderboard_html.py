"""The HTML leaderboard in a real browser: Debian's headless Chromium, driven by Playwright,
at a 1,280 px window. Nothing may overflow horizontally, a metric's value and interval never
wrap, and charts are shown at their own size (sized to read at that width). The charts'
texts (tick labels, legends, titles) must not overlap each other.

The leaderboard is built from runs shaped like the reference benchmark's: 13 cells
(5 datasets), 7 algorithms with long names, 3 seeds, ground truth on one dataset, three
sensitive attributes, degenerate density runs, a hyperparameter grid (the ``best config``
column), a failed run with a long error and a superseded run.
"""

import os
import shutil
import tempfile
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from segbench.leaderboard import build_leaderboard, charts, write_leaderboard
from segbench.leaderboard.reruns import split_reruns

CHROMIUM = "/usr/bin/chromium"
#: Launch flags that work in a container without a GPU, sandbox or network.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTH = 1280
CELLS = [
    ("synthetic", "rfm"),
    ("synthetic", "rfm+demographics"),
    ("synthetic", "rfm+text"),
    ("synthetic", "rfm+demographics+text"),
    ("online_retail", "rfm"),
    ("online_retail", "rfm+text"),
    ("marketing_campaign", "rfm"),
    ("marketing_campaign", "demographics"),
    ("marketing_campaign", "rfm+demographics"),
    ("mall_customers", "demographics"),
    ("clothing_reviews", "demographics"),
    ("clothing_reviews", "text"),
    ("clothing_reviews", "demographics+text"),
]
ALGORITHMS = ["kmeans", "minibatch_kmeans", "gmm", "agglomerative", "hdbscan", "dbscan"]
ALGORITHMS += ["fair_kmeans"]


def benchmark_like_runs() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows, t = [], 1_700_000_000_000
    for dataset, features in CELLS:
        for a, algo in enumerate(ALGORITHMS):
            grid = [6, 8] if algo == "kmeans" else [6]
            for k in grid:
                for seed in (1, 2, 3):
                    t += 1000
                    density = algo in ("hdbscan", "dbscan")
                    row = {
                        "run_id": f"{t:032x}",
                        "status": "FINISHED",
                        "start_time": t,
                        "end_time": t + 900,
                        "params.dataset.name": dataset,
                        "params.features": features,
                        "params.algo.name": algo,
                        "params.algo.n_clusters": str(k),
                        "params.seed": str(seed),
                        "tags.segbench.dataset_fingerprint": f"{hash(dataset) % 10**8:08d}",
                        "tags.segbench.version": "0.1.0",
                        "metrics.silhouette": 0.2 + 0.05 * a + rng.normal(0, 0.02),
                        "metrics.davies_bouldin": 1.5 - 0.1 * a + rng.normal(0, 0.05),
                        "metrics.calinski_harabasz": 10 ** (2 + a % 5) * rng.uniform(1, 3),
                        "metrics.stability": float(
                            np.clip(0.5 + 0.06 * a + rng.normal(0, 0.1), 0, 1)
                        ),
                        "metrics.n_segments": float(rng.integers(1, 30) if density else k),
                        "metrics.noise_fraction": float(rng.uniform(0, 0.9) if density else 0),
                        "metrics.fit_seconds": float(rng.uniform(0.05, 40)),
                        "metrics.n_customers": 5000.0,
                    }
                    for attribute in ("gender", "age_band", "region"):
                        row[f"metrics.fairness.{attribute}.balance"] = rng.uniform(0, 1)
                    if dataset == "synthetic":
                        for m in ("ari", "ami", "nmi"):
                            row[f"metrics.{m}"] = 0.4 + 0.07 * a + rng.normal(0, 0.03)
                    rows.append(row)
    failed = dict(rows[0], run_id="f" * 32, status="FAILED", start_time=t + 1000)
    failed["error"] = "DataError: " + "a long error message that goes on and on " * 6
    superseded = dict(rows[1], run_id="e" * 32, start_time=rows[1]["start_time"] - 1)
    return pd.DataFrame([*rows, failed, superseded])


@pytest.fixture(scope="module")
def board():
    runs, superseded = split_reruns(benchmark_like_runs())
    return build_leaderboard(runs, superseded=superseded, title="benchmark-like")


@pytest.fixture(scope="module")
def page_path(board, tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    return write_leaderboard(board, out)["leaderboard.html"]


def chromium_available() -> bool:
    if Path(CHROMIUM).exists():
        return True
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
    return False


MEASURE = """() => {
  const width = document.documentElement.clientWidth;
  const out = {scrollWidth: document.documentElement.scrollWidth, width, sticking: [],
               wrapped: [], squeezed: [], tables: []};
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > width + 0.5) out.sticking.push(el.tagName + '.' + el.className);
  }
  for (const span of document.querySelectorAll('td.m .v, td.m .ci, td.m .r')) {
    if (span.getClientRects().length > 1) out.wrapped.push(span.textContent);
  }
  for (const cell of document.querySelectorAll('td.m')) {
    const value = cell.querySelector('.v'), rank = cell.querySelector('.r');
    if (value && rank && Math.abs(value.getBoundingClientRect().top - rank.getBoundingClientRect().top) > 4)
      out.wrapped.push(cell.textContent);  // the rank fell below its value
  }
  for (const img of document.querySelectorAll('figure img')) {
    if (img.getBoundingClientRect().width + 0.5 < img.naturalWidth) out.squeezed.push(img.id);
  }
  for (const t of document.querySelectorAll('table')) {
    out.tables.push([t.scrollWidth, t.parentElement.clientWidth]);
  }
  return out;
}"""


def test_nothing_overflows_at_1280_px_in_headless_chromium(page_path):
    if not chromium_available():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                args=FLAGS,
                headless=True,
                viewport={"width": WIDTH, "height": 900},
            )
            page = browser.new_page()
            page.goto(page_path.as_uri())
            found = page.evaluate(MEASURE)
            shots = os.environ.get("SEGBENCH_SCREENSHOTS")
            if shots:
                page.screenshot(path=str(Path(shots) / "leaderboard-1280.png"), full_page=True)
            browser.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert found["width"] == WIDTH
    assert found["scrollWidth"] <= WIDTH, found["sticking"][:10]
    assert found["sticking"] == []
    assert found["wrapped"] == []  # a value, its interval or its rank never breaks a line
    assert found["squeezed"] == []  # charts are shown at the size they were drawn for
    assert all(scroll <= room for scroll, room in found["tables"]), found["tables"]
    assert len(found["tables"]) == 13 + 3


def drawn_texts(fig) -> list[Text]:
    """The texts a figure draws: titles, labels, legends, annotations, and the tick labels of
    ticks inside the axes' view (matplotlib keeps labels of ticks outside it, undrawn)."""
    ticks, drawn = set(), []
    for ax in fig.axes:
        for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            low, high = sorted(limits)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                for label in (tick.label1, tick.label2):
                    ticks.add(id(label))
                    inside = low - 1e-9 <= tick.get_loc() <= high + 1e-9
                    if inside and label.get_visible() and label.get_text().strip():
                        drawn.append(label)
    others = [
        t
        for t in fig.findobj(Text)
        if id(t) not in ticks and t.get_visible() and t.get_text().strip()
    ]
    return drawn + others


def overlapping_texts(fig) -> list[tuple[str, str]]:
    """Pairs of drawn texts that overlap, and texts cut by the figure's edge (``(text, "")``)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in drawn_texts(fig)]
    page = fig.bbox
    clashes = [
        (text, "")
        for text, box in boxes
        if box.x0 < page.x0 - 1
        or box.y0 < page.y0 - 1
        or box.x1 > page.x1 + 1
        or box.y1 > page.y1 + 1
    ]
    for (a, box_a), (b, box_b) in combinations(boxes, 2):
        overlap_x = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        overlap_y = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        if overlap_x > 1 and overlap_y > 1:
            clashes.append((a, b))
    return clashes


def small_board():
    """Two cells, three algorithms, one seed, no fairness: the smallest charts."""
    rows = [
        {
            "run_id": f"{i:032x}",
            "status": "FINISHED",
            "start_time": i,
            "params.dataset.name": "d",
            "params.features": features,
            "params.algo.name": algo,
            "params.seed": "1",
            "metrics.silhouette": 0.1 * i,
            "metrics.n_segments": 4.0,
            "metrics.noise_fraction": 0.0,
            "metrics.fairness.gender.balance": 0.5,
        }
        for i, (features, algo) in enumerate(
            [("rfm", "x"), ("rfm", "y"), ("rfm", "z"), ("text", "z"), ("text", "x"), ("text", "y")]
        )
    ]
    return build_leaderboard(pd.DataFrame(rows))


@pytest.mark.parametrize("size", ["benchmark-like", "small"])
@pytest.mark.parametrize("chart", ["forest", "rank_heatmap", "quality_fairness", "critical"])
def test_chart_labels_do_not_collide(board, chart, size):
    board = board if size == "benchmark-like" else small_board()
    if chart == "critical":
        fig = charts.critical_difference(board.comparison)
    else:
        fig = getattr(charts, chart)(board)
    assert fig.get_figwidth() * 100 <= 1248  # drawn for the page's width, shown unscaled
    assert overlapping_texts(fig) == []


def test_the_collision_check_catches_overlapping_labels():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.set_xticks([0, 0.02], ["a long label", "another one"])  # two ticks almost together
    assert ("a long label", "another one") in overlapping_texts(fig)
    ax.set_title("a title far wider than the four inches of this small figure, cut at both ends")
    assert (
        "a title far wider than the four inches of this small figure, cut at both ends",
        "",
    ) in (overlapping_texts(fig))
