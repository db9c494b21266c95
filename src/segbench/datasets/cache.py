"""Parse each raw source once: an Arrow cache of cleaned :class:`CustomerData`.

Reading and cleaning a raw file (541,909 CSV lines for online_retail, minutes for an ``.xlsx``)
is done once; the cleaned parts are written as uncompressed Arrow IPC (Feather v2) files plus a
small ``meta.json`` (meta, cleaning report, notes, the SHA-256 of every file) and ``content.arrow``
(per customer, a hash of their transactions and of their texts: key-independent, what
pseudonymisation orders customers by, so a hit does not rehash millions of lines) under::

    cache_dir()/datasets/<name>-<key>/

where ``cache_dir()`` is ``SEGBENCH_CACHE_DIR`` (default ``~/.cache/segbench``) and ``key`` is a
hash of

- the fingerprint of every source file (:func:`source_fingerprint`: the full SHA-256 of the
  bytes for files up to 256 MiB, else size + mtime + SHA-256 of the first and last MiB),
- the adapter class and its ``cache_version`` (bumped when its cleaning logic changes),
- the adapter's cleaning options (:meth:`CachedAdapter.cache_params`, i.e. every
  ``__init__`` parameter except ``path`` and ``cache``),
- :data:`CACHE_FORMAT`.

So editing the source file or any cleaning option gives a new entry; moving the file does not.

**What an entry holds, and who can read it.** An entry is the cleaned data *before*
pseudonymisation: raw customer ids, every customer column, transactions and full review texts.
Its folder is readable by its owner only (mode ``0700``, files ``0600``; entries written by an
older version are tightened when read). To clear the cache: ``rm -rf
"$SEGBENCH_CACHE_DIR/datasets"`` (default ``~/.cache/segbench/datasets``), or switch it off per
dataset with ``dataset.cache=false``.
A hit is checked against the SHA-256 of its files kept in ``meta.json`` (a damaged entry is
rebuilt; a stale one never matches, its key differs).
Entries are written to a temporary folder and renamed into place, so parallel jobs of a sweep
never read a half-written entry. ``meta.notes["cache"]`` says ``"hit"``, ``"miss"`` or
``"off"``; ``meta.notes["load_seconds"]`` how long :meth:`CachedAdapter.load` took.

Example
-------
>>> import os, tempfile
>>> from unittest import mock
>>> from segbench.datasets.mall_customers import MallCustomersDataset
>>> with mock.patch.dict(os.environ, {"SEGBENCH_CACHE_DIR": tempfile.mkdtemp()}):  # fresh
...     first = MallCustomersDataset().load().meta.notes["cache"]
...     second = MallCustomersDataset().load().meta.notes["cache"]
>>> first, second
('miss', 'hit')
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from pyarrow import feather

from segbench.data.model import CleaningStep, CustomerData, DatasetMeta
from segbench.data.paths import cache_dir
from segbench.data.pseudonyms import member_hashes, remember_member_hashes
from segbench.datasets.base import DatasetAdapter

log = logging.getLogger(__name__)

#: Version of the on-disk layout; part of every key. 2: Arrow IPC files, their SHA-256 in
#: ``meta.json``, and ``content.arrow`` (the transactions' and texts' per-customer hashes);
#: Parquet read a categorical of 6.7 million invoice ids in 45 s, Arrow in 2 s.
CACHE_FORMAT = 2
#: Files up to this size are hashed in full; larger ones by size, mtime, first and last MiB.
FULL_HASH_LIMIT = 256 * 2**20
_CHUNK = 2**20
FRAME_PARTS = ("customers", "transactions", "texts", "sensitive", "outcomes")
#: Parts whose per-customer content hashes an entry keeps (``content.arrow``).
MEMBER_PARTS = ("transactions", "texts")


def source_fingerprint(path: str | os.PathLike[str], full_hash_limit: int = FULL_HASH_LIMIT) -> str:
    """A content fingerprint of a source file (see the module docstring for the rule)."""
    path = Path(path)
    stat = path.stat()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        if stat.st_size <= full_hash_limit:
            digest.update(b"full")
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
        else:
            digest.update(f"partial:{stat.st_size}:{stat.st_mtime_ns}".encode())
            digest.update(handle.read(_CHUNK))
            handle.seek(-_CHUNK, os.SEEK_END)
            digest.update(handle.read(_CHUNK))
    return digest.hexdigest()[:32]


def cache_key(adapter: str, sources: Sequence[str], params: Mapping[str, Any]) -> str:
    """The 16-hex-digit key of a cache entry from source fingerprints and cleaning options."""
    payload = json.dumps(
        {"format": CACHE_FORMAT, "adapter": adapter, "sources": list(sources), "params": params},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def entry_dir(name: str, key: str) -> Path:
    """The folder of the cache entry ``key`` of dataset ``name``."""
    return cache_dir() / "datasets" / f"{name}-{key}"


#: Modes of the dataset cache: entries hold raw ids and texts, readable by their owner only.
DIR_MODE, FILE_MODE = 0o700, 0o600


def owner_only(directory: Path) -> None:
    """Make ``directory`` and the files in it readable by their owner only (see the module)."""
    try:
        directory.chmod(DIR_MODE)
        for path in directory.iterdir():
            path.chmod(DIR_MODE if path.is_dir() else FILE_MODE)
    except OSError as exc:  # not ours (a shared cache): leave it, but say so
        log.warning("cannot restrict the permissions of %s: %s", directory, exc)


def save_entry(data: CustomerData, directory: Path, extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``data`` as a cache entry (atomically: temporary folder, then rename), readable
    by its owner only."""
    directory.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    tmp = directory.with_name(f".{directory.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(mode=DIR_MODE)
    try:
        parts = []
        for part in FRAME_PARTS:
            frame = getattr(data, part)
            if frame is not None:
                _write_frame(frame, tmp / f"{part}.arrow")
                parts.append(part)
        # the per-customer hashes of the transactions and texts (key-independent: they fix
        # the order pseudonymisation keeps customers in), so a hit need not recompute them
        ids = data.customers.index
        hashes = {
            part: member_hashes(getattr(data, part), ids)
            for part in MEMBER_PARTS
            if getattr(data, part) is not None
        }
        if hashes:
            _write_frame(pd.DataFrame(hashes), tmp / "content.arrow")
        labels_name = None
        if data.labels is not None:
            labels_name = data.labels.name
            _write_frame(data.labels.to_frame(name="label"), tmp / "labels.arrow")
            parts.append("labels")
        notes = {k: v for k, v in data.meta.notes.items() if k not in ("cache", "load_seconds")}
        meta = {
            "format": CACHE_FORMAT,
            "name": data.meta.name,
            "source": data.meta.source,
            "licence": data.meta.licence,
            "fingerprint": data.meta.fingerprint,
            "analysis_date": (
                None if data.meta.analysis_date is None else data.meta.analysis_date.isoformat()
            ),
            "cleaning": [
                {
                    "step": s.step,
                    "rows_before": s.rows_before,
                    "rows_after": s.rows_after,
                    "reason": s.reason,
                }
                for s in data.meta.cleaning
            ],
            "notes": notes,
            "demographic_columns": list(data.demographic_columns),
            "parts": parts,
            "files": {path.name: _file_digest(path) for path in sorted(tmp.glob("*.arrow"))},
            "labels_name": labels_name,
            "created": pd.Timestamp.now(tz="UTC").isoformat(),
            **(dict(extra) if extra else {}),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
        owner_only(tmp)
        try:
            tmp.rename(directory)
        except OSError:  # another process wrote the same entry first: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def load_entry(directory: Path, verify: bool = True) -> CustomerData | None:
    """Read a cache entry; ``None`` if absent, unreadable or (``verify``) not matching its hash."""
    meta_file = directory / "meta.json"
    if not meta_file.is_file():
        return None
    if directory.stat().st_mode & 0o077:  # an entry written before the rule
        owner_only(directory)
    try:
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != CACHE_FORMAT:
            return None
        files = meta["files"]
        if verify and any(_file_digest(directory / f) != digest for f, digest in files.items()):
            log.warning("dataset cache entry %s is damaged (a file changed); rebuilding", directory)
            return None
        frames = {
            part: _read_frame(directory / f"{part}.arrow")
            for part in meta["parts"]
            if part in FRAME_PARTS
        }
        labels = None
        if "labels" in meta["parts"]:
            labels = _read_frame(directory / "labels.arrow")["label"]
            labels.name = meta.get("labels_name")
        if "content.arrow" in files:
            hashes = _read_frame(directory / "content.arrow")
            for part in hashes.columns:
                remember_member_hashes(
                    frames[part], frames["customers"].index, hashes[part].to_numpy()
                )
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        log.warning("unreadable dataset cache entry %s (%s); rebuilding", directory, exc)
        return None
    analysis_date = meta.get("analysis_date")
    data = CustomerData(
        customers=frames["customers"],
        transactions=frames.get("transactions"),
        texts=frames.get("texts"),
        sensitive=frames.get("sensitive"),
        labels=labels,
        outcomes=frames.get("outcomes"),
        demographic_columns=tuple(meta.get("demographic_columns", ())),
        meta=DatasetMeta(
            name=meta["name"],
            source=meta.get("source", ""),
            licence=meta.get("licence", ""),
            fingerprint=meta.get("fingerprint", ""),
            analysis_date=None if analysis_date is None else pd.Timestamp(analysis_date),
            cleaning=[CleaningStep(**step) for step in meta.get("cleaning", [])],
            notes=dict(meta.get("notes", {})),
        ),
    )
    return data


def _file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (how a cache hit is checked: a second at a million customers,
    where recomputing the content fingerprint took ten)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` (index included) as an Arrow IPC file; categoricals stay dictionaries."""
    # one record batch: a dictionary column split into batches is re-unified on reading
    # (minutes for 6.7 million invoice ids in 235 batches)
    feather.write_feather(
        pa.Table.from_pandas(frame), path, compression="uncompressed", chunksize=max(len(frame), 1)
    )


def _strings(arrow_type: pa.DataType) -> pd.StringDtype | None:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow", na_value=float("nan"))  # pandas' ``str``
    return None


def _read_frame(path: Path) -> pd.DataFrame:
    """The frame :func:`_write_frame` wrote, dtypes as written.

    Dictionary columns are rebuilt from their codes and their dictionary as Arrow-backed
    strings: pyarrow's own conversion makes a Python string per category (minutes for 6.7
    million invoice ids).
    """
    table = feather.read_table(path, memory_map=False)
    meta = table.schema.pandas_metadata or {}
    index_columns = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
    names = [f.name for f in table.schema if f.name not in index_columns]
    dictionaries = [
        f.name for f in table.schema if pa.types.is_dictionary(f.type) and f.name in names
    ]
    frame = table.drop_columns(dictionaries).to_pandas(types_mapper=_strings)
    for name in dictionaries:
        chunks = table.column(name)
        if chunks.num_chunks == 1:
            column = chunks.chunk(0)
        elif chunks.num_chunks == 0:
            column = pa.array([], type=chunks.type)
        else:
            column = chunks.unify_dictionaries().combine_chunks()
        dictionary = pa.chunked_array([column.dictionary])
        categories = pd.Index(dictionary.to_pandas(types_mapper=_strings))
        indices = column.indices
        codes = (indices.fill_null(-1) if indices.null_count else indices).to_numpy(
            zero_copy_only=False
        )
        frame[name] = pd.Categorical.from_codes(
            codes, dtype=_written_categories(categories, column.type.ordered)
        )
    return frame[names]


def _written_categories(categories: pd.Index, ordered: bool) -> pd.CategoricalDtype:
    """The dtype of categories read back from an entry: they were a categorical's when
    written and the file matched its SHA-256, so they are unique and not missing, and
    pandas' check of that (hashing every category: a second for 6.7 million invoice ids) is
    skipped where pandas offers it."""
    fastpath = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    if fastpath is not None:
        try:
            return fastpath(categories, ordered)
        except TypeError:  # another signature: the checked way
            pass
    return pd.CategoricalDtype(categories, ordered=ordered)


def cached_load(
    name: str,
    adapter: str,
    sources: Sequence[Path],
    params: Mapping[str, Any],
    build: Callable[[], CustomerData],
    enabled: bool = True,
) -> CustomerData:
    """``build()`` once per (source content, cleaning options); later calls read the cache."""
    started = time.perf_counter()
    if not enabled:
        data = build()
        status, where = "off", None
    else:
        key = cache_key(adapter, [source_fingerprint(p) for p in sources], params)
        where = entry_dir(name, key)
        cached = load_entry(where)
        if cached is not None:
            data, status = cached, "hit"
            log.info(
                "dataset '%s': read from the dataset cache (%s, %.1f s); "
                "dataset.cache=false skips the cache",
                name,
                where,
                time.perf_counter() - started,
            )
        else:
            data, status = build(), "miss"
            if where.exists():  # stale or corrupt entry
                shutil.rmtree(where, ignore_errors=True)
            save_entry(data, where, extra={"adapter": adapter, "params": dict(params)})
    notes = dict(data.meta.notes)
    notes["cache"] = status
    if where is not None:
        notes["cache_entry"] = where.name
    notes["load_seconds"] = round(time.perf_counter() - started, 3)
    return replace(data, meta=replace(data.meta, notes=notes))


class CachedAdapter(DatasetAdapter):
    """A :class:`DatasetAdapter` whose :meth:`load` goes through the dataset cache.

    Subclasses implement :meth:`sources` (the files read) and :meth:`build` (read and clean,
    returning raw-id :class:`CustomerData` with a filled meta); they keep ``cache`` (bool) and
    their options as attributes of the same names as their ``__init__`` parameters.
    """

    #: Bump when the cleaning logic changes, so old cache entries are not reused.
    cache_version: int = 1
    cache: bool = True

    @abstractmethod
    def sources(self) -> list[Path]:
        """The raw files this adapter reads (resolved; :class:`DataError` when missing)."""

    @abstractmethod
    def build(self) -> CustomerData:
        """Read the sources and clean them (no cache involved)."""

    def cache_params(self) -> dict[str, Any]:
        """The options that change the cleaned result (all parameters but ``path``/``cache``)."""
        params = {k: v for k, v in vars(self).items() if k not in ("path", "cache")}
        params["cache_version"] = self.cache_version
        return params

    def load(self) -> CustomerData:
        cls = type(self)
        return cached_load(
            name=self.name,
            adapter=f"{cls.__module__}.{cls.__qualname__}",
            sources=self.sources(),
            params=self.cache_params(),
            build=self.build,
            enabled=bool(self.cache),
        )
