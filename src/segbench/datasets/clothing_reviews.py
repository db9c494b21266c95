"""The "Women's E-Commerce Clothing Reviews" dataset: 23,486 reviews, one customer record each.

Source: Kaggle ``nicapotato/womens-ecommerce-clothing-reviews`` (real, anonymised reviews of an
unnamed retailer; mentions of the company were replaced with "retailer"). Licence: CC0 1.0.

There is no customer identifier (``Clothing ID`` is the product), so each review is one
customer record and its id is the file's unnamed row index (``"0"`` … ``"23485"``).

What it gives:

- ``customers``: ``age`` (the reviewer's, 18-99; the only ``demographic_columns`` entry),
  ``rating`` (1-5), ``recommended`` (0/1), ``positive_feedback_count``, and the reviewed
  product's ``clothing_id``, ``division``, ``department``, ``class_name`` (missing for 14).
- ``texts``: ``Title`` and ``Review Text`` joined (``"<title>. <review>"``; no full stop added
  when the title already ends with ``.``, ``!`` or ``?``), line breaks and runs of white space
  collapsed to one space.
- ``sensitive``: ``age_band`` (18-29, 30-39, …, 70+).
- ``outcomes``: ``rating`` and ``recommended`` again, as targets for predictive evaluation.

Cleaning, in this order:

1. ``missing_text`` — reviews without a ``Review Text`` (missing or blank: 845; 844 of them
   have no title either, one has only a title). ``missing_text="drop"`` (default) drops them;
   ``"keep"`` keeps them with the title as text, or an empty text.
2. ``fix_mojibake`` (``fix_mojibake=True``, default) — 30 reviews carry mojibake from the
   original: UTF-8 bytes read as Latin-1 and then lower-cased (``ã©`` for ``é``, ``ã¨`` for
   ``è``, ``ã¼`` for ``ü``, ``â`` + no-break space for a no-break space). The two-character
   sequences ``[ÃÂãâ]`` + ``U+0080…U+00BF`` are decoded back (the lower-case lead letter is
   taken as the upper-case one it came from), and no-break spaces become spaces. The
   sequences cannot occur in English text otherwise, so nothing else changes. ``False``
   leaves the texts as they are. Rows are not dropped.
3. ``fix_division_typo`` (``fix_division_typo=True``) — ``Division Name`` ``Initmates`` →
   ``Intimates`` (a typo in the original).

Figures on the shared file (asserted in ``tests/test_datasets_real.py``):

======================  =======  ======  ===============================================
step                    dropped  rows    note
======================  =======  ======  ===============================================
raw                              23,486
missing_text                845  22,641  (``keep``: 0 dropped, 23,486 rows)
fix_mojibake                  0  22,641  30 reviews repaired
fix_division_typo             0  22,641  1,426 rows (1,502 in the raw file)
======================  =======  ======  ===============================================

Example
-------
>>> from segbench.datasets import load_dataset
>>> target = "segbench.datasets.clothing_reviews.ClothingReviewsDataset"
>>> data = load_dataset({"_target_": target})
>>> data.n_customers, data.meta.notes["no_review_text"]
(22641, 845)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segbench.data.model import CustomerData
from segbench.datasets.base import finish_dataset, layout_data
from segbench.datasets.cache import CachedAdapter
from segbench.datasets.readers import (
    CleaningLog,
    age_band,
    check_finite,
    read_table,
    resolve_path,
)
from segbench.errors import ConfigError, DataError

DEFAULT_FILE = "womens_clothing_ecommerce_reviews.csv.gz"
SOURCE = (
    "Kaggle 'Women's E-Commerce Clothing Reviews' (nicapotato/womens-ecommerce-clothing-reviews),"
    " real anonymised reviews of an unnamed retailer"
)
LICENCE = "CC0 1.0"
REQUIRED_COLUMNS = (
    "Clothing ID",
    "Age",
    "Title",
    "Review Text",
    "Rating",
    "Recommended IND",
    "Positive Feedback Count",
    "Division Name",
    "Department Name",
    "Class Name",
)
_MOJIBAKE = re.compile("([\u00c3\u00c2\u00e3\u00e2])([\u0080-\u00bf])")
_LEAD = {"\u00c3": 0xC3, "\u00e3": 0xC3, "\u00c2": 0xC2, "\u00e2": 0xC2}
_SPACES = re.compile(r"\s+")


def fix_mojibake(text: str) -> str:
    """Undo UTF-8-read-as-Latin-1 mojibake that was lower-cased afterwards.

    >>> fix_mojibake("the appliquã© is ã¼ber cute")
    'the appliqué is über cute'
    """

    def decode(match: re.Match[str]) -> str:
        raw = bytes([_LEAD[match.group(1)], ord(match.group(2))])
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return match.group(0)

    return _MOJIBAKE.sub(decode, text).replace("\u00a0", " ")


def review_text(title: str | None, body: str | None) -> str:
    """``"<title>. <body>"`` with white space collapsed; either part may be missing.

    >>> review_text("Love it!", "Fits well.\\nBuy it.")
    'Love it! Fits well. Buy it.'
    """
    parts = [_SPACES.sub(" ", p).strip() for p in (title, body) if isinstance(p, str) and p.strip()]
    if len(parts) == 2 and not parts[0].endswith((".", "!", "?")):
        parts[0] += "."
    return " ".join(parts)


class ClothingReviewsDataset(CachedAdapter):
    """Women's E-Commerce Clothing Reviews as canonical :class:`CustomerData`.

    Parameters
    ----------
    path
        The CSV; default ``$SEGBENCH_DATA_DIR/womens_clothing_ecommerce_reviews.csv.gz``.
    sep, encoding
        How the file is written.
    missing_text
        ``"drop"`` (default) reviews without a review text, or ``"keep"`` them.
    fix_mojibake
        Repair the lower-cased mojibake (see the module docstring).
    fix_division_typo
        ``Initmates`` → ``Intimates``.
    cache
        Use the Parquet cache.
    """

    name = "clothing_reviews"
    cache_version = 1

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        sep: str = ",",
        encoding: str = "utf-8",
        missing_text: str = "drop",
        fix_mojibake: bool = True,
        fix_division_typo: bool = True,
        cache: bool = True,
    ) -> None:
        self.path = path
        self.sep = sep
        self.encoding = encoding
        self.missing_text = missing_text
        self.fix_mojibake = fix_mojibake
        self.fix_division_typo = fix_division_typo
        self.cache = cache

    def sources(self) -> list[Path]:
        return [resolve_path(self.path, DEFAULT_FILE, self.name)]

    def check_options(self) -> None:
        if self.missing_text not in ("drop", "keep"):
            raise ConfigError(
                f"dataset '{self.name}': missing_text={self.missing_text!r} is not one of "
                "['drop', 'keep'] (set dataset.missing_text)"
            )
        self.sources()

    def layout(self) -> CustomerData:
        numbers = ("age", "rating", "recommended", "positive_feedback_count")
        text = ("clothing_id", "division", "department", "class_name")
        return layout_data(
            self.name,
            {**dict.fromkeys(numbers, "number"), **dict.fromkeys(text, "text")},
            texts=True,
            sensitive=["age_band"],
            outcomes=["rating", "recommended"],
            demographic_columns=["age"],
        )

    def build(self) -> CustomerData:
        self.check_options()
        path = self.sources()[0]
        text_columns = ("Title", "Review Text", "Division Name", "Department Name", "Class Name")
        df = read_table(
            path,
            sep=self.sep,
            encoding=self.encoding,
            dtype=dict.fromkeys(text_columns, str),
            required=REQUIRED_COLUMNS,
        )
        # the unnamed first column is the row index (the id); without it, the row position
        if str(df.columns[0]).startswith("Unnamed") or str(df.columns[0]).strip() == "":
            ids = df.iloc[:, 0].astype("str").str.strip().to_numpy()
        else:
            ids = np.arange(len(df)).astype(str)
        df = df.assign(_id=ids)
        if df["_id"].duplicated().any():
            dup = df.loc[df["_id"].duplicated(), "_id"].head(3).tolist()
            n_dup = int(df["_id"].duplicated().sum())
            raise DataError(
                f"{path}: the row index (first column) must be unique; found {dup}",
                public=f"{path}: the row index (first column) must be unique; {n_dup} repeated",
            )
        for column in ("Age", "Rating", "Recommended IND", "Positive Feedback Count"):
            values = pd.to_numeric(df[column], errors="coerce")
            check_finite(values, column, path)
            if values.isna().any():
                bad = df.loc[values.isna(), column].astype(str).head(3).tolist()
                raise DataError(
                    f"{path}: column {column!r} must be numeric with no gaps; found e.g. {bad}"
                )
            df[column] = values
        log = CleaningLog()
        notes: dict[str, Any] = {
            "source_file": path.name,
            "raw_rows": len(df),
            "raw_customers": len(df),
        }

        # 1. reviews without text
        before = len(df)
        body = df["Review Text"]
        no_text = body.isna() | (body.astype("str").str.strip() == "")
        no_title = df["Title"].isna() | (df["Title"].astype("str").str.strip() == "")
        notes["no_review_text"] = int(no_text.sum())
        notes["no_text_at_all"] = int((no_text & no_title).sum())
        if self.missing_text == "drop":
            df = df[~no_text]
        log.add(
            "missing_text",
            before,
            len(df),
            f"{int(no_text.sum())} reviews without a review text "
            f"({int((no_text & no_title).sum())} without a title either): {self.missing_text}",
        )

        # 2. mojibake
        titles = df["Title"].astype("str")
        bodies = df["Review Text"].astype("str")
        if self.fix_mojibake:
            fixed_titles = titles.map(fix_mojibake, na_action="ignore")
            fixed_bodies = bodies.map(fix_mojibake, na_action="ignore")
            changed = (fixed_titles.fillna("") != titles.fillna("")) | (
                fixed_bodies.fillna("") != bodies.fillna("")
            )
            titles, bodies = fixed_titles, fixed_bodies
            what = f"{int(changed.sum())} reviews repaired"
        else:
            changed = pd.Series(False, index=df.index)
            what = "left as is (fix_mojibake=false)"
        notes["mojibake_repaired"] = int(changed.sum())
        log.add("fix_mojibake", len(df), len(df), f"lower-cased UTF-8/Latin-1 mojibake: {what}")

        # 3. division typo
        division = df["Division Name"].astype("str")
        typo = division == "Initmates"
        if self.fix_division_typo:
            division = division.where(~typo, "Intimates")
        log.add(
            "fix_division_typo",
            len(df),
            len(df),
            f"Division Name 'Initmates' → 'Intimates' ({int(typo.sum())} rows)"
            if self.fix_division_typo
            else f"Division Name 'Initmates' kept ({int(typo.sum())} rows)",
        )
        if len(df) == 0:
            raise DataError(f"{path}: no reviews left after cleaning")

        texts_list = [
            review_text(t, b) for t, b in zip(titles.tolist(), bodies.tolist(), strict=True)
        ]
        index = pd.Index(df["_id"].to_numpy(), name="customer_id", dtype="str")
        customers = pd.DataFrame(
            {
                "age": df["Age"].to_numpy(dtype=float),
                "rating": df["Rating"].to_numpy(dtype="int64"),
                "recommended": df["Recommended IND"].to_numpy(dtype="int64"),
                "positive_feedback_count": df["Positive Feedback Count"].to_numpy(dtype="int64"),
                "clothing_id": df["Clothing ID"].astype("str").to_numpy(),
                "division": division.to_numpy(),
                "department": df["Department Name"].astype("str").to_numpy(),
                "class_name": df["Class Name"].astype("str").to_numpy(),
            },
            index=index,
        )
        for column in ("clothing_id", "division", "department", "class_name"):
            customers[column] = customers[column].astype("str")
        texts = pd.DataFrame(
            {"customer_id": index.to_numpy(), "text": np.asarray(texts_list, dtype=object)}
        ).astype("str")
        sensitive = pd.DataFrame(
            {"age_band": age_band(customers["age"]).to_numpy()}, index=index
        ).astype("str")
        outcomes = customers[["rating", "recommended"]].copy()
        notes["empty_texts"] = int((texts["text"] == "").sum())
        return finish_dataset(
            self.name,
            customers,
            texts=texts,
            sensitive=sensitive,
            outcomes=outcomes,
            demographic_columns=("age",),
            source=f"{SOURCE}; file {path.name}",
            licence=LICENCE,
            cleaning=log.steps,
            notes=notes,
        )
