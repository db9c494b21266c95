"""Scan an MLflow store for routes back to a customer before results are shared.

segbench never logs raw customer ids, names, e-mails or review texts (ids are pseudonymised
at load, see :mod:`segbench.data.pseudonyms`). :func:`scan_store` checks that promise on a real
store: it reads every file under the given paths — the SQLite database (params, tags — the
``segbench.error`` tag of failed runs included —, metrics and run names are stored there as
plain text) and every artifact file (``error.txt`` of failed runs included) — and reports

- ``id``: a raw id (of the given *needles*, a sample of the dataset's raw ids) found in a file;
- ``text``: a raw review sentence found in a file;
- ``order``: a table keyed by pseudonym (``assignments.parquet``, any Parquet or CSV artifact
  with a column of pseudonyms) whose row order agrees with the order of the raw ids — as the
  source gives them, or sorted (as numbers and as text). Anyone holding the id list could then
  re-identify every row, whatever the key. Checking it needs the full list of raw ids
  (``customers``) and the pseudonym key the run used (``key``); the statistic is the rank
  correlation between a row's position in the table and its raw id's position in the order
  (overall, and within each segment when the table has a ``segment`` column), flagged above
  five standard errors of a random order (``5 / sqrt(n)``) or when more than half the rows sit
  at their raw id's position.

Where a finding is: the file, and for the SQLite database the table and key
(``tags[segbench.error]``); :attr:`ScanReport.error_tags` lists the error tags that were read.

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

A table in the order of the raw ids is found, one in another order is not:

>>> from segbench.data.pseudonyms import pseudonymise_ids
>>> raw = [str(12000 + i) for i in range(200)]
>>> keyed = list(pseudonymise_ids(pd.Index(raw), key=b"k"))
>>> pd.DataFrame({"customer_id": keyed, "segment": 0}).to_parquet(folder / "a.parquet")
>>> pd.DataFrame({"customer_id": sorted(keyed), "segment": 0}).to_parquet(folder / "b.parquet")
>>> [(pathlib.Path(f.path).name, f.kind) for f in scan_store([folder], customers=raw, key=b"k")]
[('a.parquet', 'order')]
"""

from __future__ import annotations

import gzip
import hashlib
import math
import re
import sqlite3
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: Files whose content is compressed binary that cannot hold searchable text.
OPAQUE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Tables whose row order is checked.
TABLE_SUFFIXES = (".parquet", ".csv")
#: An order is flagged when its rank correlation exceeds this many standard errors.
ORDER_SIGMAS = 5.0
#: Fewer matched rows (overall, or in a segment) than this are not judged.
MIN_ORDER_ROWS = 20


@dataclass(frozen=True)
class Finding:
    """One route back to a customer found in one file.

    ``kind``: ``"id"``, ``"text"`` or ``"order"``; ``needle``: the id or text found, or for an
    order the order and its statistic; ``where``: inside the file (``tags[segbench.error]``
    for a SQLite cell, the column for a table), empty when the file is plain text.
    """

    path: str
    kind: str
    needle: str
    where: str = ""


@dataclass
class ScanReport:
    """Every finding of :func:`scan_store`, the files read and the files that could not be."""

    findings: list[Finding] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: the tables whose row order was checked (path, rows matched)
    ordered_tables: list[tuple[str, int]] = field(default_factory=list)
    #: the ``segbench.error`` tags read from the SQLite stores
    error_tags: list[str] = field(default_factory=list)

    def __iter__(self):
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def of(self, kind: str) -> list[Finding]:
        """The findings of one kind (``id``, ``text``, ``order``)."""
        return [f for f in self.findings if f.kind == kind]


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


def _table(path: Path) -> pd.DataFrame | None:
    """A Parquet or CSV artifact as a frame of text (``None`` if it is not readable as one)."""
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            return pd.read_parquet(path)
        if name.endswith(".csv"):
            return pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception:  # not a table after all: searched as bytes
        return None
    return None


def _content(path: Path) -> list[tuple[str, bytes]] | None:
    """The searchable parts of a file as ``(where, bytes)`` (``None`` if opaque)."""
    name = path.name.lower()
    if name.endswith(OPAQUE_SUFFIXES):
        return None
    if name.endswith(".parquet"):
        frame = pd.read_parquet(path)
        parts = [("columns", "\n".join(str(c) for c in frame.columns).encode())]
        if not isinstance(frame.index, pd.RangeIndex):  # a stored index (row numbers are not)
            parts.append(("index", "\n".join(str(i) for i in frame.index).encode()))
        for column in frame.columns:
            parts.append((f"column {column}", "\n".join(frame[column].astype(str)).encode()))
        return parts
    if _is_sqlite(path):
        return _sqlite_cells(path)
    raw = path.read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    elif zipfile.is_zipfile(path):  # e.g. skops model files: members are compressed
        with zipfile.ZipFile(path) as archive:
            raw += b"\n".join(archive.read(member) for member in archive.namelist())
    return [("", raw)]


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(16) == b"SQLite format 3\x00"


def _sqlite_cells(path: Path) -> list[tuple[str, bytes]]:
    """Every cell of every table, grouped by table and (for key-value tables) key."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        groups: dict[str, list[bytes]] = {}
        for table in tables:
            cursor = connection.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            key = columns.index("key") if "key" in columns else None
            for row in cursor:
                where = f"{table}[{row[key]}]" if key is not None else table
                cells = groups.setdefault(where, [])
                for value in row:
                    if isinstance(value, bytes):
                        cells.append(value)
                    elif value is not None:
                        cells.append(str(value).encode())
        return [(where, b"\n".join(cells)) for where, cells in groups.items()]
    finally:
        connection.close()


def _error_tags(path: Path) -> list[str]:
    """The ``segbench.error`` tags of a SQLite MLflow store."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT value FROM tags WHERE key = 'segbench.error'")
        return [str(r[0]) for r in rows]
    except sqlite3.Error:
        return []
    finally:
        connection.close()


