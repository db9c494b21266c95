"""The ``synthetic`` dataset: seeded customers with planted, documented segments.

A research instrument, not filler. Six segments with known sizes and behaviour are planted;
every part of :class:`~segbench.data.model.CustomerData` is generated from them
(transactions, demographics, review texts, sensitive attributes, ground-truth labels and
next-period outcomes), so external metrics (ARI/NMI), fairness audits and predictive
segmentation all have a known truth to find. Everything is vectorised numpy (loops run over
segments, categories or digits, never over customers or lines) and seeded: the same
parameters give identical frames, byte for byte.

Segments and behaviour
----------------------
Shares are exact (largest-remainder rounding of ``n_customers × share``). Figures are medians
(tiers, channels: shares of lines) measured at the default parameters on 20,000 customers;
"churn" and "next spend" are the outcomes over the 90 days after the analysis date.

=============== ===== ======= ======== ====== ===== ====== ============ ============ ===== ======
segment         share recency invoices tenure lines spend  tier         channel      churn next
                      (days)  (2 yrs)  (days) /inv         prem/std/dis web/store/app       spend
=============== ===== ======= ======== ====== ===== ====== ============ ============ ===== ======
champions       10 %  7       16       544    2.4   4,490  70/25/5 %    35/15/50 %   14 %  864
loyal           20 %  24      6        477    2.0   560    20/65/15 %   25/55/20 %   33 %  173
new             15 %  12      1        0      1.5   110    31/49/21 %   53/16/31 %   56 %  134
at_risk         15 %  198     6        413    1.8   970    35/50/15 %   45/40/15 %   86 %  41
bargain_hunters 20 %  28      11       413    2.6   720    3/22/75 %    55/10/35 %   39 %  136
lost            20 %  418     1        0      1.0   60     10/40/50 %   30/61/9 %    98 %  1
=============== ===== ======= ======== ====== ===== ====== ============ ============ ===== ======

Review topic and tone: champions are enthusiastic about quality and premium products; loyal
customers report steady satisfaction; new customers give first-order impressions; at_risk
customers complain about delays and think of leaving; bargain hunters talk about prices,
discounts and sales; lost customers are disappointed and have stopped buying. Categories
(fashion, electronics, home, beauty, grocery, sports) are preferred differently (champions:
fashion and electronics; loyal and bargain hunters: grocery and home; at_risk: electronics).
Bargain hunters buy more units per line and 60 % of lines on sale (30 % off); champions 5 %.
New customers made their first purchase within the last 90 days. Next period: 95/85/55/30/
70/4 % of the segments (table order) are still active and buy at their own historical rate
times a segment momentum, with their own basket value; the others churn and spend 0.

Demographics at the default ``demographic_strength=0.5`` (medians; shares): age 41/52/30/47/
36/58, income 76k/50k/33k/46k/28k/36k, female 76/64/31/27/72/23 %, and about 85–90 % of a
segment lives in its home region (Capital, South, North, East, West; lost: North or East).

Knobs
-----
``noise`` (0..1) sets the log-normal spread of each customer's recency, invoice count,
tenure, basket size and units around its segment centre (sigma ``0.1 + 0.9·noise`` times a
per-quantity scale) and flattens the customer-level category, tier and channel preferences
(Dirichlet concentration ``2 + 60·(1 − noise)²``). Counts stay Poisson, so even at 0 loyal
customers and bargain hunters overlap in RFM; what tells them apart is price tier, channel
and what they write.

``demographic_strength`` ``s`` (0..1) is the share of the variance of age and of log-income
explained by the segment: ``value = mean + sd·(√s·segment_offset + √(1−s)·noise)``. Gender
and region use the same ratio of segment effect to individual noise: their log-odds move by
``√(s/(1−s))`` times the segment's affinity. At 0 demographics are independent of the segment;
at 0.9 the female share ranges from about 3 % (lost) to 96 % (champions); at 1 they are
determined by it.

``text_noise`` is the share of reviews whose topic is drawn from another segment (uniformly
among the other five). ``distinct_reviews`` bounds the number of distinct review texts (see
below).

Reviews are composed (:mod:`segbench.datasets.synthetic_reviews`): one to three sentences
of the topic's segment (slots filled with items, times, numbers), often a neutral sentence
any customer writes (the item, sizing, packaging, who it was for), sometimes a closer and a
star rating of the segment, and surface noise (British or American spelling, lower case, a
missing stop, typing slips in about a third of the reviews); 5 to about 50 words, median 20.
Customers write 0–3 reviews (mean 2.3; 2–4 % write none). The texts of topic ``s`` are the
first entries of a fixed sequence of distinct reviews of ``s``, the same for every seed and
size, used equally often: ``distinct_reviews`` (default :data:`DISTINCT_REVIEWS` = 1,500,
250 per segment) bounds how many there are, ``null`` gives every review its own text. Their
sentence embedding is what a first run with an empty cache pays (the cache keys by text, so
every later run, seed and smaller size reuses them); at the default about 7 % of 5,000
customers share all their reviews with another customer (3 % of them write none), against
14 % with the former fixed pool of 384 strings, whose near-discrete text vectors let a
Gaussian mixture fit clumps of identical customers instead of segments (GMM on rfm + text:
ARI 0.31). The product catalogue is fixed: 6 categories × 3 price tiers × 15 items = 270
products described like "premium leather handbag" or "discount cotton socks"
(:func:`product_catalogue`). ``texts.text`` and the id, product, description and channel
columns are categorical (compact at millions of rows).

Calibration
-----------
Default parameters, 5,000 customers, seed 0, segbench's own features and algorithm defaults
(``python -m segbench features=… algo=…``: log1p RFM; age and income — gender and region are
sensitive attributes, left out of the demographics block by default; mean all-MiniLM-L6-v2
embedding per customer, PCA to 16; every column standardised, every block scaled to the same
total variance). ARI with the planted segments, k = 6 (KMeans n_init=10; GaussianMixture full
covariance, reg_covar 0.01, n_init=5):

=========================================== ====== =====
features                                    kmeans gmm
=========================================== ====== =====
rfm                                         0.64   0.60
demographics                                0.20   0.19
text                                        0.54   0.48
rfm + text                                  0.84   0.86
rfm + demographics + text                   0.85   0.92
=========================================== ====== =====

Over seeds 1–3 GMM on rfm + text gave 0.85–0.86 and KMeans 0.83–0.86. The ceiling of each
block is structural: RFM cannot tell loyal customers from bargain hunters, text is blurred
by ``text_noise`` and neutral sentences, age and income overlap between segments.

Scale
-----
Measured on the 2-core development machine (shared with other jobs, so times vary) with
the default parameters and ``n_customers=1_000_000``: about 20 s of CPU time (24–33 s wall
on a quieter machine before reviews were composed; 66 s while other jobs kept the load at
9–12), much of it :func:`~segbench.data.model.fingerprint_frames` (hashing the 6.7 million
invoice-id strings dominates); peak resident memory 2.9 GB. The result holds 15.4 million
transaction lines in 608 MiB (about 41 bytes a line: categorical ids, product, description
and channel, int32 quantity), 6.7 million invoices and 2.3 million review rows (29 MiB)
drawn from the 1,500 distinct texts. Generation is linear in ``n_customers`` (the reviews'
texts are bounded by ``distinct_reviews``).

Generated data is kept in the dataset cache (``cache=True``, the default;
:mod:`segbench.datasets.cache`): the entry is keyed on every parameter that defines the content
(:meth:`SyntheticDataset.cache_params`) and :attr:`SyntheticDataset.cache_version`, so the
second load with the same parameters reads about 700 MB of Arrow files (a few seconds at 1M
customers) instead of generating, with the same frames and fingerprint.

Example
-------
>>> data = SyntheticDataset(n_customers=1000, seed=1).load()
>>> data.labels.value_counts(sort=False).to_dict()
{'champions': 100, 'loyal': 200, 'new': 150, 'at_risk': 150, 'bargain_hunters': 200, 'lost': 200}
>>> data.parts()
['customers', 'transactions', 'texts', 'sensitive', 'labels', 'outcomes']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from segbench.data.model import CustomerData
from segbench.datasets.base import day_after, finish_dataset
from segbench.datasets.cache import CachedAdapter
from segbench.datasets.synthetic_reviews import segment_reviews
from segbench.errors import ConfigError

SEGMENTS: tuple[str, ...] = ("champions", "loyal", "new", "at_risk", "bargain_hunters", "lost")
DEFAULT_SHARES: dict[str, float] = {
    "champions": 0.10,
    "loyal": 0.20,
    "new": 0.15,
    "at_risk": 0.15,
    "bargain_hunters": 0.20,
    "lost": 0.20,
}
GENDERS: tuple[str, ...] = ("female", "male", "other")
REGIONS: tuple[str, ...] = ("Capital", "North", "South", "East", "West")
CHANNELS: tuple[str, ...] = ("web", "store", "app")
AGE_BANDS: tuple[str, ...] = ("18-29", "30-44", "45-59", "60+")
CATEGORIES: tuple[str, ...] = ("fashion", "electronics", "home", "beauty", "grocery", "sports")
TIERS: tuple[str, ...] = ("premium", "standard", "discount")
#: Default bound on the distinct review texts of a dataset (their embedding is the cold cost).
DISTINCT_REVIEWS = 1500
NEXT_PERIOD_DAYS = 90

_SIGMA0, _SIGMA1 = 0.1, 0.9
# --- behaviour centres, one row per segment (order of SEGMENTS) ---------------------------
# median recency (days before the end of the span), its log-sigma scale
_RECENCY = np.array([8.0, 25.0, 14.0, 200.0, 30.0, 420.0])
_RECENCY_SIGMA = np.array([0.9, 0.8, 0.9, 0.35, 0.8, 0.25])
# median invoices over the span (>= 1), log-sigma scale
_INVOICES = np.array([16.0, 6.0, 1.3, 6.0, 11.0, 1.6])
_INVOICES_SIGMA = np.array([0.5, 0.5, 0.6, 0.5, 0.5, 0.6])
# median tenure (days from first to last purchase)
_TENURE = np.array([550.0, 480.0, 20.0, 420.0, 420.0, 60.0])
# mean lines per invoice, mean extra units per line
_LINES = np.array([2.4, 2.0, 1.7, 1.9, 2.6, 1.4])
_EXTRA_UNITS = np.array([0.3, 0.5, 0.3, 0.4, 0.7, 0.3])
# share of lines bought on sale (30 % off)
_SALE = np.array([0.05, 0.15, 0.20, 0.15, 0.60, 0.20])
_TIER_PROBS = np.array(
    [
        [0.70, 0.25, 0.05],
        [0.20, 0.65, 0.15],
        [0.30, 0.50, 0.20],
        [0.35, 0.50, 0.15],
        [0.03, 0.22, 0.75],
        [0.10, 0.40, 0.50],
    ]
)
_CATEGORY_PROBS = np.array(
    [
        [0.30, 0.25, 0.15, 0.15, 0.05, 0.10],
        [0.10, 0.10, 0.25, 0.15, 0.30, 0.10],
        [0.25, 0.20, 0.15, 0.15, 0.10, 0.15],
        [0.15, 0.30, 0.20, 0.10, 0.10, 0.15],
        [0.20, 0.10, 0.20, 0.10, 0.30, 0.10],
        [0.25, 0.15, 0.15, 0.15, 0.15, 0.15],
    ]
)
_CHANNEL_PROBS = np.array(
    [
        [0.35, 0.15, 0.50],
        [0.25, 0.55, 0.20],
        [0.55, 0.15, 0.30],
        [0.45, 0.40, 0.15],
        [0.55, 0.10, 0.35],
        [0.30, 0.60, 0.10],
    ]
)
# probability of 0, 1, 2, 3 reviews
_REVIEW_COUNT_PROBS = np.array(
    [
        [0.02, 0.13, 0.35, 0.50],
        [0.02, 0.13, 0.35, 0.50],
        [0.03, 0.15, 0.35, 0.47],
        [0.02, 0.13, 0.35, 0.50],
        [0.02, 0.13, 0.35, 0.50],
        [0.04, 0.15, 0.35, 0.46],
    ]
)
# share of customers still buying in the next period, and their purchase rate relative to
# their own history
_NEXT_ACTIVE = np.array([0.95, 0.85, 0.55, 0.30, 0.70, 0.04])
_NEXT_RATE = np.array([1.2, 1.8, 1.5, 0.6, 1.2, 0.5])

# --- demographics: population and per-segment profiles --------------------------------------
# Categorical attributes: log-odds of category c for segment g are
# log(population[c]) + sqrt(s / (1 - s)) * affinity[g, c]   (s = demographic_strength).
_GENDER_POP = np.array([0.49, 0.48, 0.03])
_GENDER_AFFINITY = np.array(
    [
        [0.6, -0.6, 0.0],
        [0.3, -0.3, 0.0],
        [-0.4, 0.4, 0.3],
        [-0.5, 0.5, 0.0],
        [0.5, -0.5, 0.0],
        [-0.6, 0.6, 0.0],
    ]
)
_REGION_POP = np.array([0.24, 0.19, 0.21, 0.18, 0.18])
# Each segment has a home region (lost: two). A strong link is needed at the default
# strength: a one-hot region that is mostly noise dominates k-means distances.
_REGION_SCALE = 3.25
_REGION_AFFINITY = _REGION_SCALE * np.array(
    [
        [1.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 1.0],
        [0.0, 0.8, 0.0, 0.8, 0.0],
    ]
)
# Numeric attributes: value = mean + sd * (sqrt(s) * offset[g] + sqrt(1 - s) * N(0, 1)),
# offsets standardised over the segment shares at load time.
_AGE_POP_MEAN, _AGE_POP_SD = 45.0, 14.0
_INCOME_MEDIAN, _INCOME_SIGMA = 42_000.0, 0.40
_AGE_SEG = np.array([-0.4, 0.9, -1.5, 0.3, -0.9, 1.5])
_INCOME_SEG = np.array([1.6, 0.4, -0.6, 0.2, -1.1, -0.5])

# --- product catalogue -----------------------------------------------------------------------
_ITEMS: dict[str, tuple[str, ...]] = {
    "fashion": (
        "leather handbag",
        "cotton socks",
        "wool scarf",
        "denim jacket",
        "silk blouse",
        "linen shirt",
        "suede boots",
        "canvas sneakers",
        "cashmere sweater",
        "leather belt",
        "cotton t-shirt",
        "wool coat",
        "straw hat",
        "knit beanie",
        "satin dress",
    ),
    "electronics": (
        "wireless headphones",
        "bluetooth speaker",
        "smart watch",
        "phone charger",
        "usb cable",
        "tablet stand",
        "gaming mouse",
        "mechanical keyboard",
        "webcam",
        "power bank",
        "hdmi adapter",
        "fitness tracker",
        "e-reader",
        "desk lamp",
        "portable ssd",
    ),
    "home": (
        "ceramic mug",
        "scented candle",
        "cotton towel set",
        "linen bedding",
        "glass vase",
        "wooden cutting board",
        "cast iron pan",
        "throw blanket",
        "picture frame",
        "storage basket",
        "table lamp",
        "cushion cover",
        "wall clock",
        "dinner plate set",
        "kitchen knife",
    ),
    "beauty": (
        "face cream",
        "lip balm",
        "shampoo",
        "perfume",
        "body lotion",
        "nail polish",
        "hair serum",
        "face mask",
        "hand soap",
        "eye shadow palette",
        "sunscreen",
        "bath salts",
        "makeup brush set",
        "shower gel",
        "beard oil",
    ),
    "grocery": (
        "ground coffee",
        "green tea",
        "olive oil",
        "dark chocolate",
        "pasta",
        "honey jar",
        "granola",
        "spice set",
        "jam",
        "rice",
        "biscuits",
        "nut mix",
        "sparkling water",
        "tomato sauce",
        "breakfast cereal",
    ),
    "sports": (
        "yoga mat",
        "running shoes",
        "water bottle",
        "gym bag",
        "resistance bands",
        "tennis balls",
        "cycling gloves",
        "sports socks",
        "dumbbell set",
        "jump rope",
        "hiking backpack",
        "swim goggles",
        "training shorts",
        "foam roller",
        "headband",
    ),
}
_CATEGORY_PRICE = np.array([38.0, 85.0, 30.0, 16.0, 6.0, 40.0])
_TIER_WORDS = {
    "premium": ("premium", "luxury", "designer"),
    "standard": ("classic", "everyday", "standard"),
    "discount": ("discount", "budget", "value"),
}
_TIER_PRICE = np.array([2.6, 1.0, 0.45])
ITEMS_PER_TIER = 15
SALE_DISCOUNT = 0.3


def product_catalogue() -> pd.DataFrame:
    """The fixed product catalogue: ``product_id, description, category, tier, price``.

    Product ``p`` has category ``p // 45``, tier ``(p // 15) % 3`` and item ``p % 15``.

    >>> catalogue = product_catalogue()
    >>> len(catalogue), catalogue["description"].is_unique
    (270, True)
    """
    rows = []
    for c, category in enumerate(CATEGORIES):
        for t, tier in enumerate(TIERS):
            words = _TIER_WORDS[tier]
            for i, item in enumerate(_ITEMS[category]):
                # a fixed spread of prices within a category: 0.6 .. 1.4 of its base price
                spread = 0.6 + 0.8 * ((i * 7) % ITEMS_PER_TIER) / (ITEMS_PER_TIER - 1)
                price = round(float(_CATEGORY_PRICE[c] * _TIER_PRICE[t] * spread), 2)
                rows.append(
                    {
                        "product_id": f"P{len(rows) + 1:04d}",
                        "description": f"{words[(i // 2) % len(words)]} {item}",
                        "category": category,
                        "tier": tier,
                        "price": max(price, 0.5),
                    }
                )
    return pd.DataFrame(rows)


def _draw_rows(cumulative: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws: for each ``k``, the category of ``u[k]`` under ``cumulative[rows[k]]``.

    ``cumulative`` has one row of cumulative probabilities per entity (segment or customer).
    Loops over the (few) categories, never over customers or lines; gathers from contiguous
    float32 columns to keep memory traffic low at millions of lines.
    """
    columns = np.ascontiguousarray(cumulative[:, :-1].T, dtype=np.float32)
    out = np.zeros(len(u), dtype=np.int8)
    for column in columns:
        out += u > column[rows]
    return out


