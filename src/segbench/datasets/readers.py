"""Reading raw dataset files (CSV, Excel, Parquet) with clear errors, in one place.

Every dataset adapter reads its source through :func:`read_table`, so a bad file gets the same
kind of one-paragraph :class:`~segbench.errors.DataError` whatever the dataset: the message
names the file, what was expected and what was found, and says which option fixes it.

Handled cases:

- missing file (:func:`resolve_path`; the message names the ``SEGBENCH_DATA_DIR`` setting);
- empty file, or a header without data rows;
- wrong separator (the header parses as one column such as ``'a;b;c'``: "is the separator ';'?");
- missing required columns (names them and lists the columns the file has);
- text that is not valid in the configured encoding (suggests the ``encoding`` option);
- malformed CSV rows (the parser's line number is passed on);
- an Excel sheet that does not exist (lists the workbook's sheets);
- a file that is not Parquet / not Excel although its name says so.

The module also holds the two small helpers every adapter's cleaning uses: :class:`CleaningLog`,
which records :class:`~segbench.data.model.CleaningStep` values as rows are dropped, and
:func:`age_band`, the shared age banding of the fairness audits.

The checks follow the quirks of real public files (TAB-separated ``.csv``, zero-padded ids,
embedded line breaks).

Example
-------
>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "toy.csv").write_text("id;age\\n1;30\\n")
>>> read_table(folder / "toy.csv", sep=",", required=["id", "age"])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
segbench.errors.DataError: .../toy.csv: found 1 column 'id;age' ...; is the separator ';'? ...
>>> read_table(folder / "toy.csv", sep=";", required=["id", "age"]).shape
(1, 2)
"""

from __future__ import annotations

import bz2
import gzip
import itertools
import lzma
import os
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segbench.data.model import CleaningStep
from segbench.data.paths import DATA_DIR_ENV, data_dir
from segbench.errors import DataError

#: Separators tried when guessing (in this order of preference on ties).
CANDIDATE_SEPARATORS = (",", ";", "\t", "|")
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".tab")
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zip")
PARQUET_SUFFIXES = (".parquet", ".pq")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")

#: Default age bands of the fairness audits: [18, 30), [30, 40), ..., [70, inf).
AGE_BAND_EDGES = (18, 30, 40, 50, 60, 70)


# --------------------------------------------------------------------------------------------
# locating files


def resolve_path(path: str | os.PathLike[str] | None, default_name: str, dataset: str) -> Path:
    """The file a dataset adapter should read; :class:`DataError` if it does not exist.

    ``path`` ``None`` (or empty) means ``default_name`` inside :func:`segbench.data.paths.data_dir`
    (the ``SEGBENCH_DATA_DIR`` setting).
    """
    if path is None or str(path).strip() == "":
        candidate = data_dir() / default_name
    else:
        candidate = Path(path).expanduser()
    resolved = candidate.resolve()
    if not resolved.is_file():
        setting = os.environ.get(DATA_DIR_ENV)
        shown = f"{DATA_DIR_ENV}={setting!r}" if setting else f"{DATA_DIR_ENV} is not set"
        what = "is a folder, not a file" if resolved.is_dir() else "does not exist"
        raise DataError(
            f"dataset '{dataset}': the data file {resolved} {what} (expected {default_name!r}; "
            f"{shown}, so the data folder is {data_dir()}). Point {DATA_DIR_ENV} at the folder "
            f"holding {default_name!r}, or set dataset.path to the file."
        )
    return resolved


def file_format(path: Path) -> str:
    """``"csv"``, ``"parquet"`` or ``"excel"`` from the file name (compression suffix allowed)."""
    name = path.name.lower()
    for suffix in COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(EXCEL_SUFFIXES):
        return "excel"
    if name.endswith(".xls"):
        raise DataError(
            f"{path}: old binary Excel (.xls) files are not supported; save it as .xlsx or .csv"
        )
    return "csv"


# --------------------------------------------------------------------------------------------
# reading


