"""Surrogate rules, distinguishing features, k-anonymised profiles and the segment card."""

from __future__ import annotations

import itertools
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from segbench.api import run
from segbench.reporting.card import SegmentCard, profile_section
from segbench.reporting.distinguishing import distinguishing_features
from segbench.reporting.profiles import segment_profiles
from segbench.reporting.surrogate import _simplify, fit_surrogate

TOY = ["dataset._target_=toydata.ToyDataset", "dataset.name=toy", "dataset.n_customers=300"]
# the analyses after the segmentation are not what these tests are about; keep the runs short
LEAN = [
    "evaluation.stability.enabled=false",
    "analysis.predictive.enabled=false",
    "analysis.personalisation.enabled=false",
    "analysis.assign.enabled=false",
    "tracking.log_model=false",
]


def planted(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Segment = 2·(region is North) + (recency > 100): a depth-2 tree recovers it."""
    rng = np.random.default_rng(seed)
    recency = rng.uniform(0, 200, n)
    north = rng.random(n) < 0.5
    profile = pd.DataFrame(
        {
            "recency": recency,
            "region=North": north.astype(float),
            "monetary": rng.gamma(2, 50, n),
        }
    )
    labels = 2 * north + (recency > 100)
    return profile, labels.astype(int)


def test_surrogate_recovers_planted_rules_with_full_fidelity():
    profile, labels = planted()
    surrogate = fit_surrogate(profile, labels, max_depth=2, min_samples_leaf=10)
    assert surrogate.fidelity == 1.0 and surrogate.fidelity_cv > 0.99  # threshold varies by fold
    assert set(surrogate.rules) == {0, 1, 2, 3}
    (rule,) = surrogate.rules[3]
    assert rule.precision == 1.0 and rule.coverage == 1.0 and rule.support == (labels == 3).sum()
    assert "region = North" in rule.conditions
    assert any(
        c.startswith("recency > 99") or c.startswith("recency > 100") for c in rule.conditions
    )
    (rule0,) = surrogate.rules[0]
    assert "region ≠ North" in rule0.conditions
    text = surrogate.rules_markdown()
    assert "## Segment 3" in text and "IF region = North AND recency >" in text


def test_surrogate_leaves_hold_at_least_k_customers():
    profile, labels = planted(300)
    surrogate = fit_surrogate(profile, labels, max_depth=6, min_samples_leaf=25)
    leaves = surrogate.tree.apply(profile.to_numpy())
    assert np.bincount(leaves)[np.unique(leaves)].min() >= 25
    assert all(r.support >= 25 for rules in surrogate.rules.values() for r in rules)


def test_surrogate_without_readable_columns_is_skipped():
    assert fit_surrogate(pd.DataFrame(index=range(5)), np.zeros(5)) is None


def test_conditions_on_one_column_merge_into_a_range():
    path = [("recency", ">", 30.0), ("monetary", "<=", 5000.0), ("recency", "<=", 120.5)]
    assert _simplify(path, set()) == ["30 < recency ≤ 120.5", "monetary ≤ 5,000"]
    assert _simplify([("vip", ">", 0.5)], {"vip"}) == ["vip = 1"]


def test_distinguishing_features_by_hand():
    profile = pd.DataFrame({"spend": [10.0, 10, 10, 10, 50, 50], "vip": [0.0, 0, 0, 1, 1, 1]})
    labels = np.array([0, 0, 0, 0, 1, 1])
    out = distinguishing_features(profile, labels, top=2)
    # spend: overall mean 70/3, sd (ddof 0) 18.856; segment 1 mean 50 -> d = 1.414
    top = out[1].iloc[0]
    assert top["feature"] == "spend" and top["effect"] == pytest.approx(
        (50 - 70 / 3) / np.std(profile.spend)
    )
    assert out[0].iloc[0]["effect"] < 0
    # k-anonymity: segment 1 (2 customers) is suppressed; the vip level held by 1 customer of
    # segment 0 is skipped
    anonymous = distinguishing_features(profile, labels, top=2, min_cell_size=3)
    assert anonymous[1].empty
    assert "vip" not in set(anonymous[0]["feature"])


def test_profiles_suppress_cells_about_fewer_than_k_customers():
    profile = pd.DataFrame(
        {
            "monetary": np.arange(12, dtype=float),
            "region=North": [1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0],
        }
    )
    labels = np.array([0] * 5 + [1] * 5 + [2] * 2)
    plain = segment_profiles(labels, profile)
    assert "small_segment" not in plain.columns and plain["mean_monetary"].notna().all()
    table = segment_profiles(labels, profile, min_cell_size=3)
    assert table["small_segment"].tolist() == [False, False, True]
    assert table.loc[2, ["mean_monetary", "mean_region=North", "revenue_share"]].isna().all()
    assert table.loc[2, "size"] == 2  # the size itself is shown (and flagged)
    # segment 0: one customer in the North -> that share would count 1 customer
    assert np.isnan(table.loc[0, "mean_region=North"])
    assert table.loc[1, "mean_region=North"] == 1.0  # 5 customers: kept
    assert "suppressed" in profile_section(table)[2]


def test_card_is_extensible():
    card = SegmentCard("kmeans · rfm · toy", sizes={0: 30, 1: 70, -1: 5}, summary=["a summary"])
    card.add_section("Profile", {0: "recency 10", 1: "recency 200"})
    card.add_section("Offer", {0: "voucher", 1: "win-back"})
    card.add_section("Name rule", {0: "recent and frequent"}, position=0)
    card.set_names({0: "champions", 1: "lost"})
    card.add_flag(1, "privacy: something")
    text = card.to_markdown()
    assert (
        text.index("a summary")
        < text.index("### noise (no segment)")
        < text.index("### Segment 0 — champions")
    )
    section_zero = text[text.index("### Segment 0") : text.index("### Segment 1")]
    assert (
        section_zero.index("Name rule")
        < section_zero.index("Profile")
        < section_zero.index("Offer")
    )
    assert "**Size:** 30 customers (28.6%)" in section_zero and "**Flags:** none" in section_zero
    assert "privacy: something" in text[text.index("### Segment 1") :]


def download(tracking_uri: str, run_id: str) -> Path:
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, tracking_uri=tracking_uri))


def test_a_run_logs_the_card_rules_group_tables_and_proxy_audit(tracking_uri):
    result = run(
        [
            *TOY,
            f"tracking.uri={tracking_uri}",
            "algo.n_clusters=3",
            "features=rfm+demographics",
            *LEAN,
        ]
    )
    stored = MlflowClient(tracking_uri).get_run(result.run_id)
    metrics, tags = stored.data.metrics, stored.data.tags
    for name in (
        "fairness.gender.balance",
        "fairness.gender.dp_difference",
        "fairness.gender.silhouette_gap",
        "fairness.gender.distribution_distance",
        "proxy.gender.score",
        "proxy.gender.chance",
        "surrogate.fidelity",
        "surrogate.fidelity_cv",
        "privacy.small_segments",
    ):
        assert name in metrics, name
    # toy segments are three well-separated groups; gender is random
    assert metrics["surrogate.fidelity"] > 0.9
    assert metrics["proxy.gender.score"] < 0.65 and metrics["proxy.gender.chance"] == 0.5
    assert tags["segbench.small_segments"] == "none" and tags["segbench.min_cell_size"] == "10"
    assert tags["segbench.fairness_attributes"] == "gender"
    local = download(tracking_uri, result.run_id)
    card = (local / "segment_card.md").read_text()
    for needle in (
        "### Segment 0",
        "**Rules (surrogate tree)**",
        "IF ",
        "**Most distinguishing features**",
        "**Group composition**",
        "| female |",
        "| gender |",
        "small-cell suppression at 10 customers",
    ):
        assert needle in card, needle
    groups = pd.read_csv(local / "fairness" / "segment_groups.csv")
    assert set(groups.columns) >= {
        "attribute",
        "segment",
        "group",
        "count",
        "segment_share",
        "representation",
    }
    assert groups["count"].sum() == 300
    proxy = pd.read_csv(local / "fairness" / "proxy_importance.csv")
    assert set(proxy["feature"]) == set(result.features.columns)
    assert (local / "plots" / "fairness_gender.png").stat().st_size > 1000
    assert "Fidelity" in (local / "transparency" / "surrogate_rules.md").read_text()


def test_small_segments_are_flagged_and_suppressed(tracking_uri):
    # k above every segment's size: every segment is "small"
    result = run(
        [
            *TOY,
            f"tracking.uri={tracking_uri}",
            "algo.n_clusters=3",
            "features=rfm",
            "privacy.min_cell_size=150",
            *LEAN,
        ]
    )
    stored = MlflowClient(tracking_uri).get_run(result.run_id)
    assert stored.data.tags["segbench.small_segments"] == "0,1,2"
    assert stored.data.metrics["privacy.small_segments"] == 3
    local = download(tracking_uri, result.run_id)
    profiles = pd.read_csv(local / "profiles" / "segment_profiles.csv")
    assert profiles["small_segment"].all() and profiles["mean_monetary"].isna().all()
    groups = pd.read_csv(local / "fairness" / "segment_groups.csv")
    assert groups["count"].isna().all() and groups["suppressed"].all()
    card = (local / "segment_card.md").read_text()
    assert card.count("privacy: fewer than 150 customers") == 3
    # distinguishing features of segments under k are suppressed too
    assert "suppressed or no readable features" in card


def test_fairness_none_turns_the_audit_off(tracking_uri):
    result = run(
        [*TOY, f"tracking.uri={tracking_uri}", "algo.n_clusters=3", "fairness=none", *LEAN]
    )
    stored = MlflowClient(tracking_uri).get_run(result.run_id)
    assert not any(k.startswith(("fairness.", "proxy.")) for k in stored.data.metrics)
    assert "surrogate.fidelity" in stored.data.metrics
    assert stored.data.tags["segbench.fairness_attributes"] == "none"


def test_group_composition_shows_the_largest_groups_and_hides_small_cells():
    from segbench.fairness.metrics import group_table
    from segbench.reporting.card import group_section

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 600)
    shares = np.r_[[0.3, 0.2, 0.1], [0.4 / 13] * 13]
    groups = rng.choice(list("abcdefghijklmnop"), 600, p=shares)
    table = group_table(labels, groups, min_cell_size=10)
    section = group_section({"country": table}, max_groups=3)[0]
    shown = [line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| ")]
    assert shown[1:] == ["a", "b", "c"]  # after the header row
    assert "13 smaller country groups: see `fairness/segment_groups.csv`." in section
    small = group_section({"country": table}, max_groups=20)[0]
    hidden = table[(table.segment == 0) & table["suppressed"]]
    assert small.count("| suppressed |") == len(hidden) > 0


def test_the_group_mix_chart_draws_each_rows_shares_and_the_suppressed_rest():
    import matplotlib.pyplot as plt

    from segbench.fairness.metrics import group_table
    from segbench.reporting.fairness_charts import group_mix_chart

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 600)
    groups = rng.choice(list("abcd"), 600, p=[0.5, 0.3, 0.18, 0.02])  # "d": small cells
    table = group_table(labels, groups, min_cell_size=10)
    fig = group_mix_chart(table, "country", "t")
    bars = [p for p in fig.axes[0].patches if p.get_width() > 0]
    rows: dict[float, list] = {}
    for bar in bars:
        rows.setdefault(round(bar.get_y() + bar.get_height() / 2, 6), []).append(bar)
    assert len(rows) == 1 + 3  # the population, then each segment
    population = table.drop_duplicates("group").set_index("group")["population_share"]
    first = sorted(rows[0.0], key=lambda b: b.get_x())
    widths = [b.get_width() for b in first]
    np.testing.assert_allclose(widths, population.reindex(list("abcd")).to_numpy())
    for row in rows.values():  # each row fills the bar, abutting, suppressed cells hatched
        row = sorted(row, key=lambda b: b.get_x())
        np.testing.assert_allclose(sum(b.get_width() for b in row), 1.0)
        for a, b in itertools.pairwise(row):
            assert b.get_x() == pytest.approx(a.get_x() + a.get_width())
    hatched = [b for b in bars if b.get_hatch() == "//"]
    assert hatched and table["suppressed"].any()
    plt.close(fig)


class RecordingRun:
    """Stands in for a RunTracker: keeps what would be logged."""

    def __init__(self) -> None:
        self.logged: dict[str, object] = {}

    def metrics(self, values):
        self.logged.update(values)

    def tags(self, values):
        self.logged.update(values)

    def table(self, frame, path, index=True):
        self.logged[path] = frame

    def text(self, text, path):
        self.logged[path] = text

    def figure(self, fig, path):
        from segbench.reporting.drawing import Sketch, pyplot

        if isinstance(fig, Sketch):
            fig = fig.draw(*fig.args, **fig.kwargs)
        self.logged[path] = fig
        pyplot().close(fig)


def test_later_stages_can_extend_the_logged_card():
    from segbench.algorithms import fit_segmentation
    from segbench.api import settings
    from segbench.datasets import load_dataset
    from segbench.features import build_pipeline
    from segbench.reporting.responsibility import audit_segmentation
    from segbench.tracking.outputs import log_responsibility

    cfg = settings([*TOY, "algo.n_clusters=3", "features=rfm+demographics"])
    data = load_dataset(cfg.dataset)
    features = build_pipeline(cfg.features, cfg.blocks, cfg.preprocess).fit_transform(data)
    seg = fit_segmentation(cfg.algo, features.X)
    profiles = segment_profiles(seg.labels, features.profile, 10)

    def names_and_offers(card: SegmentCard) -> None:
        card.set_names({0: "first", 1: "second", 2: "third"})
        card.add_section("Offer", {0: "voucher", 1: "bundle", 2: "win-back"})

    fake = RecordingRun()
    report = audit_segmentation(
        cfg.fairness, data, features, seg.labels, profiles, min_cell_size=10, title="toy"
    )
    log_responsibility(fake, report, data.name, extend_card=names_and_offers)
    card = fake.logged["segment_card.md"]
    assert "### Segment 0 — first" in card and "**Offer**\n\nwin-back" in card
    assert report.metrics["surrogate.fidelity"] == fake.logged["surrogate.fidelity"]
    assert {"fairness/segment_groups.csv", "plots/fairness_gender.png"} <= set(fake.logged)


def test_surrogate_above_its_sample_size_fits_a_sample_and_counts_everyone():
    from segbench.reporting.surrogate import fit_surrogate

    rng = np.random.default_rng(0)
    profile = pd.DataFrame({"recency": rng.uniform(0, 400, 5000), "spend": rng.gamma(2, 50, 5000)})
    labels = (profile["recency"] > 200).to_numpy().astype(int) + 2 * (profile["spend"] > 150)
    whole = fit_surrogate(profile, labels, max_depth=2, min_samples_leaf=10, seed=1)
    same = fit_surrogate(profile, labels, max_depth=2, min_samples_leaf=10, seed=1,
                         sample_size=5000)  # fmt: skip
    assert same.rules_markdown() == whole.rules_markdown() and same.fidelity == whole.fidelity
    sampled = fit_surrogate(profile, labels, max_depth=2, min_samples_leaf=10, seed=1,
                            sample_size=500)  # fmt: skip
    rules = [r for segment in sampled.rules.values() for r in segment]
    assert sum(r.support for r in rules) == 5000  # every customer is counted, not the sample
    assert sampled.tree.tree_.n_node_samples[0] == 500  # the tree saw the sample only
    agree = (sampled.tree.predict(profile.to_numpy(dtype=float)) == labels).mean()
    assert sampled.fidelity == pytest.approx(agree) and sampled.fidelity > 0.9


def test_binary_columns_are_found_in_place_as_by_their_distinct_values():
    from segbench.reporting.surrogate import _binary

    def by_distinct_values(column: pd.Series) -> bool:  # the straightforward way
        values = column.dropna().unique()
        return len(values) > 0 and set(np.asarray(values, dtype=float).tolist()) <= {0.0, 1.0}

    columns = [
        pd.Series([0.0, 1.0, 1.0, np.nan]),
        pd.Series([0, 1, 1, 0]),
        pd.Series([True, False]),
        pd.Series([0.0, 0.0]),
        pd.Series([-0.0, 1.0]),
        pd.Series([0.0, 0.5, 1.0]),
        pd.Series([2.0, 3.0]),
        pd.Series([np.nan, np.nan]),
        pd.Series([], dtype=float),
        pd.Series(np.random.default_rng(0).integers(0, 2, 10_000).astype(float)),
    ]
    for column in columns:
        assert _binary(column) == by_distinct_values(column), column.tolist()[:5]
