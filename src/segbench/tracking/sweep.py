"""A Hydra multirun sweep as one MLflow parent run, with exactly-once accounting of its jobs.

segbench's sweeper (``hydra/sweeper: segbench`` in ``conf/config.yaml``; Hydra wants the plugin
class in ``hydra_plugins.segbench_sweeper``, which hands over to :func:`run_sweep`) keeps
Hydra's grammar (``a=1,2 b=x,y`` and ``hydra.sweeper.params``) and any launcher
(basic, joblib, submitit, Ray), and does this:

1. **Expand** the sweep into its jobs: it knows how many it has.
2. **Claim a sweep directory of its own**, absolute: the configured one
   (``multirun/<date>/<time>``), or ``<it>-2``, ``-3``… when another sweep started in the same
   second. Every job gets it (``hydra.sweep.dir``) whatever node it runs on.
3. **Open the parent run**: tags ``segbench.role=sweep``, ``segbench.sweep_dir``,
   ``segbench.sweep_jobs``, ``segbench.overrides``; its params are the sweep's overrides
   (``algo=kmeans,gmm`` gives the param ``algo``); a heartbeat
   (:mod:`segbench.tracking.liveness`). Its id reaches every job as the environment variable
   ``SEGBENCH_SWEEP_PARENT`` (``hydra.job.env_set``, so it travels with the job's config to
   any node), and each job's run is nested under it and tagged ``segbench.sweep_job=<n>``.
4. **Compose every job** first. A job Hydra cannot compose (``algo=gmm algo.n_clusters=4``:
   GMM has no such key) is never launched; it is recorded at once as a FAILED child with the
   error. The others are numbered 0, 1, … (their folders ``<sweep dir>/<n>``) and launched;
   the unlaunched ones take the numbers after them.
5. **Launch**. A job returns only a :class:`JobOutcome` (run id, status, headline metrics,
   error) — never its data. A job that fails before its run exists (a bad value found by
   :func:`segbench.configs.resolve`) records itself as a FAILED child with its error
   (:func:`record_job_failure`); if it cannot reach the store, the sweep records it from the
   outcome.
6. **Close, whatever happened** (a launcher crash, Ctrl-C): the children are read back from
   the store and each job counted once, by its latest attempt (a job a scheduler requeued
   after a time limit is one job; its earlier attempts stay visible as children, tagged with
   the same job number). A child still RUNNING whose process is gone is ended KILLED. The
   summary and a comparison table (configuration → headline metrics) are printed and logged on
   the parent (``sweep/comparison.md``, ``sweep/comparison.csv``, metrics ``sweep.*``). The
   parent ends FINISHED when every job finished, KILLED when the sweep was interrupted, and
   FAILED otherwise; then the command exits with status 1. A launcher that fails (submitit's
   ``UncompletedJobError`` for a job killed with ``kill -9``) is one paragraph on the console
   and its traceback is the parent's ``error.txt``.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from segbench.errors import SegbenchError, store_message, store_traceback
from segbench.settings import TrackingSettings
from segbench.settings.base import coerce
from segbench.tracking.liveness import ERROR_TAG, Heartbeat, close_killed, stale_reason
from segbench.tracking.mlflow_run import MAX_PARAM_LENGTH, interruption, shielded
from segbench.tracking.store import ensure_experiment, resolve_uri, retry_store, ui_hint

#: Environment variable that carries the parent run's id to every job.
PARENT_ENV = "SEGBENCH_SWEEP_PARENT"
#: Tag of a job's run: its job number in the sweep.
JOB_TAG = "segbench.sweep_job"
ROLE_TAG = "segbench.role"
#: Metrics of the comparison table (and of a job's outcome), when a run has them.
HEADLINE = (
    "n_segments",
    "noise_fraction",
    "silhouette",
    "davies_bouldin",
    "calinski_harabasz",
    "stability",
    "ari",
)
NOT_RUN = "NOT RUN"


@dataclass(frozen=True)
class JobOutcome:
    """What a launched job hands back to the launcher: small, whatever the data's size."""

    job: int
    run_id: str | None
    #: FINISHED, FAILED or KILLED — as recorded in the store; ``None`` if the store refused it
    status: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    #: the error (``Type: message``, safe for the store) when the job failed
    error: str | None = None


