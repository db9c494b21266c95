"""Review texts of the ``synthetic`` dataset: composed, varied, and a fixed sequence per segment.

Each review is composed from the writer's segment's sentences (what the segment cares about:
quality, routine, a first order, delays, prices, leaving), neutral sentences any customer
writes (the item, sizing, packaging, who it was for), an optional closer and star rating, and
surface noise: slots filled with items, times and numbers, British or American spelling,
lower case, a missing final stop, and typos (a dropped, doubled or swapped letter). Reviews
are one to six sentences long (median three).

Segment ``s`` has a fixed, endless sequence of distinct reviews; its ``i``-th review depends
only on ``(s, i)`` (drawn in blocks of :data:`BLOCK` from a generator seeded by the block),
never on a dataset's size or seed. A dataset draws its reviews from the first entries of each
sequence (:func:`review_pool`), so the texts of a smaller dataset are texts of a larger one and
an embedding cache filled once serves every size and seed.

>>> pool = review_pool(3)
>>> len(pool), pool[:2] == review_pool(2)[:2]
(18, True)
>>> review_topics(3)[:4].tolist()
[0, 0, 0, 1]
"""

from __future__ import annotations

import random
import re

import numpy as np

#: Reviews generated per seeded block of a segment's sequence.
BLOCK = 64
_SALT = 0x5EB0

# The segments, in the order of segbench.datasets.synthetic.SEGMENTS.
_SEGMENT_SENTENCES: tuple[tuple[str, ...], ...] = (
    # champions: quality, premium ranges, loyalty by enthusiasm
    (
        "Absolutely love this shop, the quality is superb.",
        "The {item} is beautifully made and worth every penny.",
        "Premium quality as always, the {item} feels luxurious.",
        "I have bought from the designer range {n} times now and never been let down.",
        "Top quality materials and flawless craftsmanship on the {item}.",
        "The premium collection is stunning.",
        "You can tell the {item} is made to last, excellent quality.",
        "Not the cheapest, but the quality is exceptional.",
        "Every premium item I buy here is of superb quality.",
        "The finish on the {item} is first class.",
        "My favourite shop by far, outstanding quality every time.",
        "Their luxury line is the best I have found anywhere.",
        "I happily pay more for quality like this.",
        "The attention to detail on the {item} is amazing.",
        "Already planning my next order from the premium range.",
        "Gorgeous {item}, the materials are really high end.",
    ),
    # loyal: routine, reliability, years of shopping
    (
        "I have been a regular customer here for {years} years.",
        "Reliable as ever, my usual shop.",
        "Another dependable order from my regular shop.",
        "I order the {item} every month and it is always the same good quality.",
        "Consistent quality and friendly staff, as usual.",
        "I know what I will get and it is always fine.",
        "Delivery was on time as usual and everything was as described.",
        "Nothing fancy, but dependable and consistent.",
        "The everyday range does the job reliably.",
        "I reorder the same {item} regularly, never a problem.",
        "Fair prices and steady quality over the years.",
        "My go-to place for everyday basics like the {item}.",
        "Been shopping here since {since}, still happy.",
        "The usual items are always in stock.",
        "Service is as reliable as it was when I started shopping here.",
        "Same good experience as every other time.",
    ),
    # new: first order, first impressions
    (
        "This was my first order from this shop.",
        "First time buying here, the {item} arrived {time}.",
        "I discovered this shop recently and tried my first order.",
        "A friend recommended them so I placed my first order.",
        "First impressions are good, the {item} seems fine.",
        "Signing up was quick and the website is easy to use for a first order.",
        "The welcome voucher for new customers was a nice touch.",
        "Not sure yet after one order, but my first {item} looks as pictured.",
        "As a new customer I found checkout simple.",
        "Still getting to know the range, this was my first purchase.",
        "For a first order the tracking was clear.",
        "First time trying them after seeing an advert.",
        "I am new here and the first delivery went smoothly.",
        "We will see how the second order goes after this first one.",
        "A promising first experience overall.",
        "Curious to explore the rest of the shop after my first order.",
    ),
    # at_risk: delays, complaints, thinking of leaving
    (
        "The delivery was {weeks} late and nobody answered my complaint.",
        "Used to love them, but lately every delivery is late.",
        "Customer service took ages to reply about the delay.",
        "The {item} arrived late and damaged, and the return is a hassle.",
        "Orders keep getting delayed without any explanation.",
        "Delivery is slower and slower while prices went up.",
        "I waited on hold for an hour to complain about a late order.",
        "My refund is still delayed after {weeks}.",
        "The tracking said delivered but the parcel came {weeks} later.",
        "Not the shop it used to be, everything is delayed.",
        "Thinking about switching to another shop.",
        "One more delay and I am leaving.",
        "Considering taking my business elsewhere if this does not improve.",
        "They need to fix the delays or they will lose me.",
        "My last {n} orders were all late.",
        "Getting frustrated with the constant delays.",
    ),
    # bargain hunters: prices, discounts, sales
    (
        "Great discounts this week, got the {item} for {pct} off.",
        "Grabbed a bargain in the sale.",
        "I only buy here when there is a discount.",
        "The clearance sale is the best time to shop.",
        "Cheap prices and great deals on the {item}.",
        "Waited for the sale and the discount paid off.",
        "Used a coupon code again and saved {pct}.",
        "The best prices I have found for the {item}.",
        "Got {n} for the price of one with a discount voucher.",
        "Half price in the sale, could not say no at that price.",
        "Stocked up during the flash sale.",
        "Compared prices everywhere and this was the cheapest deal.",
        "The value range is fine for the low price I paid.",
        "Free shipping on sale items makes the deals even cheaper.",
        "I will wait for the next sale before buying more.",
        "Signed up for price alerts so I never miss a deal.",
    ),
    # lost: disappointed, stopped buying
    (
        "I stopped buying here a long time ago.",
        "Have not bought anything from them in over a year.",
        "The {item} I bought was disappointing and fell apart.",
        "The product was disappointing and nothing like the description.",
        "The quality was poor, so I stopped ordering.",
        "My order was wrong and nobody cared, so I gave up on them.",
        "The experience was so disappointing that I closed my account.",
        "I bought once, it disappointed me, and that was it.",
        "Returned the {item} and never came back.",
        "Used to be a customer, but not anymore.",
        "Deleted the app and unsubscribed from their emails.",
        "I have moved on to other shops.",
        "Never buying from them again.",
        "Very disappointed, I no longer shop here.",
        "That was my last order with them.",
        "I do not miss them at all.",
    ),
)

