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
over all segments. English stop words removed; unigrams and bigrams (within one text, never
across two texts of a customer or segment). When segments write
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

from segbench.data.pseudonyms import positions

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


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of a column and the text of each code (``-1`` = missing); a categorical
    column gives its own codes, without a string per row."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy().astype(np.int64)
        text = pd.Index(values.cat.categories.astype(str))
        if (codes < 0).any():  # a missing value reads "nan", as ``astype(str)`` writes it
            codes[codes < 0] = len(text)
            text = text.append(pd.Index(["nan"], dtype=text.dtype))
        return codes, text
    codes, uniques = pd.factorize(values.astype(str))
    return codes.astype(np.int64), pd.Index(uniques)


class LineCodes:
    """The transaction lines of segmented customers as integer codes (one pass, no string per
    line): customer position, segment, product, description, quantity and revenue. Every table
    below is a ``bincount`` or a hash of integer keys over these arrays, so its cost is linear
    in the lines (about 1 s per 10 million lines here)."""

    def __init__(self, transactions: pd.DataFrame, labels: pd.Series) -> None:
        seg = _segment_of(labels)
        index = pd.Index(seg.index)
        cust, cust_text = _codes(transactions["customer_id"])
        # ``_codes`` gives every line a code (a missing customer reads "nan", in no index);
        # no lookup when the code texts are the customer ids themselves
        customer = positions(index, cust_text)[cust]
        keep = customer >= 0
        product, self.products = _codes(transactions["product_id"])
        description, self.descriptions = _codes(transactions["description"])
        quantity = transactions["quantity"].to_numpy(dtype=float)
        price = transactions["unit_price"].to_numpy(dtype=float)
        if not keep.all():
            customer, product, description = customer[keep], product[keep], description[keep]
            quantity, price = quantity[keep], price[keep]
        segments = seg.to_numpy()
        self.customer = customer
        self.segment_ids, segment = np.unique(segments, return_inverse=True)
        self.segment_of_customer = segment
        self.segment = segment[customer]
        self.product = product
        self.description = description
        self.quantity = quantity
        self.revenue = quantity * price
        self.n_customers = len(index)
        self.sizes = np.bincount(segment, minlength=len(self.segment_ids))
        self._pairs: np.ndarray | None = None
        self._names: pd.Series | None = None

    def product_names(self) -> pd.Series:
        """The most frequent description of each product (ties: the first alphabetically;
        computed once)."""
        if self._names is not None:
            return self._names
        if len(self.product) == 0:
            return pd.Series(dtype=object)
        width = max(len(self.descriptions), 1)
        key = self.product * width + self.description
        if len(self.products) * width <= PAIR_BITMAP // 8:  # a count per possible pair
            counted = np.bincount(key, minlength=len(self.products) * width)
            present = np.flatnonzero(counted)
            n = counted[present]
        else:
            present, n = np.unique(key, return_counts=True)
        product, description = np.divmod(present, width)
        counts = pd.DataFrame(
            {
                "product_id": np.asarray(self.products, dtype=object)[product],
                "n": n,
                "description": np.asarray(self.descriptions, dtype=object)[description],
            }
        )
        counts = counts.sort_values(
            ["product_id", "n", "description"], ascending=[True, False, True]
        )
        self._names = counts.drop_duplicates("product_id").set_index("product_id")["description"]
        return self._names

    def buyer_pairs(self) -> np.ndarray:
        """The distinct (customer, product) pairs, as ``customer * n_products + product``,
        sorted (computed once, by :func:`sorted_distinct`)."""
        if self._pairs is None:
            width = np.int64(max(len(self.products), 1))
            self._pairs = sorted_distinct(self.customer * width + self.product)
        return self._pairs

    def per_segment_product(self) -> pd.DataFrame:
        """Per (segment, product) with sales: quantity, revenue and distinct customers."""
        n_products = max(len(self.products), 1)
        key = self.segment * n_products + self.product
        size = len(self.segment_ids) * n_products
        quantity = np.bincount(key, weights=self.quantity, minlength=size)
        revenue = np.bincount(key, weights=self.revenue, minlength=size)
        lines = np.bincount(key, minlength=size)
        pairs = self.buyer_pairs()
        pair_customer, pair_product = np.divmod(pairs, n_products)
        pair_key = self.segment_of_customer[pair_customer] * n_products + pair_product
        customers = np.bincount(pair_key, minlength=size)
        present = np.flatnonzero(lines)
        segment, product = np.divmod(present, n_products)
        return pd.DataFrame(
            {
                "segment": self.segment_ids[segment].astype(np.int64),
                "product_id": np.asarray(self.products, dtype=object)[product],
                "quantity": quantity[present],
                "revenue": revenue[present],
                "customers": customers[present].astype(np.int64),
            }
        )