def read_table(
    path: str | os.PathLike[str],
    *,
    sep: str | None = ",",
    encoding: str = "utf-8",
    sheet: str | int | None = None,
    dtype: Mapping[str, Any] | None = None,
    required: Sequence[str] = (),
    index_col: int | str | None = None,
    allow_empty: bool = False,
) -> pd.DataFrame:
    """Read a CSV (optionally compressed), Excel or Parquet file, or raise a clear error.

    Parameters
    ----------
    path
        The file. Format from the name: ``.parquet``/``.pq`` Parquet, ``.xlsx``/``.xlsm`` Excel,
        anything else delimited text (``.gz``, ``.bz2``, ``.xz``, ``.zip`` decompressed).
    sep
        Field separator of delimited text; ``None`` guesses it from the header line.
    encoding
        Text encoding (a UTF-8 byte-order mark is accepted when it is UTF-8).
    sheet
        Excel sheet name or 0-based position (default: the first sheet).
    dtype
        Column types, as for :func:`pandas.read_csv`; keys the file lacks are ignored.
    required
        Columns that must be present.
    index_col
        As for :func:`pandas.read_csv` (text only).
    allow_empty
        Accept a header without data rows (an empty file is always an error).
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a file; expected a CSV, Excel or Parquet file")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes); expected a header and data rows")
    kind = file_format(path)
    if kind == "parquet":
        frame = _read_parquet(path)
    elif kind == "excel":
        frame = _read_excel(path, sheet=sheet, dtype=dtype)
    else:
        frame = _read_text(path, sep=sep, encoding=encoding, dtype=dtype, index_col=index_col)
        _check_separator(frame, path, sep, required)
    if frame.shape[1] == 0:
        raise DataError(f"{path}: no columns found; expected a header line with column names")
    require_columns(frame, required, path)
    if len(frame) == 0 and not allow_empty:
        raise DataError(
            f"{path}: the file has a header ({_show_columns(frame.columns)}) but no data rows"
        )
    return frame


def require_columns(
    frame: pd.DataFrame, required: Iterable[str], path: str | os.PathLike[str], what: str = ""
) -> None:
    """Raise :class:`DataError` naming the required columns ``frame`` lacks and listing its own."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        label = f" ({what})" if what else ""
        noun = "column" if len(missing) == 1 else "columns"
        raise DataError(
            f"{path}: missing required {noun} {', '.join(repr(c) for c in missing)}{label}; "
            f"the file has the columns {_show_columns(frame.columns)}"
        )


def excel_sheets(path: str | os.PathLike[str]) -> list[str]:
    """Names of the sheets of an ``.xlsx`` workbook (without reading the cells)."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .xlsx workbook ({exc})") from None
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def sniff_separator(line: str) -> str | None:
    """The candidate separator occurring most often in a header ``line`` (``None`` if none)."""
    counts = {sep: line.count(sep) for sep in CANDIDATE_SEPARATORS}
    best = max(CANDIDATE_SEPARATORS, key=lambda s: counts[s])
    return best if counts[best] > 0 else None


def first_line(path: str | os.PathLike[str], encoding: str = "utf-8") -> str:
    """The first line of a (possibly compressed) text file, undecodable bytes replaced."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if not members:
                return ""
            with archive.open(members[0]) as raw:
                return raw.readline().decode(encoding, errors="replace").lstrip("\ufeff")
    openers = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
    opener = next((fn for suffix, fn in openers.items() if name.endswith(suffix)), open)
    with opener(path, "rt", encoding=encoding, errors="replace", newline="") as handle:
        return handle.readline().lstrip("\ufeff")


def _show_columns(columns: Iterable[Any], limit: int = 40) -> str:
    names = [str(c) for c in columns]
    shown = ", ".join(repr(c) for c in names[:limit])
    more = f", … ({len(names) - limit} more)" if len(names) > limit else ""
    return f"[{shown}{more}]"


