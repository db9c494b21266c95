"""Scan an MLflow store for personal data before results are shared.

segbench never logs raw customer ids, names, e-mails or review texts (ids are pseudonymised
at load, see :mod:`segbench.data.pseudonyms`). :func:`scan_store` checks that promise on a real
store: it reads every file under the given paths — the SQLite database (params, tags, metrics, run
names are stored there as plain text) and every artifact file — and reports where any of the
given *needles* (a sample of raw ids, raw review sentences) occurs.

How files are read:

- SQLite databases cell by cell (SQLite stores a row's values back to back, so a token search
  on the file's bytes would run neighbouring values together), WAL content included;
- Parquet files decoded, every cell compared (their pages are compressed);
- ``.gz`` files and zip archives (skops model files) decompressed;
- every other file as bytes (UTF-8); PNG plots are compressed pixel data whose text cannot be
  searched: they are listed as ``skipped``, as are exact copies of segbench's own source
  files (a logged model may carry the package as code).

Ids are matched as whole tokens — not inside a longer number, word or hex pseudonym
(``17850`` does not match ``178503`` or ``a17850f``) — with an optional ``.0`` suffix (how a
float-typed id column writes them). Texts are matched as substrings.

Example
-------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "tags.txt").write_text("customer 17850 bought")
>>> [f.needle for f in scan_store([folder], ids=["17850", "12346"])]
['17850']
"""

from __future__ import annotations

import gzip
import hashlib
import re
import sqlite3
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

#: Files whose content is compressed binary that cannot hold searchable text.
OPAQUE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class Finding:
    """One needle found in one file."""

    path: str
    kind: str  # "id" or "text"
    needle: str


@dataclass
class ScanReport:
    """Every finding of :func:`scan_store`, the files read and the files that could not be."""

    findings: list[Finding] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __iter__(self):
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)


def _id_pattern(ids: Sequence[str]) -> re.Pattern[bytes] | None:
    ids = [str(i) for i in ids if str(i)]
    if not ids:
        return None
    body = b"|".join(re.escape(i.encode()) for i in sorted(set(ids), key=len, reverse=True))
    return re.compile(rb"(?<![0-9A-Za-z_.])(" + body + rb")(?:\.0)?(?![0-9A-Za-z_]|\.[0-9])")


def _files(paths: Iterable[str | Path]) -> list[Path]:
    out = []
    for path in map(Path, paths):
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file())
    return out


def _content(path: Path) -> bytes | None:
    """The searchable bytes of a file (``None`` if opaque)."""
    name = path.name.lower()
    if name.endswith(OPAQUE_SUFFIXES):
        return None
    if name.endswith(".parquet"):
        frame = pd.read_parquet(path)
        cells = [str(c) for c in frame.columns]
        if not isinstance(frame.index, pd.RangeIndex):  # a stored index (row numbers are not)
            cells += [str(i) for i in frame.index]
        for column in frame.columns:
            cells += frame[column].astype(str).tolist()
        return "\n".join(cells).encode()
    if _is_sqlite(path):
        return _sqlite_cells(path)
    raw = path.read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    elif zipfile.is_zipfile(path):  # e.g. skops model files: members are compressed
        with zipfile.ZipFile(path) as archive:
            raw += b"\n".join(archive.read(member) for member in archive.namelist())
    return raw


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(16) == b"SQLite format 3\x00"


def _sqlite_cells(path: Path) -> bytes:
    """Every cell of every table, one per line (SQLite packs a row's values back to back)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        cells: list[bytes] = []
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        cells.append(value)
                    elif value is not None:
                        cells.append(str(value).encode())
        return b"\n".join(cells)
    finally:
        connection.close()


def library_digests(root: str | Path | None = None) -> set[str]:
    """SHA-256 of every file of the segbench package (default: the installed one)."""
    folder = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in _files([folder])}


def scan_store(
    paths: Iterable[str | Path],
    ids: Sequence[str] = (),
    texts: Sequence[str] = (),
    known_files: set[str] | None = None,
) -> ScanReport:
    """Search every file under ``paths`` for raw ``ids`` (whole tokens) and ``texts``.

    ``known_files``: SHA-256 digests of files that are known not to hold customer data —
    by default segbench's own source files (:func:`library_digests`), which a logged model
    may carry as code (the synthetic generator's review templates are in its source). A file
    with such a digest is listed in ``skipped``, not searched.
    """
    pattern = _id_pattern(ids)
    needles = [(t, t.encode()) for t in dict.fromkeys(texts) if t]
    known = library_digests() if known_files is None else known_files
    report = ScanReport()
    for path in _files(paths):
        if hashlib.sha256(path.read_bytes()).hexdigest() in known:
            report.skipped.append(str(path))
            continue
        content = _content(path)
        if content is None:
            report.skipped.append(str(path))
            continue
        report.scanned.append(str(path))
        if pattern is not None:
            for found in sorted({m.group(1).decode() for m in pattern.finditer(content)}):
                report.findings.append(Finding(str(path), "id", found))
        for text, raw in needles:
            if raw in content:
                report.findings.append(Finding(str(path), "text", text))
    return report
