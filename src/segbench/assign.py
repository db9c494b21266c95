"""Assign new customers to the segments of a logged run.

Usage::

    python -m segbench.assign --run-id <run id> --input new_customers.csv.gz --output segments.csv
    python -m segbench.assign --model-uri models:/m-<id> --input new.csv --output segments.parquet

The new file is in the dataset's *raw* format (for ``online_retail`` the UCI invoice-line
CSV/XLSX; for ``marketing_campaign`` the TAB-separated Kaggle file; …). It is read with the
run's dataset config (stored in the model) with ``path`` pointing at the new file — so the
same cleaning, the same features (the run's fitted feature pipeline: scalers, category
levels, text PCA…), the same preprocessing and the run's model (its ``predict`` or the
assignment method of :mod:`segbench.serving.assignment`) apply. ``--dataset-config`` replaces
the stored dataset config: a YAML file, or a name of ``conf/dataset/`` (e.g.
``online_retail``); the stored config is used otherwise.

Output (CSV, or Parquet for ``.parquet``): ``customer_id`` (pseudonymised by
:mod:`segbench.data.pseudonyms`, never the raw id, the same way as a run's ``assignments.parquet``,
``segbench.api.run``'s labels and the logged model's output), ``segment`` (``-1`` = noise) and,
with ``--run-id``, ``segment_name`` (the run's segment names). Pseudonyms match the run's only
when both used the same ``SEGBENCH_PSEUDONYM_KEY`` (one key per run otherwise). Raw ids come out
only through ``python -m segbench.export``.

The tracking store is ``--tracking-uri``, else ``MLFLOW_TRACKING_URI``, else
``sqlite:///mlflow.db`` in the working directory. Expected errors (unknown run, a file the
adapter rejects…) print one paragraph and exit with status 2.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.utils import get_class
from omegaconf import OmegaConf

from segbench.configs import config_dir
from segbench.data.pseudonyms import key_source
from segbench.datasets import load_dataset
from segbench.errors import ConfigError, DataError, SegbenchError
from segbench.serving.model import SegmentationModel
from segbench.tracking.mlflow_run import resolve_uri, retry_locked
from segbench.tracking.store import use_store

log = logging.getLogger("segbench.assign")
MODEL_TAG = "segbench.model_uri"
NAMES_ARTIFACT = "profiles/segment_profiles.csv"  # its `name` column: the run's names


def tracking_uri(given: str | None = None) -> str:
    """The tracking store: ``given``, ``MLFLOW_TRACKING_URI``, or ``sqlite:///mlflow.db``."""
    return resolve_uri(given or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db")


def model_uri_of_run(run_id: str, uri: str) -> str:
    """The model URI tagged on run ``run_id`` (``segbench.model_uri``)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        run = retry_locked(MlflowClient(uri).get_run, run_id)
    except MlflowException as err:
        raise ConfigError(f"run {run_id!r} not found in the tracking store {uri}: {err}") from None
    model = run.data.tags.get(MODEL_TAG)
    if not model:
        raise ConfigError(
            f"run {run_id} has no logged model (no tag {MODEL_TAG}); it was run with "
            "tracking.log_model=false or failed before logging"
        )
    return model


def load_segmentation_model(model_uri: str) -> SegmentationModel:
    """The :class:`SegmentationModel` behind an MLflow model URI."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        loaded = mlflow.pyfunc.load_model(model_uri)
    except (MlflowException, OSError) as err:
        raise ConfigError(f"cannot load the model {model_uri!r}: {err}") from None
    try:
        model = loaded.unwrap_python_model()
    except MlflowException:
        model = None
    if not isinstance(model, SegmentationModel):
        raise ConfigError(
            f"{model_uri} is not a segbench whole-path model (a run logged before segbench "
            "logged SegmentationModel, or another model); re-run the experiment"
        )
    return model


def dataset_config(model: SegmentationModel, override: str | None, path: Path) -> dict[str, Any]:
    """The dataset config to read ``path`` with: the override (file or name) or the model's."""
    if override:
        candidate = Path(override)
        if not candidate.suffix:
            candidate = config_dir() / "dataset" / f"{override}.yaml"
        if not candidate.is_file():
            names = sorted(p.stem for p in (config_dir() / "dataset").glob("*.yaml"))
            raise ConfigError(
                f"--dataset-config {override!r}: no such file; give a YAML file or one of "
                f"{', '.join(names)}"
            )
        cfg = OmegaConf.to_container(OmegaConf.load(candidate), resolve=True)
    else:
        cfg = dict(model.dataset_config)
    if not isinstance(cfg, Mapping) or "_target_" not in cfg:
        raise ConfigError(
            "no dataset config with a '_target_' adapter: the model stores none; pass "
            "--dataset-config <name or YAML file>"
        )
    try:
        adapter = get_class(str(cfg["_target_"]))
    except Exception as err:  # an unimportable target: say which
        raise ConfigError(
            f"dataset adapter {cfg['_target_']!r} cannot be imported: {err}"
        ) from None
    if "path" not in inspect.signature(adapter).parameters:
        raise ConfigError(
            f"dataset adapter {cfg['_target_']} takes no 'path' (it generates or embeds its "
            "data), so there is no raw file format to read new customers from; give "
            "--dataset-config for the file's format (e.g. tabular)"
        )
    return {**cfg, "path": str(path)}


def segment_names(run_id: str, uri: str) -> pd.Series | None:
    """The run's segment names (the ``name`` column of its profile table), when it has them."""
    import mlflow

    try:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=NAMES_ARTIFACT, tracking_uri=uri
        )
    except Exception:  # no such artifact: names are optional
        return None
    table = pd.read_csv(local)
    if "name" not in table.columns:  # a run from before segments were named in its profiles
        return None
    return pd.Series(table["name"].to_numpy(), index=table["segment"].astype(int))


