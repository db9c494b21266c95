"""One naming rule per run (segbench.reporting.names): RFM grid, distinguishing features,
plain ids; small segments and noise never named from their figures."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segbench.reporting.names import (
    HIGH,
    LOW,
    names_of,
    segment_label,
    segment_names,
)
from segbench.reporting.profiles import segment_profiles


def rfm_groups(n: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    # 0: recent, frequent, big; 1: as recent, one small purchase; 2: long gone, one purchase
    group = np.arange(n) % 3
    rfm = pd.DataFrame(
        {
            "recency": np.where(group < 2, rng.uniform(1, 10, n), rng.uniform(250, 300, n)),
            "frequency": np.where(group == 0, 20.0, 1.0),
            "monetary": np.array([2000.0, 20.0, 25.0])[group] * rng.uniform(0.95, 1.05, n),
        },
        index=[f"c{i}" for i in range(n)],
    )
    return rfm, group


def test_rfm_names_follow_the_documented_grid():
    rfm, group = rfm_groups()
    names = segment_names(rfm, group).set_index("segment")
    # percentile ranks of each segment's median customer among all customers:
    # 0: r ≈ 0.67 (high), fm ≈ 0.83 (high); 1: r ≈ 0.67, fm ≈ (0.33 + 0.17) / 2 (low);
    # 2: r ≈ 0.17 (low), fm ≈ (0.33 + 0.5) / 2 (mid)
    assert names["name"].to_dict() == {0: "champions", 1: "new customers", 2: "hibernating"}
    assert set(names["naming"]) == {"rfm grid"}
    assert names.loc[0, "r_score"] >= HIGH and names.loc[2, "r_score"] < LOW
    assert LOW <= names.loc[2, "fm_score"] < HIGH


def test_duplicate_names_are_numbered_best_first():
    rfm = pd.DataFrame(
        {"recency": [1.0] * 6, "frequency": [5.0] * 6, "monetary": [9.0] * 6},
        index=list("abcdef"),
    )
    names = segment_names(rfm, np.array([0, 0, 0, 0, 1, 1])).set_index("segment")["name"]
    assert names[1] == f"{names[0]} (2)"  # same grid cell: the larger keeps the plain name


def test_without_rfm_the_distinguishing_features_name_segments():
    profile = pd.DataFrame(
        {
            "income": [20.0, 22, 21, 80, 82, 81, 50, 51, 49],
            "age": [25.0, 26, 24, 60, 61, 59, 40, 41, 42],
            "is_member": [1.0, 0, 1, 0, 1, 0, 1, 0, 1],
        }
    )
    names = segment_names(profile, np.repeat([0, 1, 2], 3)).set_index("segment")
    # the two largest |d| first (income: d ≈ −1.22, age: d ≈ −1.19 for segment 0)
    assert names.loc[0, "name"] == "low income · low age"
    assert set(names.loc[1, "name"].split(" · ")) == {"high age", "high income"}
    assert names.loc[2, "name"] == "average"  # nothing ≥ 0.5 sd apart; 0/1 columns never name
    assert set(names["naming"]) == {"distinguishing features"}


def test_small_segments_and_noise_are_not_named_from_their_figures():
    rfm, group = rfm_groups(300)
    labels = group.copy()
    labels[:4] = -1
    labels[4:10:3] = 7  # two customers of their own
    names = segment_names(rfm, labels, min_cell_size=5).set_index("segment")["name"]
    assert names[-1] == "noise" and names[7] == "segment 7"
    assert names[0] == "champions"


def test_no_readable_column_gives_plain_ids():
    names = segment_names(pd.DataFrame(index=range(4)), np.array([0, 0, 1, 1]))
    assert names["name"].tolist() == ["segment 0", "segment 1"]


def test_profiles_carry_the_names_and_labels_read_them():
    rfm, group = rfm_groups()
    profiles = segment_profiles(group, rfm, min_cell_size=5)
    assert profiles.columns[0] == "name"
    names = names_of(profiles)
    assert names == {0: "champions", 1: "new customers", 2: "hibernating"}
    assert segment_label(0, names) == "0 · champions"
    assert segment_label(-1, names) == "noise"
    assert segment_label(9, names) == "segment 9"  # an id the run does not know
