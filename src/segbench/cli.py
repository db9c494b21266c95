"""The command line: ``python -m segbench [overrides]`` and ``segbench [overrides]``.

A thin entry point: Hydra composes the config, :func:`segbench.configs.resolve` turns it into
typed settings once, and :func:`segbench.experiment.run_experiment` runs them. Expected user
errors (:class:`~segbench.errors.SegbenchError`) print one paragraph and exit with status 2,
no traceback. In a multirun sweep a failing job is recorded FAILED in MLflow and the other
jobs go on; the sweep ends with a summary and status 1 if any job failed.
"""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from segbench.configs import CONFIG_DIR, register, resolve
from segbench.errors import SegbenchError
from segbench.experiment import RunResult, run_experiment
from segbench.tracking.sweep import sweep_parent_run_id

log = logging.getLogger("segbench")


def summary(result: RunResult) -> str:
    """A short human summary of a run, for the terminal."""
    m = result.metrics
    settings = result.settings

    def fmt(name: str, digits: int = 3) -> str:
        return f"{m[name]:.{digits}f}" if name in m else "n/a"

    lines = [
        f"segbench run {result.run_id} FINISHED in {result.wall_seconds:.1f} s",
        f"  dataset {settings.dataset.name} ({result.data.n_customers} customers) · "
        f"features {settings.features} · algo {settings.algo.name}",
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


def _task(cfg: DictConfig) -> RunResult | None:
    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    parent = sweep_parent_run_id(hydra_cfg.sweep.dir) if multirun else None
    overrides = list(hydra_cfg.overrides.task)
    try:
        settings = resolve(cfg)
    except SegbenchError as err:  # found before any work: no run, unless a sweep must count it
        print(f"segbench: error: {err}", file=sys.stderr)
        if multirun:
            record_refused_job(cfg, overrides, parent, err)
            return None
        sys.exit(2)
    try:
        result = run_experiment(settings, overrides, parent_run_id=parent)
    except SegbenchError as err:
        print(f"segbench: error: {err}", file=sys.stderr)
        if multirun:
            return None
        sys.exit(2)
    except Exception:
        if not multirun:
            raise
        log.exception("job %s failed (recorded FAILED in MLflow)", hydra_cfg.job.num)
        return None
    print(summary(result))
    return result


def record_refused_job(
    cfg: DictConfig, overrides: list[str], parent: str | None, err: SegbenchError
) -> None:
    """In a sweep, a job whose settings are refused is a FAILED child run holding the error
    (and nothing else), so the sweep's summary and the leaderboard count it. A single run
    refused this way leaves no run."""
    from segbench.settings import TrackingSettings
    from segbench.settings.base import coerce
    from segbench.tracking import tracked_run

    try:
        tracking = coerce(TrackingSettings, cfg.get("tracking") or {}, "tracking")
    except SegbenchError:
        return  # the tracking settings themselves are wrong: nowhere to record it
    tags = {"segbench.overrides": " ".join(overrides), "segbench.refused": "settings"}
    try:
        with tracked_run(
            tracking.uri, tracking.experiment, run_name="refused", tags=tags, parent_run_id=parent
        ):
            raise err
    except SegbenchError:
        pass


def main() -> None:
    """Console-script entry point."""
    register()
    app = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
    app(_task)()


if __name__ == "__main__":
    main()