def failed_child(
    client: MlflowClient,
    experiment_id: str,
    parent: str,
    job: int,
    overrides: Sequence[str],
    error: str,
) -> str:
    """Record job ``job``, which failed before its run existed, as a FAILED child of
    ``parent`` with ``error`` (``Type: message``); returns its run id."""
    run = retry_store(
        client.create_run,
        experiment_id,
        run_name=f"job {job} (not started)",
        tags={
            "mlflow.parentRunId": parent,
            JOB_TAG: str(job),
            "segbench.overrides": " ".join(overrides)[:MAX_PARAM_LENGTH],
            ERROR_TAG: error[:MAX_PARAM_LENGTH],
        },
    )
    retry_store(client.set_terminated, run.info.run_id, "FAILED")
    return run.info.run_id


def record_job_failure(
    uri: str, parent: str, job: int, overrides: Sequence[str], error: str
) -> str | None:
    """From inside a job: record its failure before its run existed as a FAILED child of the
    sweep's parent run (in the parent's experiment). ``None`` when the store cannot be
    reached; the sweep then records it from the job's :class:`JobOutcome`."""
    try:
        client = MlflowClient(resolve_uri(uri))
        experiment_id = retry_store(client.get_run, parent).info.experiment_id
        return failed_child(client, experiment_id, parent, job, overrides, error)
    except Exception:
        return None


def headline(metrics: Mapping[str, float]) -> dict[str, float]:
    """The :data:`HEADLINE` metrics among ``metrics``."""
    return {name: float(metrics[name]) for name in HEADLINE if name in metrics}


def parent_from_environment() -> str | None:
    """The sweep's parent run id, inside a job of a segbench sweep."""
    return os.environ.get(PARENT_ENV) or None


@dataclass
class JobRecord:
    """One job of a sweep, as the store holds it at the end."""

    job: int
    overrides: list[str]
    status: str
    run_id: str | None = None
    attempts: list[str] = field(default_factory=list)
    error: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class Account:
    """What became of every job of a sweep."""

    jobs: list[JobRecord]
    ended: str  # the parent's status

    def count(self, status: str) -> int:
        return sum(1 for j in self.jobs if j.status == status)

    @property
    def attempts(self) -> int:
        return sum(max(len(j.attempts), 1) for j in self.jobs if j.status != NOT_RUN)

    def summary(self, parent: str, hint: str) -> str:
        counts = [f"{self.count(s)} {s}" for s in ("FINISHED", "FAILED", "KILLED", "RUNNING")]
        counts += [f"{self.count(NOT_RUN)} not run"] if self.count(NOT_RUN) else []
        shown = [c for c in counts if not c.startswith("0 ")] or ["0 FINISHED"]
        lines = [
            f"sweep: {len(self.jobs)} job(s), {', '.join(shown)}; parent run {parent} "
            f"{self.ended} · {hint}"
        ]
        varying = _varying_keys([j.overrides for j in self.jobs])
        for job in self.jobs:
            shown_overrides = [o for o in job.overrides if _key(o) in varying] or job.overrides
            label = f"job {job.job} ({' '.join(shown_overrides)})"
            if job.status != "FINISHED":
                lines.append(f"  {job.status} {label}: {job.error or 'no error recorded'}")
            if len(job.attempts) > 1:
                lines.append(
                    f"  {label}: {len(job.attempts)} attempts (the latest counts): "
                    + ", ".join(job.attempts)
                )
        return "\n".join(lines)


def _key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def _varying_keys(jobs: Sequence[Sequence[str]]) -> set[str]:
    """The override keys whose value differs between jobs."""
    values: dict[str, set[str]] = {}
    for job in jobs:
        for item in job:
            values.setdefault(_key(item), set()).add(item.partition("=")[2])
    return {key for key, seen in values.items() if len(seen) > 1}


def comparison(account: Account) -> pd.DataFrame:
    """The comparison table: one row per job, the overrides that differ, status, headline
    metrics and run id."""
    rows = []
    for job in account.jobs:
        row: dict[str, Any] = {"job": job.job}
        for item in job.overrides:
            row[_key(item)] = item.partition("=")[2]
        row["status"] = job.status
        row.update(job.metrics)
        row["run"] = job.run_id or ""
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    keys = [c for c in table.columns if c not in ("job", "status", "run", *HEADLINE)]
    varying = [k for k in keys if table[k].astype(str).nunique(dropna=False) > 1] or keys
    metrics = [m for m in HEADLINE if m in table.columns]
    return table[["job", *varying, "status", *metrics, "run"]]


def render(table: pd.DataFrame) -> str:
    """``table`` as a Markdown (GitHub) table: counts as integers, other numbers to 3
    decimals, a missing value as ``—``."""
    from tabulate import tabulate

    def column(name: str, values: pd.Series) -> pd.Series:
        if not pd.api.types.is_float_dtype(values):
            return values
        digits = 0 if name in ("n_segments", "job") else 3
        return values.map(lambda v: "—" if v != v else f"{v:.{digits}f}")

    shown = pd.DataFrame({name: column(name, table[name]) for name in table.columns})
    return tabulate(shown.to_dict("records"), headers="keys", tablefmt="github")


