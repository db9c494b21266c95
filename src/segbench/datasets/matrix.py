"""A headerless numeric matrix, with an optional file of reference labels: the clustbench format.

The *Benchmark Suite for Clustering Algorithms* (Gagolewski 2022; its FCPS battery is in
``$SEGBENCH_DATA_DIR/clustbench/``) stores each dataset as

- ``<name>.data.gz``: a whitespace-separated numeric matrix, one row per point, no header;
- ``<name>.labels0.gz`` (and ``labels1``…, alternative references): one integer per row,
  ``0`` for noise or unlabelled points, ``1..K`` for the reference clusters.

:class:`MatrixDataset` reads any such file as customers: the id of a row is its line number
(``"1"`` … ``"n"``; the data has no other identifier), its columns are ``x1`` … ``xd``. With
``labels="auto"`` the reference labels are read from ``<name>.labels0.gz`` beside the data when
that file exists; ``labels`` may also name the file (``labels1``) or be null. The noise label is
the dataset setting ``dataset.noise_label`` (``0`` in ``conf/dataset/clustbench.yaml``): those
points are left out of the external indices, as the benchmark scores them. Use it with the
``numeric`` feature block (``features=numeric``); ``preprocess.scaler=common`` is the scaling
the benchmark's published results were made in.

A matrix is taken as it is: a value that is not a number, a missing value, a row of another
length, an infinite value, or a labels file of another length is an error naming the line.

Example
-------
>>> from segbench.datasets import load_dataset
>>> data = load_dataset({"_target_": "segbench.datasets.matrix.MatrixDataset",
...     "path": "${oc.env:SEGBENCH_DATA_DIR}/clustbench/fcps/hepta.data.gz", "noise_label": 0})
>>> data.n_customers, list(data.customers.columns), data.labels.nunique()
(212, ['x1', 'x2', 'x3'], 7)
"""

from __future__ import annotations

import gzip
import lzma
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segbench.data.model import CustomerData
from segbench.datasets.base import finish_dataset, layout_data
from segbench.datasets.cache import CachedAdapter
from segbench.datasets.readers import CleaningLog, check_finite, damaged_file_message
from segbench.errors import ConfigError, DataError

SOURCE = (
    "a numeric matrix in the clustbench format (Gagolewski 2022, doi:10.1016/j.softx.2022.101270)"
)
COMPRESSION = (".gz", ".bz2", ".xz", ".zip")


def stem(path: Path) -> str:
    """``atom`` for ``…/atom.data.gz``: the name without compression and ``.data``."""
    name = path.name
    for suffix in COMPRESSION:
        name = name.removesuffix(suffix)
    return name.removesuffix(".data")


