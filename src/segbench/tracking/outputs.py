"""What segbench logs for a run: tags, the dataset's provenance, metrics and artifacts.

Artifacts of a run::

    config.yaml                       resolved config
    data/cleaning_report.csv          rows dropped per cleaning step (real datasets)
    profiles/segment_profiles.{md,csv}
    plots/projection.png, segment_sizes.png, silhouette.png, profile_heatmap.png
                                      named segments (segbench.reporting.plots)
    assignments.parquet               pseudonymised customer_id → segment
    (model)                           MLflow logged model with a signature (when it can
                                      predict); its URI is the tag ``segbench.model_uri``
    error.txt                         traceback, on failure only

Never logged: raw customer identifiers, names, e-mails, texts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.data.meta_dataset import MetaDataset

from segbench.data.model import CustomerData
from segbench.features import FeatureMatrix
from segbench.reporting import plots
from segbench.reporting.card import SegmentCard
from segbench.reporting.drawing import Sketch
from segbench.reporting.fairness_charts import group_mix_chart
from segbench.reporting.profiles import profiles_markdown
from segbench.reporting.responsibility import ResponsibilityReport
from segbench.settings import RunSettings, TrackingSettings
from segbench.tracking.mlflow_run import RunTracker, git_commit, retry_locked

log = logging.getLogger(__name__)

#: The runs table's description (MLflow shows this tag as the run's description).
DESCRIPTION_TAG = "mlflow.note.content"
#: Metrics the description reports, in this order, with their label and format.
HEADLINE = (
    ("silhouette", "silhouette", ".3f"),
    ("davies_bouldin", "Davies–Bouldin", ".3f"),
    ("calinski_harabasz", "Calinski–Harabasz", ".1f"),
    ("ari", "ARI", ".3f"),
    ("stability", "stability", ".3f"),
)


def run_tags(
    settings: RunSettings, overrides: list[str], version: str, key_source: str
) -> dict[str, str]:
    """Static tags of a run (known before any work).

    Besides segbench's own, MLflow's ``mlflow.source.name`` names the program (``segbench``,
    the runs table's Source column, which shows the last part of a path: the command's
    overrides are the tag ``segbench.overrides`` and the run's name), and ``segbench.tuned``
    marks a tuned run.
    """
    tags = {
        "mlflow.source.name": "segbench",
        "segbench.tuned": str(settings.tune.enabled).lower(),
        "segbench.version": version,
        "segbench.features": settings.features,
        "segbench.algo": settings.algo.name,
        "segbench.dataset": settings.dataset.name,
        "segbench.preprocess": settings.preprocess.name,
        "segbench.seed": str(settings.seed),
        "segbench.overrides": " ".join(overrides),
        "segbench.pseudonym_key": key_source,
    }
    commit = git_commit()
    if commit:
        tags["segbench.git_commit"] = commit
    return tags


def run_description(
    metrics: Mapping[str, float],
    notes: Mapping[str, str] | None = None,
    tuned: Mapping[str, Any] | None = None,
    objectives: Sequence[str] = (),
) -> str:
    """The run's description: what it found, how it was tuned, its notes (one paragraph each;
    the runs table shows the first, the run's page all).

    The algorithm, features and dataset are not repeated (the run's name says them);
    ``tuned``: the tuned values of the refit (path → value), for a tuned run; ``objectives``:
    the study's objective metrics.

    >>> print(run_description({"n_segments": 3, "n_customers": 300, "noise_fraction": 0.0,
    ...     "silhouette": 0.61}))
    3 segments of 300 customers · silhouette 0.610
    """
    m = metrics

    def count(name: str) -> str:
        return f"{int(m[name]):,}" if name in m and m[name] == m[name] else "?"

    head = f"{count('n_segments')} segments of {count('n_customers')} customers"
    noise = m.get("noise_fraction")
    if noise:
        head += f" ({noise:.1%} noise)"
    for name, label, fmt in HEADLINE:
        value = m.get(name)
        if value is not None and value == value:
            head += f" · {label} {value:{fmt}}"
    lines = [head]
    if tuned is not None:
        trials = (
            f"{count('tune.n_trials')} evaluated trials ({count('tune.n_complete')} complete, "
            f"{count('tune.n_infeasible')} infeasible), {count('tune.n_failed')} failed, "
            f"{count('tune.n_repeats')} repeating an evaluated point"
        )
        values = ", ".join(f"{_short_path(k)}={v}" for k, v in tuned.items())
        line = f"Tuned: {trials}; refit of trial {count('tune.best_trial')}: {values}"
        compared = []
        for objective in objectives:
            now, before = m.get(objective), m.get(f"baseline.{objective}")
            if now is not None and before is not None:
                compared.append(f"{objective} {now:.4g} (untuned {before:.4g})")
        if compared:
            line += " → " + ", ".join(compared)
        lines.append(line)
    for key, text in (notes or {}).items():
        lines.append(f"Note ({key}): {text}")
    return "\n\n".join(lines)


def _short_path(path: str) -> str:
    return path[len("algo.") :] if path.startswith("algo.") else path


def log_dataset(
    run: RunTracker, data: CustomerData, files: Sequence[str | Path] = (), generator: str = ""
) -> None:
    """The loaded dataset: an MLflow dataset input (the runs table's Dataset column), its
    fingerprint and cache tags, and its cleaning report.

    ``files``: the raw files the adapter read (the dataset's source); ``generator``: the
    adapter class, the source of a generated dataset.
    """
    import mlflow

    tags = {"segbench.dataset_fingerprint": data.meta.fingerprint}
    if "cache" in data.meta.notes:
        tags["segbench.dataset_cache"] = str(data.meta.notes["cache"])
    run.tags(tags)
    retry_locked(mlflow.log_input, dataset_input(data, files, generator), context="training")
    report = data.meta.cleaning_report()
    if len(report):
        run.table(report, "data/cleaning_report.csv", index=False)


def dataset_input(data: CustomerData, files: Sequence[str | Path] = (), generator: str = ""):
    """``data`` as an MLflow dataset: name, source, digest (the content fingerprint), schema
    (the customer columns) and profile (row counts). Metadata only: no customer value.

    The source is the raw file the adapter read (a local path: MLflow's file source), or,
    for a generated dataset or several files, a ``code`` source naming the generator, the
    files and the provenance.
    """
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset_source_registry import get_registered_sources
    from mlflow.types import ColSpec, DataType, Schema

    source: Any
    if len(files) == 1:
        # MLflow's local file source (registered once per artifact scheme, so resolving a
        # path by the registry finds it twice and warns; take it by its type)
        local = next(s for s in get_registered_sources() if s._get_source_type() == "local")
        source = local(str(Path(files[0]).resolve()))
    else:
        tags = {"provenance": data.meta.source}
        if generator:
            tags["generator"] = generator
        if files:
            tags["files"] = ", ".join(str(Path(f).resolve()) for f in files)
        source = CodeDatasetSource(tags=tags)
    columns = [
        ColSpec(
            DataType.double if pd.api.types.is_numeric_dtype(dtype) else DataType.string,
            str(name),
        )
        for name, dtype in data.customers.dtypes.items()
    ]
    profile = {"customers": int(data.n_customers)}
    for part in ("transactions", "texts"):
        frame = getattr(data, part)
        if frame is not None:
            profile[part] = len(frame)

    return CustomerDataset(
        source,
        name=data.name,
        digest=data.meta.fingerprint or None,
        schema=Schema(columns) if columns else None,
        profile=profile,
    )


class CustomerDataset(MetaDataset):
    """An MLflow dataset of metadata only, with a profile (row counts per part)."""

    def __init__(self, *args: Any, profile: Mapping[str, int] | None = None, **kwargs: Any):
        self._profile = dict(profile or {})
        super().__init__(*args, **kwargs)

    @property
    def profile(self) -> dict[str, int]:
        return self._profile

    def to_dict(self) -> dict[str, str]:
        out = super().to_dict()
        out["profile"] = json.dumps(self._profile)
        return out


def sketch_plots(
    run: RunTracker,
    labels: np.ndarray,
    features: FeatureMatrix,
    profiles: pd.DataFrame,
    *,
    title: str,
    seed: int = 0,
    silhouette_sample_size: int = 10_000,
) -> None:
    """Hand the run's figures of :mod:`segbench.reporting.plots` to its drawer: drawn beside
    the run while it goes on (:mod:`segbench.reporting.drawing`), logged with its other
    figures (:meth:`~segbench.tracking.mlflow_run.RunTracker.log_sketches`). ``title`` heads
    them; the silhouette plot draws the run's silhouette sample (``silhouette_sample_size``,
    ``seed``)."""
    for path, sketch in plots.segmentation_figures(
        features.X,
        labels,
        profiles,
        features.profile,
        title=title,
        seed=seed,
        silhouette_sample_size=silhouette_sample_size,
    ):
        run.figure(sketch, path)


def log_outputs(
    run: RunTracker,
    tracking: TrackingSettings,
    metrics: Mapping[str, float],
    notes: Mapping[str, str],
    profiles: pd.DataFrame,
    labels: np.ndarray,
    features: FeatureMatrix,
    estimator: Any,
    *,
    seed: int = 0,
    pipeline: Any = None,
    data: CustomerData | None = None,
    dataset_config: Mapping[str, Any] | None = None,
    min_cell_size: int = 10,
) -> None:
    """Metrics, notes as tags, profiles, assignments and the model (the plots:
    :func:`sketch_plots`).

    The model is logged before the metrics, which are then logged once, linked to it
    (``model_id``): MLflow's ``log_model`` would otherwise read the history of every metric
    already on the run to link it (a query per metric). If logging the model fails, the
    metrics are still logged (unlinked) before the error goes on.

    The model (``tracking.log_model``) is the whole-path pyfunc of
    :mod:`segbench.serving.model`, built from the fitted ``pipeline`` and the ``data`` it was
    fitted on (``dataset_config``, the run's dataset settings, is stored in it for
    ``python -m segbench.assign``; ``min_cell_size`` bounds what its input example may show;
    ``seed`` its input example's sample).
    """
    if notes:
        run.tags({f"segbench.{k}": v for k, v in notes.items()})
    model_id = None
    try:
        if tracking.log_model and pipeline is not None and data is not None:
            info = log_model(
                estimator,
                features.X,
                features.columns,
                pipeline,
                data,
                labels,
                dataset_config=dataset_config,
                seed=seed,
                min_cell_size=min_cell_size,
            )
            model_id = info.model_id
            run.tags(
                {
                    "segbench.model_uri": info.model_uri,
                    "segbench.assign_method": info.segbench_assign_method,
                }
            )
    finally:
        run.metrics(metrics, model_id=model_id)
    run.text(profiles_markdown(profiles), "profiles/segment_profiles.md")
    run.table(profiles, "profiles/segment_profiles.csv")
    assignments = pd.DataFrame(
        {"customer_id": features.index.astype(str), "segment": np.asarray(labels)}
    )
    run.table(assignments, "assignments.parquet", index=False)


def log_responsibility(
    run: RunTracker,
    report: ResponsibilityReport,
    dataset: str,
    log_plots: bool = True,
    extend_card: Callable[[SegmentCard], Any] | None = None,
) -> None:
    """Log what :func:`segbench.reporting.responsibility.audit_segmentation` found.

    ``extend_card`` is called with the :class:`SegmentCard` before it is written, so later
    stages can add to it (``card.set_names(...)``, ``card.add_section("Offers", ...)``).
    """
    if extend_card is not None and report.card is not None:
        extend_card(report.card)
    run.metrics(report.metrics)
    run.tags(report.tags)
    if report.group_tables:
        run.table(report.groups_frame(), "fairness/segment_groups.csv", index=False)
        if log_plots:
            for attribute, table in report.group_tables.items():
                title = f"{attribute} by segment · {dataset}"
                run.figure(
                    Sketch(group_mix_chart, (table, attribute, title, report.names)),
                    f"plots/fairness_{attribute}.png",
                )
    if report.proxies:
        run.table(report.proxy_frame(), "fairness/proxy_importance.csv", index=False)
    if report.surrogate is not None:
        run.text(report.surrogate.rules_markdown(), "transparency/surrogate_rules.md")
    if report.card is not None:
        run.text(report.card.to_markdown(), "segment_card.md")


def log_model(
    estimator: Any,
    X: np.ndarray,
    columns: list[str],
    pipeline: Any,
    data: CustomerData,
    labels: np.ndarray,
    dataset_config: Any = None,
    seed: int = 0,
    min_cell_size: int = 10,
) -> Any:
    """Log the fitted run as an MLflow model: the whole-path pyfunc
    :class:`segbench.serving.SegmentationModel` (canonical customer rows → features →
    estimator or its assignment method → segment), so ``mlflow models predict`` works on raw
    canonical rows. The assignment method's name is set on the returned info as
    ``segbench_assign_method``.

    MLflow 3 keeps models as logged-model entities linked to the run (``models:/<id>``),
    not under the run's artifacts; the returned ``ModelInfo.model_uri`` is tagged on the run.
    """
    from segbench.serving.model import build_model, log_segmentation_model

    model = build_model(pipeline, estimator, X, labels, columns, data, dataset_config, seed)
    info = log_segmentation_model(model, data, estimator, min_count=min_cell_size)
    info.segbench_assign_method = model.method
    return info