_PARAM_KEY = re.compile(r"[^\w.\- /:]")


def sweep_params(overrides: Sequence[str]) -> dict[str, str]:
    """The parent run's params: each override's key (``+``/``~`` dropped, characters MLflow
    refuses replaced) → its value as typed.

    >>> sweep_params(["algo=kmeans,gmm", "+cell=a,b", "dataset.n_customers=300"])
    {'algo': 'kmeans,gmm', 'cell': 'a,b', 'dataset.n_customers': '300'}
    """
    params = {}
    for item in overrides:
        key, _, value = item.partition("=")
        params[_PARAM_KEY.sub("_", key.lstrip("+~"))[:250]] = value[:MAX_PARAM_LENGTH]
    return params


def claim_directory(configured: str | Path, cwd: Path | None = None) -> Path:
    """An absolute sweep directory no other sweep uses: ``configured`` if it does not exist,
    else ``<configured>-2``, ``-3``… (created here, atomically)."""
    base = Path(configured).expanduser()
    if not base.is_absolute():
        base = (cwd or Path.cwd()) / base
    candidate, n = base, 1
    while True:
        try:
            candidate.mkdir(parents=True, exist_ok=False)
            return candidate
        except FileExistsError:
            n += 1
            candidate = base.with_name(f"{base.name}-{n}")


def _quoted(value: str) -> str:
    """``value`` as a quoted value of Hydra's override grammar."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class SweepRun:
    """The parent run of one sweep: opened before its jobs, closed after them."""

    def __init__(self, tracking: TrackingSettings) -> None:
        self.tracking = tracking
        self.uri = resolve_uri(tracking.uri)
        self.experiment_id = ensure_experiment(self.uri, tracking.experiment)
        self.client = MlflowClient(self.uri)
        self.run_id = ""
        self.heartbeat: Heartbeat | None = None

    def open(self, overrides: Sequence[str], sweep_dir: Path, n_jobs: int, launcher: str) -> str:
        run = retry_store(
            self.client.create_run,
            self.experiment_id,
            run_name=f"sweep {sweep_dir.name}",
            tags={
                ROLE_TAG: "sweep",
                "segbench.overrides": " ".join(overrides)[:MAX_PARAM_LENGTH],
                "segbench.sweep_dir": str(sweep_dir),
                "segbench.sweep_jobs": str(n_jobs),
                "segbench.launcher": launcher,
            },
        )
        self.run_id = run.info.run_id
        params = [Param(k, v) for k, v in sweep_params(overrides).items()]
        if params:
            retry_store(self.client.log_batch, self.run_id, params=params)
        self.heartbeat = Heartbeat(
            self.uri,
            self.run_id,
            self.tracking.heartbeat_seconds,
            self.tracking.stale_after_seconds,
        ).start()
        return self.run_id

    def record_failed_job(self, job: int, overrides: Sequence[str], error: str) -> str:
        """A FAILED child for a job that failed before its run existed."""
        return failed_child(self.client, self.experiment_id, self.run_id, job, overrides, error)

    def children(self, experiment_ids: set[str]) -> list[Any]:
        return retry_store(
            self.client.search_runs,
            sorted(experiment_ids),
            filter_string=f"tags.mlflow.parentRunId = '{self.run_id}'",
            max_results=50_000,
        )

    def account(
        self,
        jobs: Sequence[Sequence[str]],
        launched: int,
        outcomes: Mapping[int, JobOutcome],
        finished_launching: bool,
    ) -> list[JobRecord]:
        """What became of each job (module docstring, step 6)."""
        experiment_ids = {self.experiment_id}
        experiment_ids |= {
            retry_store(self.client.get_run, o.run_id).info.experiment_id
            for o in outcomes.values()
            if o.run_id
        }
        by_job: dict[int, list[Any]] = {}
        for run in self.children(experiment_ids):
            number = run.data.tags.get(JOB_TAG, "")
            if number.isdigit():
                by_job.setdefault(int(number), []).append(run)
        records = []
        for number, overrides in enumerate(jobs):
            record = JobRecord(number, list(overrides), NOT_RUN)
            attempts = sorted(by_job.get(number, []), key=lambda r: r.info.start_time)
            outcome = outcomes.get(number)
            if attempts:
                final = attempts[-1]
                record.run_id = final.info.run_id
                record.status = final.info.status
                if record.status == "RUNNING":
                    reason = stale_reason(final)
                    if reason:
                        close_killed(self.client, final.info.run_id, reason)
                        record.status, record.error = "KILLED", f"KILLED: {reason}"
                    else:
                        record.error = "still running (its process is alive)"
                record.error = final.data.tags.get(ERROR_TAG, record.error)
                record.metrics = headline(final.data.metrics)
                record.attempts = [f"{r.info.run_id[:8]} {r.info.status}" for r in attempts]
            elif outcome is not None and outcome.error:  # the job could not record it
                record.run_id = self.record_failed_job(number, overrides, outcome.error)
                record.status, record.error = "FAILED", outcome.error
            elif number < launched and finished_launching:
                error = (
                    "the job recorded no run: its process ended before the run started "
                    "(killed, or out of memory)"
                )
                record.run_id = self.record_failed_job(number, overrides, error)
                record.status, record.error = "FAILED", error
            else:
                record.error = "not started (the sweep was interrupted or its launcher failed)"
            records.append(record)
        return records

    def close(self, account: Account, error: str | None, crash: str | None = None) -> None:
        """Log the accounting and the comparison on the parent and end it."""
        if self.heartbeat is not None:
            self.heartbeat.stop()
        table = comparison(account)
        now = int(time.time() * 1000)
        counts = {
            "sweep.jobs": len(account.jobs),
            "sweep.finished": account.count("FINISHED"),
            "sweep.failed": account.count("FAILED"),
            "sweep.killed": account.count("KILLED"),
            "sweep.running": account.count("RUNNING"),
            "sweep.not_run": account.count(NOT_RUN),
            "sweep.attempts": account.attempts,
        }
        tags = [RunTag(ERROR_TAG, error[:MAX_PARAM_LENGTH])] if error else []
        retry_store(
            self.client.log_batch,
            self.run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in counts.items()],
            tags=tags,
        )
        if crash:
            retry_store(self.client.log_text, self.run_id, crash, "error.txt")
        if len(table):
            retry_store(self.client.log_text, self.run_id, render(table), "sweep/comparison.md")
            retry_store(
                self.client.log_text, self.run_id, table.to_csv(index=False), "sweep/comparison.csv"
            )
        retry_store(self.client.set_terminated, self.run_id, account.ended)


def expand(sweeper: Any, arguments: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """The sweep's overrides (``hydra.sweeper.params`` first) and its jobs, in Hydra's order."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    given = [*sweeper._parse_config(), *arguments]
    parser = OverridesParser.create(config_loader=sweeper.hydra_context.config_loader)
    parsed = parser.parse_overrides(given)
    (jobs,) = BasicSweeper.split_arguments(parsed, None) or [[]]
    return given, [list(job) for job in jobs]