def top_products(
    transactions: pd.DataFrame, labels: pd.Series, n: int = 10, lines: LineCodes | None = None
) -> pd.DataFrame:
    """Each segment's ``n`` best sellers by quantity and by revenue (long table). ``lines``:
    the :class:`LineCodes` of ``transactions`` and ``labels`` when the caller has them."""
    lines = lines if lines is not None else LineCodes(transactions, labels)
    per = lines.per_segment_product()
    per["description"] = per["product_id"].map(lines.product_names())
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
    lines: LineCodes | None = None,
) -> pd.DataFrame:
    """Products each segment over-buys: support, base support and lift (module docstring)."""
    lines = lines if lines is not None else LineCodes(transactions, labels)
    n = lines.n_customers
    n_products = max(len(lines.products), 1)
    pair_customer, pair_product = np.divmod(lines.buyer_pairs(), n_products)
    overall = np.bincount(pair_product, minlength=n_products)
    key = lines.segment_of_customer[pair_customer] * n_products + pair_product
    buyers = np.bincount(key, minlength=len(lines.segment_ids) * n_products)
    present = np.flatnonzero(buyers)
    segment, product = np.divmod(present, n_products)
    table = pd.DataFrame(
        {
            "segment": lines.segment_ids[segment].astype(np.int64),
            "product_id": np.asarray(lines.products, dtype=object)[product],
            "buyers": buyers[present].astype(np.int64),
        }
    )
    table["segment_size"] = lines.sizes[segment].astype(float)
    table["support"] = table["buyers"] / table["segment_size"]
    table["base_support"] = overall[product] / n
    table["lift"] = table["support"] / table["base_support"]
    keep = (table["support"] >= min_support) & (table["buyers"] >= min_customers)
    table = table[keep & (table["lift"] > 1)]
    table["not_yet_bought"] = (table["segment_size"] - table["buyers"]).astype(np.int64)
    table["description"] = table["product_id"].map(lines.product_names())
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


def sorted_distinct(keys: np.ndarray) -> np.ndarray:
    """``np.unique(keys)`` of integer keys by one sort and a comparison of neighbours
    (numpy's ``unique`` of 7 million keys with millions distinct took seconds here; a
    bitmap of every possible pair touched hundreds of MB).

    >>> sorted_distinct(np.array([5, 1, 5, 3, 1])).tolist()
    [1, 3, 5]
    """
    keys = np.asarray(keys)
    if len(keys) < 2:
        return np.sort(keys)
    narrow = keys.dtype.itemsize > 4 and keys.min() >= 0 and keys.max() < 2**31
    ordered = np.sort(keys.astype(np.int32) if narrow else keys)  # 32 bits sort 3x faster
    first = np.empty(len(ordered), dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first].astype(keys.dtype, copy=False)


def _customer_positions(column: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of each row's customer in ``index`` (``-1`` = not in it)."""
    codes, text = _codes(column)
    return positions(index, text)[codes]


#: Largest number of (product, description) pairs whose counts are found with a bitmap
#: (one count each) rather than a sort.
PAIR_BITMAP = 300_000_000

#: Customers whose term sets are formed at once in :func:`ctfidf_terms` (bounds its memory).
TERM_CHUNK = 200_000


def ctfidf_terms(
    texts: pd.DataFrame, labels: pd.Series, top_n: int = 10, min_customers: int = 5
) -> pd.DataFrame:
    """The ``top_n`` terms distinguishing each segment's texts (c-TF-IDF; module docstring).

    Only terms used by at least ``min_customers`` customers are candidates (so no rare token
    of one customer's text, e.g. a name, is ever reported). Each distinct text is tokenised
    once (unigrams and bigrams within a text); the customers using a term and the segments'
    term counts are sparse products of (customer or segment × text) counts with the (text ×
    term) counts, so the cost is linear in the texts and bounded by their distinct values.
    """
    from scipy import sparse

    seg = _segment_of(labels)
    frame = texts[["customer_id", "text"]].dropna()
    empty = pd.DataFrame(columns=["segment", "rank", "term", "weight", "lift"])
    index = pd.Index(seg.index)
    customer = _customer_positions(frame["customer_id"], index)
    keep = customer >= 0
    if not keep.any():
        return empty
    text_code, distinct = _codes(frame["text"][keep])
    customer = customer[keep]
    n_texts = len(distinct)
    tokeniser = CountVectorizer(stop_words="english", ngram_range=(1, 2))
    try:
        text_terms = tokeniser.fit_transform(np.asarray(distinct, dtype=object).astype(str))
    except ValueError:  # only stop words
        return empty
    text_terms = text_terms.astype(np.float64).tocsr()
    present = text_terms.copy()
    present.data[:] = 1.0
    n_customers = int(np.count_nonzero(np.bincount(customer, minlength=len(index))))
    min_df = min(min_customers, n_customers)
    uses = sparse.csr_matrix(
        (np.ones(len(customer)), (customer, text_code)), shape=(len(index), n_texts)
    )
    used_by = np.zeros(text_terms.shape[1], dtype=np.int64)
    for start in range(0, len(index), TERM_CHUNK):
        chunk = uses[start : start + TERM_CHUNK] @ present
        used_by += np.bincount(chunk.indices, minlength=text_terms.shape[1])
    vocabulary = np.flatnonzero(used_by >= min_df)
    if len(vocabulary) == 0:  # no term used by enough customers
        return empty
    segment_ids, segment = np.unique(seg.to_numpy()[customer], return_inverse=True)
    written = sparse.csr_matrix(
        (np.ones(len(segment)), (segment, text_code)), shape=(len(segment_ids), n_texts)
    )
    counts = (written @ text_terms[:, vocabulary]).tocsr()
    row_sums = np.asarray(counts.sum(axis=1)).ravel()
    term_sums = np.asarray(counts.sum(axis=0)).ravel()
    average_words = counts.sum() / len(segment_ids)
    idf = np.log1p(average_words / np.maximum(term_sums, 1.0))
    overall = term_sums / max(term_sums.sum(), 1.0)
    terms = tokeniser.get_feature_names_out()[vocabulary]
    rows = []
    for i, segment_id in enumerate(segment_ids):
        tf = counts[i].toarray().ravel() / max(row_sums[i], 1.0)
        weights = tf * idf
        lift = np.divide(tf, overall, out=np.zeros_like(tf), where=overall > 0)
        score = np.where(lift > 1, weights * np.log(np.maximum(lift, 1.0)), 0.0)
        order = np.argsort(-score, kind="stable")[:top_n]
        for rank, j in enumerate((j for j in order if score[j] > 0), start=1):
            rows.append(
                {
                    "segment": int(segment_id),
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
