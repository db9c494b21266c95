"""What to offer each segment: product lift and support, c-TF-IDF terms, offers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segbench.analyses import personalisation as p


def lines(rows):
    tx = pd.DataFrame(rows, columns=["customer_id", "product_id", "quantity", "unit_price"])
    return tx.assign(
        description=lambda t: "desc " + t["product_id"],
        invoice_id="i",
        timestamp=pd.Timestamp("2024-01-01"),
        channel="web",
    )


SHOP = lines(
    [
        ("a", "X", 1, 2.0),
        ("b", "X", 2, 2.0),
        ("c", "X", 1, 2.0),
        ("c", "Y", 5, 1.0),
        ("d", "Y", 1, 1.0),
        ("a", "Z", 10, 0.5),
        ("a", "Z", 10, 0.5),
    ]
)
LABELS = pd.Series([0, 0, 1, 1], index=["a", "b", "c", "d"])


def test_product_lift_and_support_by_hand():
    table = p.product_affinity(SHOP, LABELS, top_n=5, min_support=0.0, min_customers=1)
    row = table.set_index(["segment", "product_id"])
    assert row.loc[(0, "X"), "support"] == 1.0
    assert row.loc[(0, "X"), "base_support"] == 0.75
    assert row.loc[(0, "X"), "lift"] == pytest.approx(4 / 3)
    assert row.loc[(0, "Z"), "lift"] == pytest.approx(0.5 / 0.25)
    assert row.loc[(1, "Y"), "lift"] == pytest.approx(2.0)
    assert row.loc[(0, "Z"), "not_yet_bought"] == 1  # b has not bought Z yet
    assert (1, "X") not in row.index  # lift 0.67: under-bought, not an affinity
    assert list(table[table["segment"] == 0]["product_id"]) == ["Z", "X"]  # ranked by lift
    assert row.loc[(0, "Z"), "description"] == "desc Z"


def test_affinity_thresholds_drop_rare_products():
    table = p.product_affinity(SHOP, LABELS, top_n=5, min_support=0.0, min_customers=2)
    assert set(table["product_id"]) == {"X", "Y"}  # Z: one buyer only
    table = p.product_affinity(SHOP, LABELS, top_n=5, min_support=0.75, min_customers=1)
    assert set(zip(table["segment"], table["product_id"], strict=True)) == {(0, "X"), (1, "Y")}


def test_top_products_by_quantity_and_by_revenue():
    top = p.top_products(SHOP, LABELS, n=2)
    seg0 = top[top["segment"] == 0].set_index(["by", "rank"])
    assert seg0.loc[("quantity", 1), "product_id"] == "Z"  # 20 units
    assert seg0.loc[("quantity", 1), "quantity"] == 20
    assert seg0.loc[("revenue", 1), "product_id"] == "Z"  # 10.0 vs X 6.0
    assert seg0.loc[("revenue", 2), "revenue"] == pytest.approx(6.0)
    seg1 = top[top["segment"] == 1].set_index(["by", "rank"])
    assert seg1.loc[("revenue", 1), "product_id"] == "Y"  # 6.0 vs 2.0


def test_class_based_tfidf_finds_each_segments_own_words():
    ids = [f"c{i}" for i in range(40)]
    labels = pd.Series(np.arange(40) % 2, index=ids)
    texts = pd.DataFrame(
        {
            "customer_id": ids,
            "text": [
                "great coffee beans, strong espresso" if i % 2 == 0 else "green tea leaves, calm"
                for i in range(40)
            ],
        }
    )
    terms = p.ctfidf_terms(texts, labels, top_n=3, min_customers=5)
    top0 = set(terms[terms["segment"] == 0]["term"])
    top1 = set(terms[terms["segment"] == 1]["term"])
    assert top0 & {"coffee", "espresso", "beans", "coffee beans", "strong"}
    assert top1 & {"tea", "green", "leaves", "green tea", "calm"}
    assert not top0 & top1


def test_words_every_segment_uses_do_not_crowd_out_the_distinctive_ones():
    ids = [f"c{i}" for i in range(60)]
    labels = pd.Series(np.arange(60) % 2, index=ids)
    common = "dress love size fit great dress love size fit great"
    texts = pd.DataFrame(
        {
            "customer_id": ids,
            "text": [f"{common} {'petite xs' if i % 2 else 'plus xl'}" for i in range(60)],
        }
    )
    terms = p.ctfidf_terms(texts, labels, top_n=3, min_customers=5)
    assert set(terms[terms["segment"] == 1]["term"]) <= {
        "petite",
        "xs",
        "petite xs",
        "great petite",
    }
    assert not set(terms["term"]) & {"dress", "love", "size", "fit", "great"}
    assert (terms["lift"] > 1).all()


def test_terms_of_fewer_customers_than_the_threshold_are_never_reported():
    ids = [f"c{i}" for i in range(20)]
    labels = pd.Series([0] * 20, index=ids)
    texts = pd.DataFrame({"customer_id": ids, "text": ["nice shoes"] * 19 + ["I am Jane Doe"]})
    terms = p.ctfidf_terms(texts, labels, top_n=10, min_customers=5)
    assert "jane" not in set(terms["term"]) and "doe" not in set(terms["term"])


def test_every_rfm_name_has_its_action():
    from segbench.reporting.names import NAME_GRID

    assert set(NAME_GRID.values()) == set(p.ACTIONS)


def test_recommendations_offer_over_bought_products_with_reach():
    affinity = p.product_affinity(SHOP, LABELS, top_n=5, min_support=0.0, min_customers=1)
    names = pd.DataFrame({"segment": [0, 1], "name": ["champions", "lost"], "size": [2, 2]})
    recs = p.recommendations(names, affinity, n_offers=2).set_index("segment")
    assert recs.loc[0, "offer"].startswith("desc Z [Z] (lift 2.0)")
    assert recs.loc[1, "offer"].startswith("desc Y [Y] (lift 2.0)")
    assert recs.loc[0, "offers_to_members_not_yet_buying"] == 1  # b has not bought Z
    assert recs.loc[0, "action"] == p.ACTIONS["champions"]
    assert recs.loc[1, "action"] == p.ACTIONS["lost"]


def test_category_lift_without_transactions():
    customers = pd.DataFrame(
        {"spend_wines": [100.0, 100.0, 0.0, 0.0], "spend_fruits": [1.0, 1.0, 3.0, 3.0]},
        index=list("abcd"),
    )
    table = p.category_affinity(customers, LABELS).set_index(["segment", "category"])
    assert table.loc[(0, "wines"), "lift"] == pytest.approx(2.0)
    assert table.loc[(1, "fruits"), "lift"] == pytest.approx(1.5)


def test_a_run_logs_personalisation_artifacts(tracking_uri):
    import mlflow

    from segbench.api import run

    result = run(
        [
            "dataset._target_=toydata.ToyDataset",
            "dataset.name=toy",
            "dataset.n_customers=300",
            f"tracking.uri={tracking_uri}",
            "features=rfm",
            "algo.n_clusters=3",
            "tracking.log_plots=false",
            "tracking.log_model=false",
            "evaluation.stability.enabled=false",
            "fairness=none",  # not under test here
            "analysis.predictive.enabled=false",
            "analysis.assign.enabled=false",
        ]
    )
    root = Path(
        mlflow.artifacts.download_artifacts(run_id=result.run_id, tracking_uri=tracking_uri)
    )
    local = root / "personalisation"
    profiles = pd.read_csv(root / "profiles/segment_profiles.csv", index_col="segment")
    recs = pd.read_csv(f"{local}/recommendations.csv")
    assert set(recs.columns) >= {"segment", "name", "action", "offer"}
    # the run's names (its profiles'), not a naming of its own
    assert recs.set_index("segment")["name"].to_dict() == profiles["name"].to_dict()
    top = pd.read_csv(f"{local}/top_products.csv")
    assert set(top["by"]) == {"quantity", "revenue"}
    # one segment card: the run's, with the offers; no second card, no second names table
    assert not (local / "segment_cards.md").exists()
    assert not (local / "segment_names.csv").exists()
    card = (root / "segment_card.md").read_text()
    assert card.count("**What to offer**") == 3


@pytest.mark.parametrize("size", [0, 1, 2, 1000, 200_000])
def test_sorted_distinct_is_numpys_unique(size):
    keys = np.random.default_rng(size).integers(0, max(size // 3, 1), size)
    assert np.array_equal(p.sorted_distinct(keys), np.unique(keys))
    assert p.sorted_distinct(keys).dtype == np.unique(keys).dtype
    wide = keys + 2**40  # beyond 32 bits: sorted as they are
    assert np.array_equal(p.sorted_distinct(wide), np.unique(wide))


def test_tables_are_the_same_whether_customers_are_found_by_position_or_by_lookup():
    # a pseudonymised dataset's customer categories are its customer ids in order (found by
    # position); any other categories are looked up by name: the same tables either way
    rng = np.random.default_rng(5)
    ids = [f"c{i:03d}" for i in range(300)]
    labels = pd.Series(rng.integers(0, 4, 300), index=pd.Index(ids, name="customer_id"))
    lines = 4000
    tx = pd.DataFrame(
        {
            "customer_id": rng.choice(ids, lines),
            "product_id": rng.choice([f"p{i}" for i in range(30)], lines),
            "quantity": rng.integers(1, 4, lines),
            "unit_price": rng.uniform(1, 20, lines).round(2),
        }
    )
    tx["description"] = "item " + tx["product_id"].astype(str)
    texts = pd.DataFrame(
        {"customer_id": rng.choice(ids, 900), "text": rng.choice(["red shoes", "blue hat"], 900)}
    )
    tables = []
    for categories in (ids, list(rng.permutation(ids))):
        typed = tx.assign(customer_id=pd.Categorical(tx["customer_id"], categories=categories))
        written = texts.assign(
            customer_id=pd.Categorical(texts["customer_id"], categories=categories)
        )
        tables.append(
            (
                p.top_products(typed, labels),
                p.product_affinity(typed, labels, min_support=0.0, min_customers=1),
                p.ctfidf_terms(written, labels, min_customers=1),
            )
        )
    for by_position, by_lookup in zip(*tables, strict=True):
        pd.testing.assert_frame_equal(by_position, by_lookup)
    plain = (p.top_products(tx, labels), p.ctfidf_terms(texts, labels, min_customers=1))
    pd.testing.assert_frame_equal(tables[0][0], plain[0])
    pd.testing.assert_frame_equal(tables[0][2], plain[1])