def _pin(config: DictConfig, sweep_dir: Path, parent: str) -> None:
    """Give every job (on any node) the sweep directory and the parent run's id."""
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.sweep.dir = str(sweep_dir)
        config.hydra.overrides.hydra.append(f"hydra.sweep.dir={_quoted(str(sweep_dir))}")
        config.hydra.overrides.hydra.append(f"++hydra.job.env_set.{PARENT_ENV}={parent}")


def _compose_error(err: BaseException) -> str:
    return f"the job's configuration cannot be composed: {' '.join(str(err).split())}"


def run_sweep(sweeper: Any, arguments: Sequence[str]) -> list[Any]:
    """Run a sweep (module docstring); called by the segbench sweeper plugin."""
    config, launcher = sweeper.config, sweeper.launcher
    given, jobs = expand(sweeper, arguments)
    try:
        tracking = coerce(TrackingSettings, config.tracking, "tracking")
        sweep = SweepRun(tracking)
    except SegbenchError as err:  # before anything is recorded: one paragraph, status 2
        print(f"segbench: error: {err}", file=sys.stderr)
        sys.exit(2)
    sweep_dir = claim_directory(str(config.hydra.sweep.dir))
    choices = OmegaConf.select(config, "hydra.runtime.choices") or {}
    parent = sweep.open(given, sweep_dir, len(jobs), str(choices.get("hydra/launcher", "basic")))

    composable: list[list[str]] = []
    broken: list[tuple[list[str], str]] = []
    outcomes: dict[int, JobOutcome] = {}
    returns: list[Any] = []
    error: str | None = None
    crash: str | None = None
    interrupted = False
    finished_launching = False
    try:
        _pin(config, sweep_dir, parent)
        OmegaConf.save(config, sweep_dir / "multirun.yaml")
        for job in jobs:
            try:
                sweeper.hydra_context.config_loader.load_sweep_config(config, list(job))
                composable.append(job)
            except Exception as err:  # Hydra's composition errors
                broken.append((job, _compose_error(err)))
        for offset, (job, message) in enumerate(broken):
            sweep.record_failed_job(len(composable) + offset, job, message)
        size = sweeper.max_batch_size or _batch_size(launcher, len(composable)) or 1
        for start in range(0, len(composable), size):
            batch = composable[start : start + size]
            results = launcher.launch(batch, initial_job_idx=start)
            returns.append(results)
            for number, result in enumerate(results, start):
                outcomes[number] = _outcome(number, result)
                _release(result)
        finished_launching = True
    except BaseException as err:
        reason = interruption(err)
        interrupted = reason is not None
        if interrupted:
            error = f"sweep {reason}"
        else:  # a launcher's failure (a job killed under submitit, a lost Ray node…)
            first = (store_message(err).splitlines() or [type(err).__name__])[0]
            error = f"the launcher failed: {first} (traceback in error.txt)"
            crash = store_traceback(err)
        if interrupted or not isinstance(err, Exception):
            raise
    finally:
        with shielded():
            exit_code = _finish(
                sweep, composable, broken, outcomes, finished_launching, error, interrupted, crash
            )
    if crash:
        print(f"segbench: error: {error}; sweep directory {sweep_dir}", file=sys.stderr)
    if exit_code:
        sys.exit(exit_code)
    return returns


