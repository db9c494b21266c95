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

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from segbench.data.model import CustomerData
from segbench.features import FeatureMatrix
from segbench.reporting import plots
from segbench.reporting.card import SegmentCard
from segbench.reporting.profiles import profiles_markdown
from segbench.reporting.responsibility import ResponsibilityReport
from segbench.settings import RunSettings, TrackingSettings
from segbench.tracking.mlflow_run import RunTracker, git_commit

log = logging.getLogger(__name__)


def run_tags(
    settings: RunSettings, overrides: list[str], version: str, key_source: str
) -> dict[str, str]:
    """Static tags of a run (known before any work)."""
    tags = {
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


def log_dataset(run: RunTracker, data: CustomerData) -> None:
    """Fingerprint, size and cleaning report of the loaded dataset."""
    tags = {"segbench.dataset_fingerprint": data.meta.fingerprint}
    if "cache" in data.meta.notes:
        tags["segbench.dataset_cache"] = str(data.meta.notes["cache"])
    run.tags(tags)
    report = data.meta.cleaning_report()
    if len(report):
        run.table(report, "data/cleaning_report.csv", index=False)


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
    title: str,
    seed: int = 0,
    pipeline: Any = None,
    data: CustomerData | None = None,
    dataset_config: Mapping[str, Any] | None = None,
    silhouette_sample_size: int = 10_000,
) -> None:
    """Metrics, notes as tags, profiles, plots, assignments and the model.

    With the fitted ``pipeline`` and the ``data`` it was fitted on, the model is the
    whole-path pyfunc of :mod:`segbench.serving.model` (``dataset_config``, the run's dataset
    settings, is stored in it for ``python -m segbench.assign``); without them, the bare
    estimator. ``title`` heads the plots; the silhouette plot draws the run's silhouette
    sample (``silhouette_sample_size``, ``seed``).
    """
    run.metrics(metrics)
    if notes:
        run.tags({f"segbench.{k}": v for k, v in notes.items()})
    run.text(profiles_markdown(profiles), "profiles/segment_profiles.md")
    run.table(profiles, "profiles/segment_profiles.csv")
    assignments = pd.DataFrame(
        {"customer_id": features.index.astype(str), "segment": np.asarray(labels)}
    )
    run.table(assignments, "assignments.parquet", index=False)
    if tracking.log_plots:
        for path, fig in plots.segmentation_figures(
            features.X,
            labels,
            profiles,
            features.profile,
            title=title,
            seed=seed,
            silhouette_sample_size=silhouette_sample_size,
        ):
            run.figure(fig, path)
    if tracking.log_model:
        info = log_model(
            estimator,
            features.X,
            features.columns,
            pipeline=pipeline,
            data=data,
            labels=labels,
            dataset_config=dataset_config,
            seed=seed,
        )
        run.tags({"segbench.model_uri": info.model_uri})
        if pipeline is not None and data is not None:
            run.tags({"segbench.assign_method": info.segbench_assign_method})


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
    from segbench.reporting.fairness_charts import group_mix_chart

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
                    group_mix_chart(table, attribute, title, report.names),
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
    pipeline: Any = None,
    data: CustomerData | None = None,
    labels: np.ndarray | None = None,
    dataset_config: Any = None,
    seed: int = 0,
) -> Any:
    """Log the fitted run as an MLflow model with a signature.

    With ``pipeline`` (fitted), ``data`` and ``labels``: the whole-path pyfunc
    :class:`segbench.serving.SegmentationModel` (canonical customer rows → features →
    estimator or its assignment method → segment), so ``mlflow models predict`` works on raw
    canonical rows; the assignment method's name is set on the returned info as
    ``segbench_assign_method``. Otherwise the bare estimator (a signature when it can predict).

    MLflow 3 keeps models as logged-model entities linked to the run (``models:/<id>``),
    not under the run's artifacts; the returned ``ModelInfo.model_uri`` is tagged on the run.
    """
    import mlflow
    from mlflow.models import infer_signature

    if pipeline is not None and data is not None and labels is not None:
        from segbench.serving.model import build_model, log_segmentation_model

        model = build_model(pipeline, estimator, X, labels, columns, data, dataset_config, seed)
        info = log_segmentation_model(model, data, estimator)
        info.segbench_assign_method = model.method
        return info

    sample = pd.DataFrame(X[: min(len(X), 5)], columns=columns)
    signature = None
    if hasattr(estimator, "predict"):
        try:
            signature = infer_signature(sample, estimator.predict(sample.to_numpy()))
        except Exception as err:  # an estimator whose predict needs more than X
            log.warning("no model signature: %s", err)
    from segbench.serving.model import model_requirements

    # explicit requirements: MLflow's inference imports the whole environment (~5 s);
    # cloudpickle, not skops (MLflow's default): importing skops costs ~5 s (it walks every
    # scikit-learn estimator, importing torch) and it rejects non-scikit-learn types (hdbscan)
    return mlflow.sklearn.log_model(
        estimator,
        name="model",
        signature=signature,
        pip_requirements=model_requirements(estimator),
        serialization_format="cloudpickle",
    )