def assign(
    input_path: str | os.PathLike[str],
    run_id: str | None = None,
    model_uri: str | None = None,
    dataset: str | None = None,
    analysis_date: str | None = None,
    uri: str | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Segments of the customers in a raw file; returns ``(table, info)``.

    ``table``: ``customer_id, segment`` (and ``segment_name`` when known); ``info``: the model
    URI, the assignment method, counts and seconds.
    """

    if (run_id is None) == (model_uri is None):
        raise ConfigError("give exactly one of --run-id and --model-uri")
    path = Path(input_path)
    if path.is_dir():
        raise DataError(f"--input {path}: is a folder; expected a data file in the run's format")
    if not path.is_file():
        raise DataError(f"--input {path}: no such file")
    when = None
    if analysis_date:
        try:
            when = pd.Timestamp(analysis_date)
        except ValueError:
            raise ConfigError(
                f"--analysis-date {analysis_date!r}: expected a date written YYYY-MM-DD"
            ) from None
    store = tracking_uri(uri)
    use_store(store)
    if model_uri is None:
        model_uri = model_uri_of_run(str(run_id), store)
    tic = time.perf_counter()
    model = load_segmentation_model(model_uri)
    cfg = dataset_config(model, dataset, path)
    data = load_dataset(cfg)
    if when is not None:
        data.meta.analysis_date = when
    table = model.segment(data)
    if run_id is not None:
        names = segment_names(str(run_id), store)
        if names is not None:
            table["segment_name"] = table["segment"].map(names).fillna("unknown segment")
    info = {
        "model_uri": model_uri,
        "method": model.method,
        "customers": len(table),
        "analysis_date": str(data.meta.analysis_date),
        "seconds": time.perf_counter() - tic,
        "pseudonym_key": key_source(),
    }
    return table, info


def write_table(
    table: pd.DataFrame, output: str | os.PathLike[str], owner_only: bool = False
) -> Path:
    """Write ``table`` as Parquet (``.parquet``) or CSV (anything else); with ``owner_only``
    the file is created readable by its owner only before anything is written to it."""
    out = Path(output)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if owner_only:
            os.close(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            out.chmod(0o600)
        if out.suffix == ".parquet":
            table.to_parquet(out, index=False)
        else:
            table.to_csv(out, index=False)
    except OSError as err:
        raise DataError(
            f"--output {out}: cannot write the file ({err.strerror or err}); expected a path in "
            "a folder you can write to"
        ) from None
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m segbench.assign",
        description="Assign the customers of a raw data file to the segments of a logged run.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--run-id", help="MLflow run id of a segbench run")
    source.add_argument("--model-uri", help="MLflow model URI (e.g. models:/m-…)")
    p.add_argument("--input", required=True, help="new customers, in the dataset's raw format")
    p.add_argument("--output", required=True, help="output file (.csv or .parquet)")
    p.add_argument(
        "--dataset-config", help="dataset config: YAML file or conf/dataset name (default: stored)"
    )
    p.add_argument("--analysis-date", help="reference date for recency (YYYY-MM-DD)")
    p.add_argument("--tracking-uri", help="MLflow tracking store (default: see the docstring)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one-line output
    try:
        table, info = assign(
            args.input,
            run_id=args.run_id,
            model_uri=args.model_uri,
            dataset=args.dataset_config,
            analysis_date=args.analysis_date,
            uri=args.tracking_uri,
        )
        out = write_table(table, args.output)
    except SegbenchError as err:
        print(f"segbench.assign: error: {err}", file=sys.stderr)
        return 2
    sizes = table["segment"].value_counts().sort_index()
    print(
        f"assigned {info['customers']} customers with {info['model_uri']} "
        f"(method {info['method']}, analysis date {info['analysis_date']}) "
        f"in {info['seconds']:.1f} s → {out}"
    )
    print("  segment sizes: " + ", ".join(f"{s}: {n}" for s, n in sizes.items()))
    if info["pseudonym_key"] != "env":
        print(
            "  note: customer ids are pseudonymised with a random key drawn for this call and "
            "never stored; set SEGBENCH_PSEUDONYM_KEY (for the run and here) to link them to "
            "the run's"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
