"""Where segbench looks for data and keeps its caches (environment settings, one place).

- ``SEGBENCH_DATA_DIR``: folder holding the real datasets (default ``./data``).
- ``SEGBENCH_CACHE_DIR``: embedding and cleaned-data caches (default ``~/.cache/segbench``).
  segbench creates it readable by its owner only (the cleaned-data cache holds raw ids and
  texts; see :mod:`segbench.datasets.cache`); an existing folder is left as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "SEGBENCH_DATA_DIR"
CACHE_DIR_ENV = "SEGBENCH_CACHE_DIR"


def data_dir() -> Path:
    """The folder the real-dataset adapters read from."""
    return Path(os.environ.get(DATA_DIR_ENV, "data")).expanduser().resolve()


def cache_dir() -> Path:
    """The folder for segbench's on-disk caches (created on demand)."""
    default = Path.home() / ".cache" / "segbench"
    path = Path(os.environ.get(CACHE_DIR_ENV, default)).expanduser().resolve()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