def _python_encoding(encoding: str) -> str:
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def _read_text(
    path: Path,
    *,
    sep: str | None,
    encoding: str,
    dtype: Mapping[str, Any] | None,
    index_col: int | str | None,
) -> pd.DataFrame:
    codec = _python_encoding(encoding)
    try:
        if sep is None:
            sep = sniff_separator(first_line(path, codec)) or ","
        return pd.read_csv(
            path,
            sep=sep,
            encoding=codec,
            dtype=dict(dtype) if dtype else None,
            index_col=index_col,
        )
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path}: the file is empty (no header line); expected a header and data rows"
        ) from None
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1].hex() if exc.object else "?"
        raise DataError(
            f"{path}: the file is not valid {encoding} text (undecodable byte 0x{bad}). "
            f"Set the dataset's `encoding` option to the file's encoding, e.g. encoding: cp1252 "
            f"or encoding: latin-1."
        ) from None
    except pd.errors.ParserError as exc:
        guess = sniff_separator(first_line(path, codec))
        hint = (
            f"; is the separator {guess!r} (read with {sep!r})?" if guess not in (None, sep) else ""
        )
        detail = " ".join(str(exc).split())
        raise DataError(f"{path}: malformed delimited text: {detail}{hint}") from None
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile, lzma.LZMAError) as exc:
        raise DataError(damaged_file_message(path, exc)) from None
    except OSError as exc:
        kind = _compression(path)
        if kind and ("compress" in str(exc).lower() or "magic" in str(exc).lower()):
            raise DataError(damaged_file_message(path, exc)) from None
        raise DataError(f"{path}: cannot read the file ({exc})") from None


def _compression(path: Path) -> str | None:
    """``"gzip"``, ``"bzip2"``, ``"xz"`` or ``"zip"`` from the file name, else None."""
    kinds = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zip": "zip"}
    return next((k for suffix, k in kinds.items() if path.name.lower().endswith(suffix)), None)


def damaged_file_message(path: Path, exc: BaseException) -> str:
    """The message for a compressed file that cannot be decompressed (truncated, corrupt)."""
    kind = _compression(path) or "compressed"
    what = "truncated" if isinstance(exc, EOFError) else "corrupt (not valid " + kind + " data)"
    return (
        f"{path}: the {kind} file is {what}: {exc}. Expected a complete {kind} file; copy or "
        "download it again, or give the uncompressed file"
    )


def _check_separator(
    frame: pd.DataFrame, path: Path, sep: str | None, required: Sequence[str]
) -> None:
    """One column where several are expected: almost always the wrong separator."""
    if frame.shape[1] != 1:
        return
    header = str(frame.columns[0])
    guess = sniff_separator(header)
    if guess is not None and guess != sep:
        raise DataError(
            f"{path}: found 1 column {header!r} where several were expected; is the separator "
            f"{guess!r}? (read with sep={sep!r}; set the dataset's `sep` option)"
        )
    if len(required) > 1 and header not in required:
        raise DataError(
            f"{path}: found 1 column {header!r}, expected the columns "
            f"{_show_columns(required)}; is the separator {sep!r} right? "
            f"(set the dataset's `sep` option)"
        )


def _read_excel(
    path: Path, *, sheet: str | int | None, dtype: Mapping[str, Any] | None
) -> pd.DataFrame:
    sheets = excel_sheets(path)
    if not sheets:
        raise DataError(f"{path}: the workbook has no sheets")
    if sheet is None:
        chosen: str | int = 0
    elif isinstance(sheet, int) and not isinstance(sheet, bool):
        if not 0 <= sheet < len(sheets):
            raise DataError(
                f"{path}: there is no sheet number {sheet} (0-based); the workbook has "
                f"{len(sheets)} sheet(s): {_show_columns(sheets)}"
            )
        chosen = sheet
    else:
        if str(sheet) not in sheets:
            raise DataError(
                f"{path}: no sheet named {sheet!r}; the workbook has the sheets "
                f"{_show_columns(sheets)} (set the dataset's `sheet` option)"
            )
        chosen = str(sheet)
    try:
        frame = pd.read_excel(path, sheet_name=chosen, engine="openpyxl")
    except (ValueError, zipfile.BadZipFile, OSError, KeyError) as exc:
        raise DataError(f"{path}: cannot read sheet {chosen!r} ({exc})") from None
    if dtype:
        for column, kind in dtype.items():
            if column in frame.columns and kind is str:
                frame[column] = as_text(frame[column])
    return frame


def as_text(values: pd.Series) -> pd.Series:
    """Values as the string dtype; whole-number floats lose their ``.0``.

    Excel and CSV readers turn numeric-looking ids into floats (``540001.0``); this gives
    ``"540001"`` back. Missing values stay missing.
    """
    if pd.api.types.is_string_dtype(values) and not pd.api.types.is_object_dtype(values):
        return values

    def one(value: Any) -> Any:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return np.nan
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return values.map(one).astype("str")


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, … for non-Parquet input
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None