def _dirichlet_rows(rng: np.random.Generator, centres: np.ndarray, concentration: float):
    """One probability vector per row, Dirichlet around ``centres`` (rows sum to 1)."""
    gamma = rng.standard_gamma(centres * concentration)
    gamma = np.maximum(gamma, 1e-12)
    return gamma / gamma.sum(axis=1, keepdims=True)


def _logit_cdf(population: np.ndarray, affinity: np.ndarray, effect: float) -> np.ndarray:
    """Cumulative category probabilities per segment: ``population · exp(effect · affinity)``."""
    logits = np.log(population)[None, :] + effect * affinity
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)


def _standardised(offsets: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """``offsets`` centred and scaled to mean 0, variance 1 under the segment ``shares``."""
    centred = offsets - np.dot(shares, offsets)
    return centred / np.sqrt(np.dot(shares, centred**2))


def _exact_counts(n: int, shares: np.ndarray) -> np.ndarray:
    """Segment sizes summing to ``n`` (largest-remainder rounding of ``n * shares``)."""
    raw = n * shares
    counts = np.floor(raw).astype(np.int64)
    rest = n - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:rest]] += 1
    return counts


def _ids(prefix: str, n: int, width: int) -> pd.Index:
    """``prefix`` + zero-padded ``1..n`` as a string index (digits written as bytes, no loop
    over ids; a million ids take well under a second)."""
    width = max(width, len(str(n)))
    size = len(prefix) + width
    chars = np.empty((size, n), dtype=np.uint8)
    chars[: len(prefix)] = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)[:, None]
    number = np.arange(1, n + 1, dtype=np.uint64)
    for j in range(size - 1, len(prefix) - 1, -1):
        number, digit = np.divmod(number, np.uint64(10))
        chars[j] = digit
        chars[j] += ord("0")
    data = np.ascontiguousarray(chars.T)
    offsets = np.arange(0, (n + 1) * size, size, dtype=np.int64)
    array = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    return pd.Index(pd.array(array.cast(pa.string()), dtype="str"))