def _finish(
    sweep: SweepRun,
    composable: list[list[str]],
    broken: list[tuple[list[str], str]],
    outcomes: Mapping[int, JobOutcome],
    finished_launching: bool,
    error: str | None,
    interrupted: bool,
    crash: str | None = None,
) -> int:
    """Account, print, log and end the parent (step 6); returns the exit status."""
    try:
        numbered = composable + [job for job, _ in broken]
        records = sweep.account(numbered, len(composable), outcomes, finished_launching)
        for offset, (_, message) in enumerate(broken):
            records[len(composable) + offset].error = message
        done = error is None and all(r.status == "FINISHED" for r in records)
        ended = "KILLED" if interrupted else ("FINISHED" if done else "FAILED")
        account = Account(records, ended)
        sweep.close(account, error, crash)
    except Exception as store_err:
        print(
            f"segbench: the sweep's parent run {sweep.run_id} could not be closed "
            f"({store_message(store_err)}); `python -m segbench.stale` closes it once its "
            "heartbeat is stale",
            file=sys.stderr,
        )
        return 1
    hint = ui_hint(sweep.uri, sweep.experiment_id, sweep.run_id)
    print("\n" + account.summary(sweep.run_id, hint))
    table = comparison(account)
    if len(table):
        print("\n" + render(table) + "\n", flush=True)
    return 0 if ended == "FINISHED" else 1


#: Jobs per batch of an in-process launcher: the basic launcher keeps each job's composed
#: configs (about half a megabyte) until its batch ends, so a sweep's memory would grow with
#: its jobs; in batches it stays flat (the jobs run one after the other either way).
IN_PROCESS_BATCH = 10
BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


def _batch_size(launcher: Any, jobs: int) -> int:
    """All jobs in one batch, but :data:`IN_PROCESS_BATCH` for Hydra's basic launcher (told
    by name: Hydra's plugin scan may load its module twice, so ``isinstance`` can miss it)."""
    basic = any(
        f"{c.__module__}.{c.__qualname__}" == BASIC_LAUNCHER for c in type(launcher).__mro__
    )
    return min(jobs, IN_PROCESS_BATCH) if basic else jobs


def _release(result: Any) -> None:
    """Drop a finished job's composed configs from its ``JobReturn`` (its outcome is kept)."""
    for name in ("cfg", "hydra_cfg"):
        if hasattr(result, name):
            setattr(result, name, None)


def _outcome(number: int, result: Any) -> JobOutcome:
    """The :class:`JobOutcome` of a launcher's ``JobReturn``."""
    from hydra.core.utils import JobStatus

    if result.status == JobStatus.COMPLETED and isinstance(result._return_value, JobOutcome):
        return result._return_value
    value = result._return_value
    if isinstance(value, BaseException):
        return JobOutcome(number, None, None, error=store_message(value))
    return JobOutcome(number, None, None, error=f"the job returned {type(value).__name__}")


__all__ = [
    "HEADLINE",
    "JOB_TAG",
    "PARENT_ENV",
    "Account",
    "JobOutcome",
    "JobRecord",
    "SweepRun",
    "claim_directory",
    "comparison",
    "expand",
    "failed_child",
    "headline",
    "parent_from_environment",
    "record_job_failure",
    "render",
    "run_sweep",
    "sweep_params",
]