_CLOSERS: tuple[tuple[str, ...], ...] = (
    (
        "Highly recommended!",
        "Ten out of ten.",
        "Worth every penny.",
        "Keep up the amazing quality!",
        "Love it.",
        "Nothing else comes close.",
    ),
    (
        "See you next month.",
        "Satisfied as always.",
        "No complaints.",
        "I will keep shopping here.",
        "A dependable shop.",
        "Will be back for my usual order.",
    ),
    (
        "So far, so good.",
        "Might order again soon.",
        "A good start.",
        "Looking forward to trying more.",
        "We will see.",
        "Nice welcome.",
    ),
    (
        "Very close to leaving for good.",
        "Starting to look at other shops.",
        "Please sort it out.",
        "Not impressed lately.",
        "Last chance.",
        "Really disappointing service.",
    ),
    (
        "Keep the deals coming!",
        "Please send more coupons.",
        "Worth it at that price.",
        "A cheap deal is a good deal.",
        "Cheapest around.",
        "Bargain!",
    ),
    (
        "Would not recommend.",
        "Save your money.",
        "Not worth it.",
        "Goodbye.",
        "Avoid.",
        "Done with them.",
    ),
)

# star ratings each segment gives (the low and high end)
_STARS: tuple[tuple[int, int], ...] = ((5, 5), (4, 5), (3, 5), (1, 3), (3, 5), (1, 2))

# what anyone writes, whatever their segment
_GENERIC: tuple[str, ...] = (
    "I ordered the {item} {time}.",
    "Bought the {item} as a gift for {who}.",
    "Got the {item} for {who}.",
    "The {item} is {fit}.",
    "The colour is slightly different from the photos.",
    "Packaging was fine.",
    "It came in a plain box.",
    "Delivery took {days} days.",
    "Paid by card, no issues at checkout.",
    "Ordered through the app.",
    "Picked it up in store.",
    "I read the other reviews before buying.",
    "The size guide was helpful.",
    "It looks just like the picture.",
    "Instructions were a bit confusing.",
    "The box was slightly dented.",
    "Had to wait for it to come back in stock.",
    "This is the {ordinal} {item} I have bought.",
    "I use it almost every day.",
    "My {who_short} liked it too.",
    "Washed it once so far.",
    "It does what it says.",
    "Sizing {sizing}.",
    "Arrived in {days} days.",
    "Chose standard delivery.",
    "Bought it together with a {item}.",
)

_SLOTS: dict[str, tuple[str, ...]] = {
    "time": (
        "last week",
        "yesterday",
        "two weeks ago",
        "over the weekend",
        "last month",
        "in March",
        "before Christmas",
        "in the summer",
        "on Monday",
        "a few days ago",
    ),
    "who": (
        "my wife",
        "my husband",
        "my son",
        "my daughter",
        "a friend",
        "my mum",
        "my dad",
        "my partner",
        "a colleague",
        "my sister",
    ),
    "who_short": ("wife", "husband", "son", "daughter", "partner", "mum", "friend", "sister"),
    "fit": (
        "true to size",
        "a bit small",
        "a bit large",
        "smaller than expected",
        "lighter than I thought",
    ),
    "sizing": ("runs small", "runs large", "is true to size", "is spot on", "is a bit off"),
    "days": ("2", "3", "4", "5", "two", "three", "four", "five", "6", "7"),
    "weeks": ("two weeks", "three weeks", "10 days", "a month", "a week", "12 days", "2 weeks"),
    "n": ("2", "3", "4", "5", "two", "three", "four", "several"),
    "years": ("3", "5", "7", "ten", "four", "six", "8", "many"),
    "since": ("2015", "2018", "2019", "2020", "university", "they opened", "2012", "forever"),
    "pct": ("20%", "30%", "40%", "half", "25 %", "50%", "15%", "a third"),
    "ordinal": ("second", "third", "fourth", "fifth"),
}

