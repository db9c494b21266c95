"""What to offer each segment: over-bought products, distinctive terms, readable names.

Products (datasets with transactions)
-------------------------------------
For segment ``s`` with ``n_s`` customers and product ``p``:

- ``support = |customers of s who bought p| / n_s`` (customer-level, not lines),
- ``base_support = |customers who bought p| / n`` over all segmented customers,
- ``lift = support / base_support`` (> 1: the segment over-buys ``p``; association-rule lift of
  "customer in s ⇒ buys p", Brin et al. 1997).

:func:`product_affinity` keeps the products with ``lift > 1`` bought by at least
``min_customers`` members and ``min_support`` of the segment, ranked by lift (a segment that
over-buys nothing, e.g. lapsed customers who bought little of everything, gets no row).
:func:`top_products` ranks each segment's best sellers by quantity and by revenue
(``quantity × unit_price``), the seed study's table. Without transactions,
:func:`category_affinity` does the same on per-category spend columns (``spend_*``):
``lift = segment mean spend / overall mean spend``.

Terms (datasets with texts)
---------------------------
Class-based TF-IDF (c-TF-IDF; Grootendorst 2022, *BERTopic*, arXiv:2203.05794): all texts of a
segment form one document ``c``; for term ``t``

``w(t, c) = tf(t, c) / Σ_t' tf(t', c) · log(1 + A / f(t))``

with ``A`` the mean number of words per segment document and ``f(t)`` the frequency of ``t``
over all segments. English stop words removed; unigrams and bigrams. When segments write
alike, the plain weight ranks the corpus's common words first for every segment (measured on
``clothing_reviews`` with four age segments: "dress, love, size, fit, great" topped all four),
so terms are ranked by ``w(t, c) · log lift(t, c)`` among those with ``lift > 1``, where
``lift(t, c)`` = share of ``t`` in ``c``'s words / share of ``t`` in all words (the same data then
gave e.g. "size xl, summer, sweater" vs "115 lbs, petite, xs, 26 waist"). Both ``weight`` (the
c-TF-IDF) and ``lift`` are in the table.

Names
-----
Segments are named once per run, by :mod:`segbench.reporting.names` (the RFM grid, where
recency, frequency and monetary exist); the names come from the profile table, and each
recommendation's action follows its segment's RFM name.

Artifacts (``personalisation/`` of the run): ``top_products.csv`` (segment, by, rank,
product…), ``product_affinity.csv``, ``category_affinity.csv``, ``terms.csv`` and
``recommendations.{csv,md}`` (per segment: name, action, what to offer and to how many members
who have not bought it yet). What to offer each segment is also a section of the run's one
segment card, ``segment_card.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer

ACTIONS = {
    "champions": "reward and retain: loyalty perks, early access, referrals; no discount needed",
    "loyal": "upsell and cross-sell higher-value items; invite to the loyalty programme",
    "at risk": "win back before they lapse: reminders of what they bought, a time-limited offer",
    "new customers": "onboard: welcome series and a second-purchase incentive",
    "promising": "build the habit: recommendations from their first purchases, bundles",
    "need attention": "re-engage with personalised recommendations and time-limited offers",
    "about to sleep": "reactivate with popular products and a modest discount",
    "hibernating": "low-cost reactivation: seasonal campaigns and best sellers",
    "lost": "cheap channels only (e-mail); do not spend acquisition budget on them",
}
DEFAULT_ACTION = "offer the products and categories this segment over-buys"


def _segment_of(labels: pd.Series) -> pd.Series:
    out = pd.Series(np.asarray(labels, dtype=np.int64), index=labels.index.astype(str))
    out.index.name = "customer_id"
    return out


def _lines(transactions: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    seg = _segment_of(labels)
    tx = transactions[["customer_id", "product_id", "description", "quantity", "unit_price"]]
    ids = tx["customer_id"].astype(str)
    out = pd.DataFrame(
        {
            "customer_id": ids.to_numpy(),
            "segment": seg.reindex(ids).to_numpy(),
            "product_id": tx["product_id"].astype(str).to_numpy(),
            "description": tx["description"].astype(str).to_numpy(),
            "quantity": tx["quantity"].to_numpy(dtype=float),
            "revenue": tx["quantity"].to_numpy(dtype=float) * tx["unit_price"].to_numpy(float),
        }
    )
    out = out[out["segment"].notna()]
    return out.astype({"segment": np.int64})


def _descriptions(lines: pd.DataFrame) -> pd.Series:
    """The most frequent description of each product."""
    counts = lines.groupby(["product_id", "description"], sort=False).size().reset_index(name="n")
    counts = counts.sort_values(["product_id", "n", "description"], ascending=[True, False, True])
    return counts.drop_duplicates("product_id").set_index("product_id")["description"]


def top_products(transactions: pd.DataFrame, labels: pd.Series, n: int = 10) -> pd.DataFrame:
    """Each segment's ``n`` best sellers by quantity and by revenue (long table)."""
    lines = _lines(transactions, labels)
    per = lines.groupby(["segment", "product_id"], sort=False).agg(
        quantity=("quantity", "sum"),
        revenue=("revenue", "sum"),
        customers=("customer_id", "nunique"),
    )
    per = per.reset_index()
    per["description"] = per["product_id"].map(_descriptions(lines))
    frames = []
    for by in ("quantity", "revenue"):
        ranked = per.sort_values(["segment", by, "product_id"], ascending=[True, False, True])
        ranked = ranked.groupby("segment", sort=True).head(n).copy()
        ranked["rank"] = ranked.groupby("segment").cumcount() + 1
        ranked["by"] = by
        frames.append(ranked)
    out = pd.concat(frames, ignore_index=True)
    columns = ["segment", "by", "rank", "product_id", "description", "quantity", "revenue"]
    return out[[*columns, "customers"]].sort_values(["segment", "by", "rank"], ignore_index=True)


