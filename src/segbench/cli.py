"""The command line: ``python -m segbench [overrides]`` and ``segbench [overrides]``.

A thin entry point: Hydra composes the config, :func:`segbench.configs.resolve` turns it into
typed settings once, and :func:`segbench.experiment.run_experiment` runs them.

- ``-v``/``--verbose`` (before or among the overrides) is ``tracking.verbose=true``: the
  summary then says where the run's time went (its ``time.<phase>`` metrics). Only the
  run's own modules are imported at start-up; the experiment (scikit-learn, MLflow …) when a
  run starts.
- Expected user errors (:class:`~segbench.errors.SegbenchError`) print one paragraph and exit
  with status 2, no traceback.
- Ctrl-C (SIGINT) and SIGTERM end the run KILLED and print one line (exit status 130 or 143).
- In a multirun sweep (:mod:`segbench.tracking.sweep`) each job returns a small
  :class:`~segbench.tracking.sweep.JobOutcome`; a failing job is recorded FAILED (its run, or
  a FAILED child with the error when it failed before its run existed) and the other jobs go
  on; the sweep ends with a summary, a comparison table and status 1 if any job did not
  finish.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from segbench.configs import CONFIG_DIR, register, resolve
from segbench.errors import SegbenchError, store_message
from segbench.prefetch import prefetching
from segbench.settings.tracking import default_uri
from segbench.tracking.mlflow_run import (
    Interrupted,
    RunRecord,
    handle_termination_signals,
    interruption,
    recording,
)

if TYPE_CHECKING:  # the run's modules are imported when a run starts (``import`` stays light)
    from segbench.experiment import RunResult
    from segbench.tracking.sweep import JobOutcome

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
    if settings.tracking.verbose and result.phase_seconds:
        lines.append(f"  time: {phase_line(result.phase_seconds, result.wall_seconds)}")
    from segbench.tracking.store import ui_hint

    hint = ui_hint(result.tracking_uri, result.experiment_id, result.run_id)
    lines.append(f"  store {result.tracking_uri} · {hint}")
    return "\n".join(lines)


def phase_line(seconds: dict[str, float], wall: float) -> str:
    """Each phase's seconds and share of the run's wall time, for the summary.

    >>> phase_line({"load": 0.5, "fit": 1.5}, 2.0)
    'load 0.50 s (25 %) · fit 1.50 s (75 %)'
    """
    return " · ".join(f"{k} {v:.2f} s ({100 * v / (wall or 1):.0f} %)" for k, v in seconds.items())


#: Flags handled before Hydra: ``-v``/``--verbose`` is the override ``tracking.verbose=true``.
VERBOSE_FLAGS = ("-v", "--verbose")


def verbose_flag(argv: list[str]) -> list[str]:
    """``argv`` with ``-v``/``--verbose`` turned into ``tracking.verbose=true``.

    >>> verbose_flag(["segbench", "-v", "algo=gmm"])
    ['segbench', 'algo=gmm', 'tracking.verbose=true']
    >>> verbose_flag(["segbench", "algo=gmm"])
    ['segbench', 'algo=gmm']
    """
    rest = [a for a in argv if a not in VERBOSE_FLAGS]
    return [*rest, "tracking.verbose=true"] if len(rest) < len(argv) else rest


def what_was_recorded(record: RunRecord) -> str:
    """What the store holds about a run that did not finish (for the console)."""
    if record.run_id is None:
        return "no run was recorded"
    if record.status is None:
        return f"run {record.run_id} could not be ended in the store (it is RUNNING)"
    return f"run {record.run_id} recorded {record.status}"


def exit_status(err: BaseException) -> int:
    """The conventional status of a process ended by a signal: 128 + its number."""
    if isinstance(err, Interrupted):
        return 128 + int(getattr(signal, err.signal_name, signal.SIGINT))
    return 128 + int(signal.SIGINT)


def _single(cfg: DictConfig, overrides: list[str]) -> None:
    with recording() as record:
        try:
            settings = resolve(cfg)
            # the texts are embedded in a second process while the run's libraries load
            with prefetching(settings):
                from segbench.experiment import run_experiment

                result = run_experiment(settings, overrides)
        except SegbenchError as err:
            print(f"segbench: error: {err}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt as err:
            print(f"segbench: {interruption(err)}; {what_was_recorded(record)}", file=sys.stderr)
            sys.exit(exit_status(err))
    print(summary(result))


def _job(cfg: DictConfig, number: int, overrides: list[str]) -> JobOutcome:
    """One job of a sweep: run it, return its outcome (never raise but for an interruption)."""
    from segbench.experiment import run_experiment
    from segbench.tracking.sweep import (
        JOB_TAG,
        JobOutcome,
        headline,
        parent_from_environment,
        record_job_failure,
    )

    handle_termination_signals()  # in a launcher's worker process
    parent = parent_from_environment()
    with recording(parent, {JOB_TAG: str(number)} if parent else None) as record:
        try:
            result = run_experiment(resolve(cfg), overrides)
        except Exception as err:
            error = store_message(err)
            if record.run_id is None and parent:  # failed before its run existed
                uri = OmegaConf.select(cfg, "tracking.uri", default=None) or default_uri()
                record.run_id = record_job_failure(str(uri), parent, number, overrides, error)
                record.status = "FAILED" if record.run_id else None
            if isinstance(err, SegbenchError):
                print(f"segbench: error: job {number}: {err}", file=sys.stderr)
            else:  # a bug: keep its traceback, go on with the other jobs
                log.exception("job %s failed (%s)", number, what_was_recorded(record))
            return JobOutcome(number, record.run_id, record.status, error=error)
    print(summary(result))
    return JobOutcome(number, result.run_id, "FINISHED", headline(result.metrics))


def _task(cfg: DictConfig) -> JobOutcome | None:
    hydra_cfg = HydraConfig.get()
    overrides = list(hydra_cfg.overrides.task)
    if hydra_cfg.mode == RunMode.MULTIRUN:
        return _job(cfg, int(hydra_cfg.job.num), overrides)
    _single(cfg, overrides)
    return None


def main() -> None:
    """Console-script entry point."""
    register()
    sys.argv = verbose_flag(sys.argv)
    handle_termination_signals()
    # with a tracking server MLflow prints a link per ended run (every trial, every job);
    # the summary gives the links that matter
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    app = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
    try:
        app(_task)()
    except KeyboardInterrupt as err:  # a sweep interrupted (its summary is printed)
        print(f"segbench: {interruption(err)}", file=sys.stderr)
        sys.exit(exit_status(err))
    leave(0)


def leave(status: int) -> NoReturn:
    """End the process once everything is recorded, without the interpreter's teardown.

    What a normal exit does that matters is done first: the non-daemon threads are joined
    (an executor's pending work finishes), then the exit handlers run (logging flushed and
    closed, temporary folders removed, file locks released, MLflow's own), and the standard
    streams are flushed. What is skipped is the teardown of every module and object, which
    after a run (MLflow, scikit-learn, matplotlib, pandas loaded) costs more than a second of
    CPU and records nothing. Only the command line's successful end calls it.
    """
    import atexit
    import threading

    threading._shutdown()  # type: ignore[attr-defined]  # what Py_Finalize does first
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