# --------------------------------------------------------------------------------------------
# checking values


def _rows(mask: np.ndarray | pd.Series, limit: int = 3) -> str:
    """``"rows 3, 17"`` (1-based data rows, the header not counted) of the true entries."""
    positions = np.flatnonzero(np.asarray(mask)) + 1
    shown = ", ".join(str(p) for p in positions[:limit])
    more = f" and {len(positions) - limit} more" if len(positions) > limit else ""
    return f"row{'s' if len(positions) > 1 else ''} {shown}{more}"


def check_finite(values: pd.Series, column: str, path: str | os.PathLike[str]) -> None:
    """Refuse ``inf``/``-inf`` in a numeric column, naming the file, the column and the rows.

    >>> check_finite(pd.Series([1.0, float("inf")]), "income", "shop.csv")
    Traceback (most recent call last):
    ...
    segbench.errors.DataError: shop.csv: column 'income' holds infinite values (inf or -inf) in \
1 of 2 rows (row 2); expected finite numbers (a missing value may be left empty)
    """
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return
    infinite = np.isinf(values.to_numpy(dtype=float, na_value=np.nan))
    if infinite.any():
        raise DataError(
            f"{path}: column {column!r} holds infinite values (inf or -inf) in "
            f"{int(infinite.sum())} of {len(values)} rows ({_rows(infinite)}); expected finite "
            "numbers (a missing value may be left empty)"
        )


def numeric_column(
    values: pd.Series, column: str, path: str | os.PathLike[str], role: str = ""
) -> pd.Series:
    """``values`` as numbers; :class:`DataError` naming the values that are not (missing ones
    stay missing). The console message shows examples; the recorded one only counts them.

    >>> numeric_column(pd.Series(["3", "", None, "4.5"]), "days", "f.csv").tolist()
    [3.0, nan, nan, 4.5]
    """
    numbers = pd.to_numeric(values, errors="coerce")
    text = values.astype("str").str.strip()
    bad = numbers.isna() & values.notna() & (text != "")
    if bad.any():
        what = f" ({role})" if role else ""
        head = (
            f"{path}: column {column!r}{what} must hold numbers; found {int(bad.sum())} of "
            f"{len(values)} values that are not ({_rows(bad)})"
        )
        examples = values[bad].astype(str).unique()[:3].tolist()
        raise DataError(f"{head}, e.g. {examples}", public=head)
    return numbers


# --------------------------------------------------------------------------------------------
# cleaning helpers shared by the adapters


class CleaningLog:
    """Collects :class:`CleaningStep` values while an adapter drops or fixes rows.

    >>> log = CleaningLog()
    >>> log.add("drop_missing_customer", 10, 7, "no customer id")
    >>> [s.dropped for s in log.steps]
    [3]
    """

    def __init__(self) -> None:
        self.steps: list[CleaningStep] = []
        self.customers: dict[str, int] = {}

    def add(
        self,
        step: str,
        rows_before: int,
        rows_after: int,
        reason: str,
        customers: int | None = None,
    ) -> None:
        """Record one step; ``customers`` (distinct customers left after it) is kept too."""
        self.steps.append(CleaningStep(step, int(rows_before), int(rows_after), reason))
        if customers is not None:
            self.customers[step] = int(customers)


def age_band(ages: pd.Series, edges: Sequence[int] = AGE_BAND_EDGES) -> pd.Series:
    """Age bands as strings: ``"<18"``, ``"18-29"``, …, ``"70+"`` (missing stays missing).

    >>> age_band(pd.Series([17, 18, 45, 70, None])).tolist()
    ['<18', '18-29', '40-49', '70+', nan]
    """
    edges = list(edges)
    labels = [f"<{edges[0]}"]
    labels += [f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(edges)]
    labels.append(f"{edges[-1]}+")
    bins = [-np.inf, *edges, np.inf]
    banded = pd.cut(pd.to_numeric(ages, errors="coerce"), bins=bins, labels=labels, right=False)
    return banded.astype("str").where(banded.notna(), np.nan).astype("str")