def product_affinity(
    transactions: pd.DataFrame,
    labels: pd.Series,
    top_n: int = 10,
    min_support: float = 0.05,
    min_customers: int = 5,
) -> pd.DataFrame:
    """Products each segment over-buys: support, base support and lift (module docstring)."""
    lines = _lines(transactions, labels)
    seg = _segment_of(labels)
    sizes = seg.value_counts()
    n = len(seg)
    pairs = lines[["customer_id", "segment", "product_id"]].drop_duplicates()
    buyers = pairs.groupby(["segment", "product_id"], sort=False).size().rename("buyers")
    overall = pairs.groupby("product_id", sort=False)["customer_id"].nunique()
    table = buyers.reset_index()
    table["segment_size"] = table["segment"].map(sizes).astype(float)
    table["support"] = table["buyers"] / table["segment_size"]
    table["base_support"] = table["product_id"].map(overall).to_numpy() / n
    table["lift"] = table["support"] / table["base_support"]
    keep = (table["support"] >= min_support) & (table["buyers"] >= min_customers)
    table = table[keep & (table["lift"] > 1)]
    table["not_yet_bought"] = (table["segment_size"] - table["buyers"]).astype(np.int64)
    table["description"] = table["product_id"].map(_descriptions(lines))
    table = table.sort_values(["segment", "lift", "product_id"], ascending=[True, False, True])
    table = table.groupby("segment", sort=True).head(top_n).copy()
    table["rank"] = table.groupby("segment").cumcount() + 1
    columns = ["segment", "rank", "product_id", "description", "lift", "support"]
    return table[[*columns, "base_support", "buyers", "not_yet_bought"]].reset_index(drop=True)


def category_affinity(customers: pd.DataFrame, labels: pd.Series, prefix: str = "spend_"):
    """Per segment and ``spend_*`` column: mean spend, overall mean and lift (their ratio)."""
    columns = [c for c in customers.columns if str(c).startswith(prefix)]
    if not columns:
        return pd.DataFrame(columns=["segment", "category", "mean_spend", "base_mean", "lift"])
    seg = _segment_of(labels)
    frame = customers.reindex(seg.index)[columns].astype(float)
    base = frame.mean()
    means = frame.groupby(seg.to_numpy()).mean()
    rows = []
    for segment, row in means.iterrows():
        for column in columns:
            rows.append(
                {
                    "segment": int(segment),
                    "category": str(column)[len(prefix) :],
                    "mean_spend": float(row[column]),
                    "base_mean": float(base[column]),
                    "lift": float(row[column] / base[column]) if base[column] else np.nan,
                }
            )
    out = pd.DataFrame(rows).sort_values(["segment", "lift"], ascending=[True, False])
    return out.reset_index(drop=True)


