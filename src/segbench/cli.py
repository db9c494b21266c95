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
from segbench.experiment import RunResult, run_experiment, summary
from segbench.tracking.sweep import sweep_parent_run_id

log = logging.getLogger("segbench")


def _task(cfg: DictConfig) -> RunResult | None:
    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    parent = sweep_parent_run_id(hydra_cfg.sweep.dir) if multirun else None
    overrides = list(hydra_cfg.overrides.task)
    try:
        result = run_experiment(resolve(cfg), overrides, parent_run_id=parent)
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


def main() -> None:
    """Console-script entry point."""
    register()
    app = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
    app(_task)()


if __name__ == "__main__":
    main()