class SyntheticDataset(CachedAdapter):
    """Seeded customers with six planted segments (see the module docstring for the table).

    Parameters
    ----------
    n_customers
        Number of customers (1,000 to 1,000,000+).
    demographic_strength
        0 = demographics independent of the segment, 1 = determined by it; the share of the
        variance of age and log-income the segment explains.
    noise
        Spread of behaviour around the segment centres: 0 = segments as distinct as their
        centres allow, 1 = heavy overlap; 0.5 (default) is a realistic middle where no
        single feature block recovers the segments (see "Calibration").
    text_noise
        Share of reviews whose topic is drawn from another segment.
    distinct_reviews
        Bound on the distinct review texts (shared equally by the six topics, each used
        equally often); ``None`` gives every review its own text. The embedding of the texts
        is the cost of a first text run with an empty cache.
    seed
        Seed of every random draw (same parameters and seed → identical frames).
    segment_shares
        Share of each of the six segments (keys :data:`SEGMENTS`, summing to 1); default
        :data:`DEFAULT_SHARES` (10/20/15/15/20/20 %). Sizes are exact (largest remainder).
    end_date
        Last day of the observed span (transactions fall in ``span_days`` days ending here).
    span_days
        Length of the observed span in days.
    cache
        Keep the generated dataset in the dataset cache (:mod:`segbench.datasets.cache`, under
        ``SEGBENCH_CACHE_DIR``), keyed on every parameter above and
        :attr:`cache_version`: the second load with the same parameters reads it instead of
        generating (at 1M customers a few seconds instead of about 20). The content and its
        fingerprint are the same either way.

    Example
    -------
    >>> data = SyntheticDataset(n_customers=600, noise=0.3, seed=7).load()
    >>> data.transactions.columns.tolist()[:3]
    ['customer_id', 'invoice_id', 'timestamp']
    >>> bool(data.outcomes["churned"].groupby(data.labels).mean()["lost"] > 0.8)
    True
    """

    name = "synthetic"
    #: Version of the generator's output, part of the cache key: bump it whenever a code
    #: change alters the generated content (and say so in the changelog of this docstring).
    cache_version = 1

    def __init__(
        self,
        n_customers: int = 5000,
        demographic_strength: float = 0.5,
        noise: float = 0.5,
        text_noise: float = 0.2,
        seed: int = 0,
        segment_shares: Mapping[str, float] | None = None,
        end_date: str = "2024-12-31",
        span_days: int = 731,
        distinct_reviews: int | None = DISTINCT_REVIEWS,
        cache: bool = True,
    ) -> None:
        self.n_customers = n_customers
        self.demographic_strength = demographic_strength
        self.noise = noise
        self.text_noise = text_noise
        self.seed = seed
        self.segment_shares = segment_shares
        self.end_date = end_date
        self.span_days = span_days
        self.distinct_reviews = distinct_reviews
        self.cache = cache

    # -- parameter checks -----------------------------------------------------------------
    def _shares(self) -> np.ndarray:
        given = dict(DEFAULT_SHARES if self.segment_shares is None else self.segment_shares)
        unknown = sorted(set(given) - set(SEGMENTS))
        missing = [s for s in SEGMENTS if s not in given]
        if unknown or missing:
            raise ConfigError(
                f"synthetic dataset: segment_shares must name exactly the segments "
                f"{list(SEGMENTS)}; unknown {unknown}, missing {missing}"
            )
        shares = np.array([float(given[s]) for s in SEGMENTS])
        if (shares < 0).any() or not np.isclose(shares.sum(), 1.0, atol=1e-6):
            raise ConfigError(
                f"synthetic dataset: segment_shares must be >= 0 and sum to 1; "
                f"found {dict(zip(SEGMENTS, shares.tolist(), strict=True))} "
                f"(sum {shares.sum():.4f})"
            )
        return shares / shares.sum()

    def _check(self) -> None:
        if (
            not isinstance(self.n_customers, int | np.integer | float)
            or int(self.n_customers) != self.n_customers
            or self.n_customers < len(SEGMENTS)
        ):
            raise ConfigError(
                f"synthetic dataset: n_customers must be an integer >= {len(SEGMENTS)}; "
                f"found {self.n_customers!r}"
            )
        for knob in ("demographic_strength", "noise", "text_noise"):
            value = getattr(self, knob)
            if not 0.0 <= float(value) <= 1.0:
                raise ConfigError(f"synthetic dataset: {knob} must be in [0, 1]; found {value!r}")
        limit = self.distinct_reviews
        if limit is not None and (
            isinstance(limit, bool) or int(limit) != limit or limit < len(SEGMENTS)
        ):
            raise ConfigError(
                f"synthetic dataset: distinct_reviews must be an integer >= {len(SEGMENTS)} or "
                f"null (every review its own text); found {limit!r}"
            )
        if int(self.span_days) < 180:
            raise ConfigError(
                f"synthetic dataset: span_days must be >= 180; found {self.span_days!r}"
            )
        try:
            pd.Timestamp(self.end_date)
        except (TypeError, ValueError) as error:
            raise ConfigError(
                f"synthetic dataset: end_date must be a date like '2024-12-31'; "
                f"found {self.end_date!r}"
            ) from error

    def expected_customers(self) -> int | None:
        self._check()
        return int(self.n_customers)

    # -- generation -----------------------------------------------------------------------
    def sources(self) -> list:
        """No files: the dataset is defined by its parameters alone (the cache key)."""
        return []

    def load(self) -> CustomerData:
        """The dataset: read from the dataset cache when these parameters were generated
        before (``cache=True``), else generated (:meth:`build`)."""
        self._check()
        return super().load()

    def build(self) -> CustomerData:
        """Generate the dataset (at 1M customers: ~20 s of CPU and 2.9 GB peak; see "Scale")."""
        self._check()
        shares = self._shares()
        n = int(self.n_customers)
        span = int(self.span_days)
        noise = float(self.noise)
        streams = np.random.SeedSequence(int(self.seed)).spawn(6)
        rng_seg, rng_demo, rng_cust, rng_tx, rng_text, rng_out = (
            np.random.default_rng(s) for s in streams
        )

        counts = _exact_counts(n, shares)
        segment = rng_seg.permutation(np.repeat(np.arange(len(SEGMENTS), dtype=np.int8), counts))
        ids = _ids("S", n, 7)
        ids.name = "customer_id"

        customers, sensitive = self._demographics(rng_demo, segment, ids, shares)
        behaviour = self._behaviour(rng_cust, segment, n, span, noise)
        transactions, spend = self._transactions(rng_tx, segment, behaviour, ids, span)
        texts = self._texts(rng_text, segment, ids)
        outcomes = self._outcomes(rng_out, segment, behaviour, spend, ids)
        labels = pd.Series(
            pd.Categorical.from_codes(segment, categories=list(SEGMENTS)),
            index=ids,
            name="segment",
        )

        sizes = {s: int(c) for s, c in zip(SEGMENTS, counts, strict=True)}
        return finish_dataset(
            "synthetic",
            customers,
            transactions=transactions,
            texts=texts,
            sensitive=sensitive,
            labels=labels,
            outcomes=outcomes,
            demographic_columns=("age", "income", "gender", "region"),
            source="segbench synthetic generator",
            licence="CC0 (generated)",
            analysis_date=day_after(transactions["timestamp"]),
            notes={
                "segment_sizes": sizes,
                "segment_shares": dict(zip(SEGMENTS, shares.tolist(), strict=True)),
                "params": self._params(),
                "n_distinct_reviews": len(texts["text"].cat.categories),
                "catalogue_size": len(CATEGORIES) * len(TIERS) * ITEMS_PER_TIER,
                "span": [str(self._start().date()), str(pd.Timestamp(self.end_date).date())],
                "next_period_days": NEXT_PERIOD_DAYS,
                "n_invoices": len(transactions["invoice_id"].cat.categories),
                "n_transaction_lines": len(transactions),
                "n_reviews": len(texts),
            },
        )

    def cache_params(self) -> dict[str, Any]:
        """Every parameter that defines the content (normalised: ``1e6`` and ``1000000`` are
        one entry), the segment shares and :attr:`cache_version`."""
        return {
            **self._params(),
            "end_date": str(pd.Timestamp(self.end_date)),
            "segment_shares": self._shares().tolist(),
            "cache_version": self.cache_version,
        }

    def _params(self) -> dict[str, Any]:
        return {
            "n_customers": int(self.n_customers),
            "demographic_strength": float(self.demographic_strength),
            "noise": float(self.noise),
            "text_noise": float(self.text_noise),
            "seed": int(self.seed),
            "end_date": str(self.end_date),
            "span_days": int(self.span_days),
            "distinct_reviews": None
            if self.distinct_reviews is None
            else int(self.distinct_reviews),
        }

    def _start(self) -> pd.Timestamp:
        return pd.Timestamp(self.end_date).normalize() - pd.Timedelta(days=int(self.span_days) - 1)

    def _demographics(
        self, rng: np.random.Generator, segment: np.ndarray, ids: pd.Index, shares: np.ndarray
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        n = len(segment)
        s = float(self.demographic_strength)
        w = np.sqrt(s)
        effect = np.sqrt(s / (1.0 - s)) if s < 1.0 else 1e3
        gender = _draw_rows(
            _logit_cdf(_GENDER_POP, _GENDER_AFFINITY, effect), segment, rng.random(n)
        )
        region = _draw_rows(
            _logit_cdf(_REGION_POP, _REGION_AFFINITY, effect), segment, rng.random(n)
        )

        # the segment explains a share s of the variance of age and of log-income
        z_age = _standardised(_AGE_SEG, shares)[segment]
        z_income = _standardised(_INCOME_SEG, shares)[segment]
        age = _AGE_POP_MEAN + _AGE_POP_SD * (w * z_age + np.sqrt(1 - s) * rng.standard_normal(n))
        age = np.clip(np.rint(age), 18, 90)
        age = age.astype(np.int64)
        # income peaks around fifty (life cycle), plus the segment offset
        life = -0.0002 * (age - 50.0) ** 2
        log_income = (
            np.log(_INCOME_MEDIAN)
            + life
            + _INCOME_SIGMA * (w * z_income + np.sqrt(1 - s) * rng.standard_normal(n))
        )
        income = np.round(np.exp(log_income), -1)

        gender_cat = pd.Categorical.from_codes(gender, categories=list(GENDERS))
        region_cat = pd.Categorical.from_codes(region, categories=list(REGIONS))
        band = np.searchsorted(np.array([30, 45, 60]), age, side="right").astype(np.int8)
        band_cat = pd.Categorical.from_codes(band, categories=list(AGE_BANDS), ordered=True)
        customers = pd.DataFrame(
            {"age": age, "income": income, "gender": gender_cat, "region": region_cat},
            index=ids,
        )
        sensitive = pd.DataFrame(
            {"gender": gender_cat, "age_band": band_cat, "region": region_cat}, index=ids
        )
        return customers, sensitive

    def _behaviour(
        self, rng: np.random.Generator, segment: np.ndarray, n: int, span: int, noise: float
    ) -> dict[str, np.ndarray]:
        """Per-customer latent behaviour: recency, invoices, tenure, basket and preferences."""
        sigma = _SIGMA0 + _SIGMA1 * noise

        def lognormal(centre: np.ndarray, scale: np.ndarray | float) -> np.ndarray:
            z = rng.standard_normal(n)
            return centre[segment] * np.exp(sigma * np.asarray(scale)[segment] * z)

        ones = np.ones(len(SEGMENTS))
        recency = np.clip(lognormal(_RECENCY, _RECENCY_SIGMA), 0.0, span - 1.0)
        invoices = 1 + rng.poisson(np.maximum(lognormal(_INVOICES, _INVOICES_SIGMA) - 1.0, 0.0))
        tenure = lognormal(_TENURE, 0.5 * ones)
        is_new = segment == SEGMENTS.index("new")
        # new customers made their first purchase within the last 90 days
        tenure = np.where(is_new, np.minimum(tenure, np.maximum(90.0 - recency, 0.0)), tenure)
        tenure = np.minimum(tenure, span - 1.0 - recency)
        tenure = np.where(invoices > 1, np.maximum(tenure, 1.0), 0.0)
        lines = np.clip(lognormal(_LINES, 0.4 * ones), 1.0, 8.0)
        units = lognormal(_EXTRA_UNITS + 0.05, 0.6 * ones)

        concentration = 2.0 + 60.0 * (1.0 - noise) ** 2
        return {
            "recency": recency,
            "invoices": invoices.astype(np.int32),
            "tenure": tenure,
            "lines": lines,
            "units": units,
            "tier": _dirichlet_rows(rng, _TIER_PROBS[segment], concentration),
            "category": _dirichlet_rows(rng, _CATEGORY_PROBS[segment], concentration),
            "channel": _dirichlet_rows(rng, _CHANNEL_PROBS[segment], concentration),
        }

    def _transactions(
        self,
        rng: np.random.Generator,
        segment: np.ndarray,
        b: dict[str, np.ndarray],
        ids: pd.Index,
        span: int,
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """Invoices and their lines; returns the lines and each customer's total spend."""
        n = len(segment)
        invoices = b["invoices"]
        n_inv = int(invoices.sum())
        # -- invoices: the last on the customer's last day, the first ``tenure`` days earlier,
        #    the others uniformly in between
        cust = np.repeat(np.arange(n, dtype=np.int32), invoices)
        first_of = np.cumsum(invoices, dtype=np.int64) - invoices
        k = np.arange(n_inv, dtype=np.int64) - np.repeat(first_of, invoices)
        u = rng.random(n_inv, dtype=np.float32)
        u[k == 0] = 0.0
        u[k == 1] = 1.0
        del k, first_of
        last_day = (span - 1) - np.floor(b["recency"])
        day = np.rint(last_day[cust] - b["tenure"][cust] * u).astype(np.int64)
        del u
        seconds = day * 86_400 + rng.integers(8 * 3600, 22 * 3600, size=n_inv)
        del day
        channel = _draw_rows(np.cumsum(b["channel"], axis=1), cust, rng.random(n_inv, np.float32))
        n_lines = np.minimum(1 + rng.poisson(b["lines"][cust] - 1.0), 10).astype(np.int32)
        # invoice numbers follow time
        order = np.argsort(seconds, kind="stable")
        cust, seconds = cust[order], seconds[order]
        channel, n_lines = channel[order], n_lines[order]
        del order

        # -- lines --------------------------------------------------------------------------
        inv_of_line = np.repeat(np.arange(n_inv, dtype=np.int32), n_lines)
        del n_lines
        n_rows = len(inv_of_line)
        line_cust = cust[inv_of_line]
        del cust
        category = _draw_rows(
            np.cumsum(b["category"], axis=1), line_cust, rng.random(n_rows, np.float32)
        )
        tier = _draw_rows(np.cumsum(b["tier"], axis=1), line_cust, rng.random(n_rows, np.float32))
        product = rng.integers(0, ITEMS_PER_TIER, size=n_rows, dtype=np.int16)
        product += (category.astype(np.int16) * len(TIERS) + tier) * ITEMS_PER_TIER
        del category, tier
        catalogue = product_catalogue()
        unit_price = catalogue["price"].to_numpy()[product]
        sale = _SALE.astype(np.float32)[segment]
        on_sale = rng.random(n_rows, dtype=np.float32) < sale[line_cust]
        unit_price[on_sale] *= 1.0 - SALE_DISCOUNT
        np.round(unit_price, 2, out=unit_price)
        del on_sale
        quantity = rng.poisson(b["units"][line_cust]).astype(np.int32)
        quantity += 1
        spend = np.bincount(line_cust, weights=quantity * unit_price, minlength=n)

        start_ns = self._start().as_unit("ns").value
        timestamp = seconds[inv_of_line]
        timestamp *= 1_000_000_000
        timestamp += start_ns
        invoice_ids = _ids("I", n_inv, 8)
        transactions = pd.DataFrame(
            {
                "customer_id": pd.Categorical.from_codes(line_cust, dtype=_id_dtype(ids)),
                "invoice_id": pd.Categorical.from_codes(
                    inv_of_line, dtype=pd.CategoricalDtype(invoice_ids)
                ),
                "timestamp": timestamp.view("datetime64[ns]"),
                "product_id": pd.Categorical.from_codes(
                    product, categories=pd.Index(catalogue["product_id"], dtype="str")
                ),
                "description": pd.Categorical.from_codes(
                    product, categories=pd.Index(catalogue["description"], dtype="str")
                ),
                "quantity": quantity,
                "unit_price": unit_price,
                "channel": pd.Categorical.from_codes(
                    channel[inv_of_line], categories=list(CHANNELS)
                ),
            },
            copy=False,
        )
        return transactions, spend

    def _texts(self, rng: np.random.Generator, segment: np.ndarray, ids: pd.Index) -> pd.DataFrame:
        """Reviews: how many each customer writes, on which segment's topic, which text.

        The reviews on topic ``s`` take the first ``k`` texts of ``s``'s fixed sequence
        (:func:`~segbench.datasets.synthetic_reviews.segment_reviews`), ``k`` the number of
        those reviews or ``distinct_reviews / 6`` (rounded up), whichever is smaller; each of
        the ``k`` texts is used equally often (give or take one), in random order.
        """
        n = len(segment)
        n_reviews = _draw_rows(np.cumsum(_REVIEW_COUNT_PROBS, axis=1), segment, rng.random(n))
        cust = np.repeat(np.arange(n, dtype=np.int32), n_reviews)
        own = segment[cust].astype(np.int64)
        off_topic = rng.random(len(cust)) < float(self.text_noise)
        # another segment, uniformly among the other five
        other = (own + rng.integers(1, len(SEGMENTS), size=len(cust))) % len(SEGMENTS)
        topic = np.where(off_topic, other, own)
        limit = self.distinct_reviews
        per_segment = None if limit is None else -(-int(limit) // len(SEGMENTS))
        code = np.empty(len(cust), dtype=np.int32)
        texts: list[str] = []
        for s in range(len(SEGMENTS)):
            rows = np.flatnonzero(topic == s)
            k = len(rows) if per_segment is None else min(len(rows), per_segment)
            code[rows] = len(texts) + rng.permutation(len(rows)) % max(k, 1)
            texts += segment_reviews(s, k)
        return pd.DataFrame(
            {
                "customer_id": pd.Categorical.from_codes(cust, dtype=_id_dtype(ids)),
                "text": pd.Categorical.from_codes(code, categories=pd.Index(texts, dtype="str")),
            }
        )

    def _outcomes(
        self,
        rng: np.random.Generator,
        segment: np.ndarray,
        b: dict[str, np.ndarray],
        spend: np.ndarray,
        ids: pd.Index,
    ) -> pd.DataFrame:
        """Spend and churn in the :data:`NEXT_PERIOD_DAYS` days after the analysis date.

        A customer is still active with the segment's probability; an active customer buys
        at its own historical rate (invoices per day over its tenure, damped for short
        histories) times the segment's momentum, with its own mean basket value.
        """
        n = len(segment)
        active = rng.random(n) < _NEXT_ACTIVE[segment]
        rate = b["invoices"] / (b["tenure"] + NEXT_PERIOD_DAYS)
        expected = np.where(active, rate * NEXT_PERIOD_DAYS * _NEXT_RATE[segment], 0.0)
        next_invoices = rng.poisson(expected)
        basket = spend / b["invoices"]
        future = next_invoices * basket * rng.lognormal(0.0, 0.3, size=n)
        return pd.DataFrame(
            {"next_period_spend": np.round(future, 2), "churned": next_invoices == 0},
            index=ids,
        )


def _id_dtype(ids: pd.Index) -> pd.CategoricalDtype:
    """A categorical dtype whose categories are the customer ids (compact id columns)."""
    return pd.CategoricalDtype(pd.Index(ids, dtype="str", name=None))