def library_digests(root: str | Path | None = None) -> set[str]:
    """SHA-256 of every file of the segbench package (default: the installed one)."""
    folder = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in _files([folder])}


# --------------------------------------------------------------------------------------------
# row order


def reference_orders(customers: Sequence[str]) -> dict[str, list[str]]:
    """The orders of raw ids a table must not follow: as given, sorted as text, and sorted
    as numbers when every id is one."""
    ids = [str(c) for c in customers]
    orders = {"source order": ids, "sorted as text": sorted(ids)}
    numbers = pd.to_numeric(pd.Series(ids), errors="coerce")
    if len(ids) and numbers.notna().all():
        ranks = np.argsort(numbers.to_numpy(), kind="stable")
        orders["sorted as numbers"] = [ids[i] for i in ranks]
    return orders


def _spearman(positions: np.ndarray) -> float:
    """Rank correlation of ``positions`` with 0, 1, 2, … (positions are distinct)."""
    n = len(positions)
    if n < 3:
        return 0.0
    ranks = np.argsort(np.argsort(positions)).astype(float)
    rows = np.arange(n, dtype=float)
    return float(np.corrcoef(rows, ranks)[0, 1])


def order_findings(
    frame: pd.DataFrame, pseudonyms: dict[str, dict[str, int]], path: str
) -> tuple[list[Finding], int]:
    """Findings of one table: does a column of pseudonyms follow a reference order?

    ``pseudonyms``: for each reference order, pseudonym → position of its raw id in it.
    Returns the findings and the number of rows matched.
    """
    any_order = next(iter(pseudonyms.values()))
    found: list[Finding] = []
    matched_rows = 0
    for column in frame.columns:
        values = frame[column].astype(str).to_numpy()
        known = np.fromiter((v in any_order for v in values), bool, len(values))
        if known.sum() < max(MIN_ORDER_ROWS, 0.5 * len(values)):
            continue
        matched_rows = max(matched_rows, int(known.sum()))
        segments = (
            frame["segment"].astype(str).to_numpy()[known]
            if "segment" in frame.columns
            else np.zeros(int(known.sum()))
        )
        for name, position in pseudonyms.items():  # one finding per column: the first order
            if any(f.where == f"column {column}" for f in found):
                break
            positions = np.array([position[v] for v in values[known]])
            groups = [("all rows", positions)]
            groups += [
                (f"segment {s}", positions[segments == s])
                for s in np.unique(segments)
                if (segments == s).sum() >= MIN_ORDER_ROWS and len(np.unique(segments)) > 1
            ]
            for label, group in groups:
                n = len(group)
                if n < MIN_ORDER_ROWS:
                    continue
                rho = _spearman(group)
                same = float(np.mean(group == np.sort(group)))
                if abs(rho) > ORDER_SIGMAS / math.sqrt(n) or same > 0.5:
                    found.append(
                        Finding(
                            path,
                            "order",
                            f"{name}: rank correlation {rho:.3f} over {n} rows ({label}); "
                            f"{same:.0%} of them at their raw id's position",
                            f"column {column}",
                        )
                    )
                    break
    return found, matched_rows


# --------------------------------------------------------------------------------------------


def scan_store(
    paths: Iterable[str | Path],
    ids: Sequence[str] = (),
    texts: Sequence[str] = (),
    known_files: set[str] | None = None,
    customers: Sequence[str] | None = None,
    key: bytes | None = None,
) -> ScanReport:
    """Search every file under ``paths`` for raw ``ids`` (whole tokens), ``texts``, and (given
    every raw id of the dataset in its source order, ``customers``, and the pseudonym ``key``)
    tables in the order of the raw ids.

    ``known_files``: SHA-256 digests of files that are known not to hold customer data —
    by default segbench's own source files (:func:`library_digests`), which a logged model
    may carry as code (the synthetic generator's review templates are in its source). A file
    with such a digest is listed in ``skipped``, not searched.
    """
    pattern = _id_pattern(ids)
    needles = [(t, t.encode()) for t in dict.fromkeys(texts) if t]
    known = library_digests() if known_files is None else known_files
    orders: dict[str, dict[str, int]] = {}
    if customers is not None and key is not None:
        from segbench.data.pseudonyms import pseudonymise_ids

        for name, order in reference_orders(customers).items():
            keyed = pseudonymise_ids(pd.Index(order), key)
            orders[name] = {p: i for i, p in enumerate(keyed)}
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
        if _is_sqlite(path):
            report.error_tags += _error_tags(path)
        for where, raw in content:
            if pattern is not None:
                for found in sorted({m.group(1).decode() for m in pattern.finditer(raw)}):
                    report.findings.append(Finding(str(path), "id", found, where))
            for text, needle in needles:
                if needle in raw:
                    report.findings.append(Finding(str(path), "text", text, where))
        if orders and path.name.lower().endswith(TABLE_SUFFIXES):
            frame = _table(path)
            if frame is not None and len(frame):
                found, rows = order_findings(frame, orders, str(path))
                if rows:
                    report.ordered_tables.append((str(path), rows))
                report.findings += found
    return report


__all__ = ["Finding", "ScanReport", "order_findings", "reference_orders", "scan_store"]