def read_matrix(path: Path, what: str = "data") -> pd.DataFrame:
    """A whitespace-separated numeric matrix without a header, or a clear :class:`DataError`."""
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a file; expected a numeric {what} file")
    if not path.is_file():
        raise DataError(f"{path}: the {what} file does not exist")
    try:
        frame = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, comment=None)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the {what} file is empty; expected one row per point") from None
    except pd.errors.ParserError as exc:
        detail = " ".join(str(exc).split())
        raise DataError(
            f"{path}: rows of different lengths ({detail}); expected the same number of "
            "whitespace-separated numbers on every line"
        ) from None
    except (EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError, zipfile.BadZipFile) as exc:
        raise DataError(damaged_file_message(path, exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the {what} file ({exc})") from None
    numbers = frame.apply(pd.to_numeric, errors="coerce")
    bad = numbers.isna()
    if bad.to_numpy().any():
        row, column = map(int, np.argwhere(bad.to_numpy())[0])
        raise DataError(
            f"{path}: line {row + 1}, column {column + 1} holds {frame.iat[row, column]!r}; "
            f"expected a number in every cell of the {what} file ({int(bad.to_numpy().sum())} "
            "cells are not numbers or are missing)"
        )
    for i, column in enumerate(numbers.columns):
        check_finite(numbers[column], f"column {i + 1}", path)
    return numbers


class MatrixDataset(CachedAdapter):
    """A headerless numeric matrix with optional reference labels (see the module docstring).

    Parameters
    ----------
    path
        The matrix (``.data.gz``, or any whitespace-separated text, compressed or not).
    labels
        ``"auto"`` (``<name>.labels0.gz`` beside the data, if it exists), a file, or null.
    column_prefix
        Columns are named ``<prefix>1`` … ``<prefix>d``.
    dataset_name
        Name in the run's metadata (default: the file's name, ``atom``).
    cache
        Use the Parquet cache.
    """

    name = "matrix"
    cache_version = 1

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        labels: str | os.PathLike[str] | None = "auto",
        column_prefix: str = "x",
        dataset_name: str | None = None,
        cache: bool = True,
    ) -> None:
        self.path = path
        self.labels = labels
        self.column_prefix = column_prefix
        self.dataset_name = dataset_name
        self.cache = cache

    def _data_path(self) -> Path:
        if self.path is None or str(self.path).strip() in ("", "???"):
            raise ConfigError(
                "dataset 'matrix' needs dataset.path: the numeric matrix to read, e.g. "
                "dataset.path=$SEGBENCH_DATA_DIR/clustbench/fcps/atom.data.gz"
            )
        path = Path(self.path).expanduser().resolve()
        if not path.is_file():
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            raise DataError(
                f"dataset '{self._name(path)}': the data file {path} {what} (set dataset.path "
                "to a numeric matrix, e.g. a clustbench <name>.data.gz)"
            )
        return path

    def _labels_path(self, data: Path) -> Path | None:
        if self.labels is None or str(self.labels).strip().lower() in ("", "none", "null"):
            return None
        if str(self.labels) == "auto":
            folder = data.parent
            suffix = next((s for s in COMPRESSION if data.name.endswith(s)), "")
            candidate = folder / f"{stem(data)}.labels0{suffix}"
            return candidate if candidate.is_file() else None
        path = Path(self.labels).expanduser()
        if not path.is_absolute():
            path = data.parent / path
        if not path.is_file():
            raise DataError(
                f"dataset '{self._name(data)}': the labels file {path.resolve()} does not exist "
                "(set dataset.labels to a file, to auto for <name>.labels0 beside the data, or "
                "to null)"
            )
        return path.resolve()

    def _name(self, path: Path) -> str:
        return self.dataset_name or stem(path)

    def sources(self) -> list[Path]:
        data = self._data_path()
        labels = self._labels_path(data)
        return [data] if labels is None else [data, labels]

    def cache_params(self) -> dict[str, Any]:
        params = super().cache_params()
        params["labels"] = None if params.get("labels") is None else str(params["labels"])
        return params

    def check_options(self) -> None:
        if not str(self.column_prefix).strip():
            raise ConfigError("dataset 'matrix': column_prefix is empty; expected e.g. 'x'")
        self.sources()

    def layout(self) -> CustomerData:
        data = self._data_path()
        return layout_data(
            self._name(data),
            {f"{self.column_prefix}1": "number"},
            labels=self._labels_path(data) is not None,
        )

    def build(self) -> CustomerData:
        sources = self.sources()
        path = sources[0]
        matrix = read_matrix(path)
        n, d = matrix.shape
        index = pd.Index([str(i + 1) for i in range(n)], name="customer_id")
        customers = pd.DataFrame(
            matrix.to_numpy(dtype=np.float64),
            index=index,
            columns=[f"{self.column_prefix}{j + 1}" for j in range(d)],
        )
        labels = None
        notes: dict[str, Any] = {"source_file": path.name, "raw_rows": n, "raw_customers": n}
        if len(sources) > 1:
            raw = read_matrix(sources[1], what="labels")
            if raw.shape != (n, 1):
                raise DataError(
                    f"{sources[1]}: expected one label per line for the {n} rows of {path.name}; "
                    f"found {raw.shape[0]} lines of {raw.shape[1]} value(s)"
                )
            values = raw.iloc[:, 0].to_numpy()
            integral = np.all(np.mod(values, 1) == 0)
            text = values.astype(np.int64).astype(str) if integral else values.astype(str)
            labels = pd.Series(text, index=index, name="label", dtype="str")
            notes["labels_file"] = sources[1].name
        log = CleaningLog()
        log.add("read_matrix", n, n, f"{n} rows × {d} columns read as they are (no cleaning)")
        return finish_dataset(
            self._name(path),
            customers,
            labels=labels,
            source=f"{SOURCE}; file {path.name}",
            licence="as stated by the file's source (clustbench: GNU AGPL v3, research use)",
            cleaning=log.steps,
            notes=notes,
        )