def ctfidf_terms(
    texts: pd.DataFrame, labels: pd.Series, top_n: int = 10, min_customers: int = 5
) -> pd.DataFrame:
    """The ``top_n`` terms distinguishing each segment's texts (c-TF-IDF; module docstring).

    Only terms used by at least ``min_customers`` customers are candidates (so no rare token
    of one customer's text, e.g. a name, is ever reported).
    """
    seg = _segment_of(labels)
    frame = texts[["customer_id", "text"]].dropna()
    segment = seg.reindex(frame["customer_id"].astype(str)).to_numpy()
    frame = frame.assign(segment=segment)[~pd.isna(segment)]
    empty = pd.DataFrame(columns=["segment", "rank", "term", "weight", "lift"])
    if len(frame) == 0:
        return empty
    per_customer = frame.groupby("customer_id", sort=False)["text"].agg(
        lambda t: " ".join(map(str, t))
    )
    vocabulary = CountVectorizer(
        stop_words="english", ngram_range=(1, 2), min_df=min(min_customers, len(per_customer))
    )
    try:
        vocabulary.fit(per_customer.to_numpy())
    except ValueError:  # no term used by enough customers
        return empty
    docs = frame.groupby("segment", sort=True)["text"].agg(lambda t: " ".join(map(str, t)))
    counter = CountVectorizer(
        stop_words="english", ngram_range=(1, 2), vocabulary=vocabulary.vocabulary_
    )
    counts = counter.transform(docs.to_numpy()).astype(np.float64).tocsr()
    row_sums = np.asarray(counts.sum(axis=1)).ravel()
    term_sums = np.asarray(counts.sum(axis=0)).ravel()
    average_words = counts.sum() / len(docs)
    idf = np.log1p(average_words / np.maximum(term_sums, 1.0))
    overall = term_sums / max(term_sums.sum(), 1.0)
    terms = counter.get_feature_names_out()
    rows = []
    for i, segment in enumerate(docs.index):
        tf = counts[i].toarray().ravel() / max(row_sums[i], 1.0)
        weights = tf * idf
        lift = np.divide(tf, overall, out=np.zeros_like(tf), where=overall > 0)
        score = np.where(lift > 1, weights * np.log(np.maximum(lift, 1.0)), 0.0)
        order = np.argsort(-score, kind="stable")[:top_n]
        for rank, j in enumerate((j for j in order if score[j] > 0), start=1):
            rows.append(
                {
                    "segment": int(segment),
                    "rank": rank,
                    "term": terms[j],
                    "weight": weights[j],
                    "lift": lift[j],
                }
            )
    return pd.DataFrame(rows) if rows else empty


def recommendations(
    names: pd.DataFrame,
    affinity: pd.DataFrame | None = None,
    categories: pd.DataFrame | None = None,
    n_offers: int = 3,
) -> pd.DataFrame:
    """Per segment: its name, an action by name, and what to offer (top lifts > 1).

    ``names``: one row per segment with ``segment, name, size`` (the run's names,
    :mod:`segbench.reporting.names`)."""
    rows = []
    for _, seg in names.iterrows():
        base_name = str(seg["name"]).split(" (")[0]
        offers, reach = [], 0
        if affinity is not None and len(affinity):
            top = affinity[(affinity["segment"] == seg["segment"]) & (affinity["lift"] > 1)]
            top = top.head(n_offers)
            offers = [
                f"{d} [{code}] (lift {lift:.1f})"
                for d, code, lift in zip(
                    top["description"], top["product_id"], top["lift"], strict=True
                )
            ]
            reach = int(top["not_yet_bought"].sum()) if len(top) else 0
        elif categories is not None and len(categories):
            top = categories[(categories["segment"] == seg["segment"]) & (categories["lift"] > 1)]
            top = top.head(n_offers)
            offers = [
                f"{c} (lift {lift:.1f})"
                for c, lift in zip(top["category"], top["lift"], strict=True)
            ]
        rows.append(
            {
                "segment": int(seg["segment"]),
                "name": seg["name"],
                "size": int(seg["size"]),
                "action": ACTIONS.get(base_name, DEFAULT_ACTION),
                "offer": "; ".join(offers) if offers else "no over-bought product or category",
                "offers_to_members_not_yet_buying": reach,
            }
        )
    return pd.DataFrame(rows)
