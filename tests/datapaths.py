"""Where the tests find the shared real datasets: the ``SEGBENCH_DATA_DIR`` setting.

Tests that need a real file call :func:`data_file`; when ``SEGBENCH_DATA_DIR`` is unset or
lacks the file, the test is skipped with a message that names the setting. Mark such tests
``@pytest.mark.realdata``.

Example
-------
>>> data_file("mall_customers.csv.gz").name
'mall_customers.csv.gz'
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from segbench.data.paths import DATA_DIR_ENV

RETAIL = "online_retail.csv.gz"
MARKETING = "marketing_campaign.csv.gz"
MALL = "mall_customers.csv.gz"
REVIEWS = "womens_clothing_ecommerce_reviews.csv.gz"


def shared_data_dir() -> Path | None:
    """The folder named by ``SEGBENCH_DATA_DIR``, or ``None`` when unset or not a folder."""
    value = os.environ.get(DATA_DIR_ENV)
    if not value:
        return None
    folder = Path(value).expanduser()
    return folder if folder.is_dir() else None


def data_file(name: str) -> Path:
    """The shared data file ``name``; skips the calling test when it cannot be found."""
    folder = shared_data_dir()
    if folder is None:
        pytest.skip(
            f"needs the shared datasets: set {DATA_DIR_ENV} to the folder holding {name!r} "
            f"(currently {os.environ.get(DATA_DIR_ENV)!r})"
        )
    path = folder / name
    if not path.is_file():
        pytest.skip(f"{DATA_DIR_ENV}={str(folder)!r} has no {name!r}")
    return path