_ITEMS: tuple[str, ...] = (
    "handbag",
    "socks",
    "scarf",
    "jacket",
    "blouse",
    "shirt",
    "boots",
    "sneakers",
    "sweater",
    "belt",
    "t-shirt",
    "coat",
    "headphones",
    "speaker",
    "smart watch",
    "charger",
    "keyboard",
    "webcam",
    "power bank",
    "e-reader",
    "mug",
    "candle",
    "towel set",
    "bedding",
    "vase",
    "cutting board",
    "pan",
    "blanket",
    "lamp",
    "face cream",
    "shampoo",
    "perfume",
    "body lotion",
    "hair serum",
    "sunscreen",
    "coffee",
    "green tea",
    "olive oil",
    "chocolate",
    "granola",
    "spice set",
    "yoga mat",
    "running shoes",
    "water bottle",
    "gym bag",
    "dumbbell set",
    "backpack",
    "foam roller",
)

# British → American spellings, applied to a share of the reviews
_SPELLING = (
    ("favourite", "favorite"),
    ("colour", "color"),
    ("cheque", "check"),
    ("jewellery", "jewelry"),
    ("travelled", "traveled"),
)
_WORD = re.compile(r"[A-Za-z]{4,}")


def _fill(template: str, rng: random.Random) -> str:
    if "{" not in template:
        return template
    values = {}
    for name in re.findall(r"{(\w+)}", template):
        values[name] = rng.choice(_ITEMS if name == "item" else _SLOTS[name])
    return template.format(**values)


def _typo(text: str, rng: random.Random) -> str:
    """One typing slip in a word of four or more letters: drop, double or swap a letter."""
    words = list(_WORD.finditer(text))
    if not words:
        return text
    word = rng.choice(words)
    w = word.group()
    j = rng.randrange(1, len(w) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        slip = w[:j] + w[j + 1 :]
    elif kind == 1:
        slip = w[:j] + w[j] + w[j:]
    else:
        slip = w[: j - 1] + w[j] + w[j - 1] + w[j + 1 :]
    return text[: word.start()] + slip + text[word.end() :]


def _compose(segment: int, rng: random.Random) -> str:
    """One review of ``segment``: its own sentences, neutral ones, surface noise."""
    sentences = [_fill(t, rng) for t in rng.sample(_SEGMENT_SENTENCES[segment], _n_own(rng))]
    for _ in range((rng.random() < 0.4) + (rng.random() < 0.1)):
        sentence = _fill(rng.choice(_GENERIC), rng)
        sentences.insert(rng.randrange(len(sentences) + 1), sentence)
    if rng.random() < 0.45:
        sentences.append(rng.choice(_CLOSERS[segment]))
    if rng.random() < 0.2:
        low, high = _STARS[segment]
        stars = rng.randint(low, high)
        sentences.append(f"{stars} star{'s' if stars > 1 else ''}." if rng.random() < 0.6
                         else f"{stars}/5")  # fmt: skip
    text = " ".join(sentences)
    if rng.random() < 0.3:
        for british, american in _SPELLING:
            text = text.replace(british, american)
    for _ in range((rng.random() < 0.3) + (rng.random() < 0.1)):
        text = _typo(text, rng)
    if rng.random() < 0.12:
        text = text.lower()
    if rng.random() < 0.15:
        text = text.rstrip(".")
    return text


def _n_own(rng: random.Random) -> int:
    return 1 + (rng.random() < 0.5) + (rng.random() < 0.15)


def segment_reviews(segment: int, count: int) -> list[str]:
    """The first ``count`` distinct reviews of ``segment``'s fixed sequence."""
    out: list[str] = []
    seen: set[str] = set()
    block = 0
    while len(out) < count:
        rng = random.Random(f"{_SALT}:{segment}:{block}")
        for _ in range(BLOCK):
            text = _compose(segment, rng)
            if text not in seen:
                seen.add(text)
                out.append(text)
        block += 1
    return out[:count]


def review_pool(per_segment: int) -> list[str]:
    """The first ``per_segment`` reviews of every segment, segment by segment (segment ``s``
    owns entries ``s*per_segment .. (s+1)*per_segment - 1``); all distinct."""
    pool: list[str] = []
    for segment in range(len(_SEGMENT_SENTENCES)):
        pool += segment_reviews(segment, per_segment)
    return pool


def review_topics(per_segment: int) -> np.ndarray:
    """The segment each entry of ``review_pool(per_segment)`` was written for."""
    return np.repeat(np.arange(len(_SEGMENT_SENTENCES)), per_segment)


__all__ = ["BLOCK", "review_pool", "review_topics", "segment_reviews"]
