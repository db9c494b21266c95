"""One segmentation experiment, top to bottom (DESIGN.md §2).

config → load dataset → build features → fit algorithm → evaluate → profile → track.
Each stage is a plain function of plain values in its own module; this module only strings
them together inside one MLflow run, which ends FAILED (with the error) if any stage raises.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf
from threadpoolctl import threadpool_limits

from segbench import __version__
from segbench.algorithms import fit_segmentation
from segbench.analysis import run_analyses
from segbench.customer_data import CustomerData
from segbench.datasets import load_dataset
from segbench.evaluation.stability import stability_metrics
from segbench.evaluation.suite import score
from segbench.fairness.report import k_anonymity, log_responsibility
from segbench.fairness.scoring import sensitive_frame
from segbench.features import (
    FeatureMatrix,
    build_blocks,
    build_pipeline,
    check_feedable,
    parse_expression,
)
from segbench.privacy import key_source
from segbench.profiles import segment_profiles
from segbench.tracking import tracked_run
from segbench.tracking.logging import log_dataset, log_outputs, run_tags
from segbench.tracking.mlflow_run import flatten

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What one experiment produced (also everything it logged to MLflow)."""

    run_id: str
    experiment_id: str
    tracking_uri: str
    labels: pd.Series
    metrics: dict[str, float]
    notes: dict[str, str]
    profiles: pd.DataFrame
    features: FeatureMatrix
    estimator: Any
    data: CustomerData
    config: DictConfig
    wall_seconds: float = 0.0


def run_experiment(
    cfg: DictConfig, overrides: list[str] | None = None, parent_run_id: str | None = None
) -> RunResult:
    """Run the experiment ``cfg`` describes and log it; returns the :class:`RunResult`."""
    started = time.perf_counter()
    parse_expression(cfg.features, list(cfg.blocks))  # unknown block: fail before a run exists
    algo_name = cfg.algo.get("name", "algo")
    tags = run_tags(cfg, overrides or [], version=__version__, key_source=key_source())
    with (
        tracked_run(
            cfg.tracking.uri,
            cfg.tracking.experiment,
            run_name=cfg.tracking.run_name or f"{algo_name} · {cfg.features} · {cfg.dataset.name}",
            tags=tags,
            parent_run_id=parent_run_id or cfg.tracking.get("parent_run_id"),
        ) as run,
        threadpool_limits(limits=cfg.get("blas_threads"), user_api="blas"),
    ):
        run.params(flatten(OmegaConf.to_container(cfg, resolve=True)))
        run.text(OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")

        data = load_dataset(cfg.dataset)
        log_dataset(run, data)

        pipeline = build_pipeline(cfg.features, cfg.blocks, cfg.preprocess, seed=cfg.seed)
        check_feedable(pipeline.blocks, data, candidates=build_blocks(cfg.blocks))
        features = pipeline.fit_transform(data)
        log.info("features: %d customers × %d columns (%s)", *features.shape, cfg.features)

        if cfg.tune.name == "none":
            seg = fit_segmentation(cfg.algo, features.X, sensitive_frame(data, features.index))
            metrics, notes = score(cfg, features, data, seg)
        else:  # a study of trials (nested runs); the best trial refit
            from segbench.tuning import tune_segmentation

            # the refit's features/pipeline replace the run's when the space tunes them
            seg, metrics, notes, features, pipeline = tune_segmentation(
                cfg, features, data, run, pipeline
            )
        sensitive = sensitive_frame(data, features.index)  # fairness-aware refits need it
        metrics.update(stability_metrics(cfg, seg, features.X, notes, sensitive))
        metrics["n_customers"] = float(data.n_customers)
        metrics["n_features"] = float(features.shape[1])
        for name, block in pipeline.blocks.items():
            for key, value in getattr(block, "embedding_stats_", {}).items():
                metrics[f"{name}.embeddings_{key}"] = float(value)

        profiles = segment_profiles(seg.labels, features.profile, k_anonymity(cfg))
        analyses = run_analyses(run, cfg, data, features, seg, pipeline, profiles)
        metrics.update(analyses.metrics)
        log_outputs(
            run,
            cfg,
            metrics,
            notes,
            profiles,
            seg.labels,
            features,
            seg.estimator,
            pipeline=pipeline,
            data=data,
        )
        # fairness tables, proxy audit, surrogate rules, privacy flags, segment_card.md
        metrics.update(
            log_responsibility(
                run, cfg, data, features, seg, profiles, metrics, extend_card=analyses.extend_card
            ).metrics
        )
        wall = time.perf_counter() - started
        run.metrics({"wall_seconds": wall})

    return RunResult(
        run_id=run.run_id,
        experiment_id=run.experiment_id,
        tracking_uri=run.uri,
        labels=pd.Series(seg.labels, index=features.index, name="segment"),
        metrics=metrics | {"wall_seconds": wall},
        notes=notes,
        profiles=profiles,
        features=features,
        estimator=seg.estimator,
        data=data,
        config=cfg,
        wall_seconds=wall,
    )


def summary(result: RunResult) -> str:
    """A short human summary of a run, for the terminal."""
    m = result.metrics
    cfg = result.config

    def fmt(name: str, digits: int = 3) -> str:
        return f"{m[name]:.{digits}f}" if name in m else "n/a"

    lines = [
        f"segbench run {result.run_id} FINISHED in {result.wall_seconds:.1f} s",
        f"  dataset {cfg.dataset.name} ({result.data.n_customers} customers) · "
        f"features {cfg.features} · algo {cfg.algo.get('name')}",
        f"  segments {int(m['n_segments'])} · noise {fmt('noise_fraction')} · "
        f"silhouette {fmt('silhouette')} · davies_bouldin {fmt('davies_bouldin')} · "
        f"calinski_harabasz {fmt('calinski_harabasz', 1)}"
        + (f" · ari {fmt('ari')}" if "ari" in m else ""),
    ]
    for reason in result.notes.values():
        lines.append(f"  note: {reason}")
    lines.append(
        f"  store {result.tracking_uri} · `mlflow ui --backend-store-uri {result.tracking_uri}` "
        f"→ http://127.0.0.1:5000/#/experiments/{result.experiment_id}/runs/{result.run_id}"
    )
    return "\n".join(lines)


__all__ = ["RunResult", "run_experiment", "summary"]
