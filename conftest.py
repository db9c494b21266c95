"""Settings of every test session, the docstring examples of ``src/`` included: nothing is
fetched from a model hub, plots need no screen, and caches live in a session folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding/dataset cache for the whole session (tests never touch ~/.cache).

    Set SEGBENCH_CACHE_DIR before running pytest to reuse a warm cache across sessions.
    """
    if "SEGBENCH_CACHE_DIR" not in os.environ:
        os.environ["SEGBENCH_CACHE_DIR"] = str(tmp_path_factory.mktemp("segbench-cache"))
    return Path(os.environ["SEGBENCH_CACHE_DIR"])
