"""One MLflow run of segbench: opening it, logging into it, and ending it truthfully.

Conventions (docs/architecture.md, "Conventions"): params are the resolved settings flattened
with dots; tags are prefixed ``segbench.``. A run ends

- FINISHED when its block completes;
- FAILED when it raises: the message in the tag ``segbench.error``, the traceback in the
  artifact ``error.txt`` (nothing logged before is lost);
- KILLED when it is interrupted (Ctrl-C, SIGTERM once :func:`handle_termination_signals` is
  installed, ``SystemExit`` from a scheduler's requeue): ``segbench.error`` says by what.

Runs it opened that are still RUNNING below it (a tuning trial's run) end with it. While it
runs, a heartbeat marks it alive (:mod:`segbench.tracking.liveness`), so a run whose process
was killed with ``kill -9`` can be told from a live one. Every store call goes through the one
retry policy, :func:`segbench.tracking.store.retry_store`.

:func:`recording` lets the caller learn what was recorded — the run id, and the status only
once the store holds it — and give the run a parent and extra tags (a sweep's job).
"""

from __future__ import annotations

import contextlib
import io
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segbench.errors import store_message, store_traceback
from segbench.reporting.drawing import Drawer, Sketch, png
from segbench.settings import TrackingSettings
from segbench.tracking.liveness import ERROR_TAG, Heartbeat
from segbench.tracking.store import (
    ensure_experiment,
    launch_dir,
    resolve_uri,
    retry_store,
)

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)
MAX_PARAM_LENGTH = 6000
_DEFAULTS = TrackingSettings.model_fields

#: The store's one retry policy under its former name (tuning, the leaderboard and ``assign``
#: call it so).
retry_locked = retry_store


class Interrupted(KeyboardInterrupt):
    """A termination signal (SIGINT, SIGTERM) turned into an exception: the run ends KILLED."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


#: The signal that interrupted the process and has not yet ended a run. Python runs a signal
#: handler wherever the main thread is, and an exception raised inside a weakref callback or a
#: ``__del__`` (SQLAlchemy's, during garbage collection) is printed and dropped: the run would go
#: on. So the handler also leaves the signal here, and :func:`raise_pending_interruption` (at
#: every phase boundary and before a run is ended FINISHED) raises it again.
_PENDING: list[str] = []


def _raise_interrupted(signum: int, frame: Any) -> None:
    name = signal.Signals(signum).name
    _PENDING[:] = [name]
    raise Interrupted(name)


def _quiet_lost_interruption(unraisable: Any, _default: Any = sys.unraisablehook) -> None:
    """An :class:`Interrupted` raised where Python cannot propagate it (a weakref callback, a
    ``__del__``) is not printed as a traceback: it is raised again at the next phase boundary
    (:func:`raise_pending_interruption`). Anything else goes to the default hook."""
    if isinstance(unraisable.exc_value, Interrupted):
        return
    _default(unraisable)


def raise_pending_interruption() -> None:
    """Raise :class:`Interrupted` if a termination signal arrived and its exception was lost."""
    if _PENDING:
        raise Interrupted(_PENDING[0])


def handle_termination_signals() -> None:
    """Make SIGINT and SIGTERM raise :class:`Interrupted` in the main thread, so the run ends
    KILLED and the command prints one line. Handlers someone else installed (a scheduler's
    requeue handler) are kept."""
    if threading.current_thread() is not threading.main_thread():
        return
    sys.unraisablehook = _quiet_lost_interruption
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_interrupted)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _raise_interrupted)


def interruption(err: BaseException) -> str | None:
    """What interrupted a run, when ``err`` is an interruption (else ``None``)."""
    if isinstance(err, Interrupted):
        return f"interrupted by {err.signal_name}"
    if isinstance(err, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt, e.g. Ctrl-C)"
    if isinstance(err, SystemExit):
        return f"the process was told to exit (SystemExit {err.code}, e.g. a scheduler's requeue)"
    return None


@contextmanager
def shielded() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM while a run's ending is written (a second Ctrl-C must not leave it
    RUNNING)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)


@dataclass
class RunRecord:
    """What the store holds about the run opened inside :func:`recording`."""

    parent_run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None
    experiment_id: str | None = None
    uri: str | None = None
    #: The status the store holds once the run ended; ``None`` while it runs, or when its end
    #: could not be written (the run is then RUNNING until found stale).
    status: str | None = None
    error: str | None = None


_RECORD: ContextVar[RunRecord | None] = ContextVar("segbench_run_record", default=None)


@contextmanager
def recording(
    parent_run_id: str | None = None, tags: Mapping[str, str] | None = None
) -> Iterator[RunRecord]:
    """The first run :func:`tracked_run` opens inside this block nests under
    ``parent_run_id``, gets ``tags`` and reports its id and recorded status in the yielded
    :class:`RunRecord`."""
    record = RunRecord(parent_run_id, dict(tags or {}))
    token = _RECORD.set(record)
    try:
        yield record
    finally:
        _RECORD.reset(token)


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"algo": {"n_clusters": 6}}`` → ``{"algo.n_clusters": "6"}`` (values as strings)."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = str(value)[:MAX_PARAM_LENGTH]
    return flat


def _mlflow() -> Any:
    """MLflow, imported when a run first needs it (``import segbench.cli`` stays light)."""
    import mlflow

    return mlflow


class RunTracker:
    """Logging into one active MLflow run (thin, batch-oriented).

    A figure may be handed over as a sketch (:class:`~segbench.reporting.drawing.Sketch`) to
    the run's ``drawer``, which draws it beside the run (:mod:`segbench.reporting.drawing`);
    it is logged by :meth:`log_sketches`, or at the latest when the run finishes.
    """

    def __init__(
        self, run_id: str, experiment_id: str, uri: str, drawer: Drawer | None = None
    ) -> None:
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.uri = uri
        self.drawer = drawer if drawer is not None else Drawer(aside=False)

    def params(self, params: Mapping[str, Any]) -> None:
        retry_store(_mlflow().log_params, {k: str(v)[:MAX_PARAM_LENGTH] for k, v in params.items()})

    def metrics(
        self, metrics: Mapping[str, float], step: int | None = None, model_id: str | None = None
    ) -> None:
        """Log ``metrics`` (NaN and ``None`` left out) in one batch; ``model_id`` links them
        to a logged model of the run as well (MLflow 3's model metrics)."""
        clean = {k: float(v) for k, v in metrics.items() if v is not None and v == v}
        if clean:
            retry_store(_mlflow().log_metrics, clean, step=step, model_id=model_id)

    def tags(self, tags: Mapping[str, Any]) -> None:
        retry_store(_mlflow().set_tags, {k: str(v)[:MAX_PARAM_LENGTH] for k, v in tags.items()})

    def text(self, text: str, path: str) -> None:
        retry_store(_mlflow().log_text, text, path)

    def table(self, frame: pd.DataFrame, path: str, index: bool = True) -> None:
        """Log a DataFrame as CSV (``.csv``) or Parquet (``.parquet``)."""
        if path.endswith(".parquet"):
            buffer = io.BytesIO()
            frame.to_parquet(buffer, index=index)
            self.bytes(buffer.getvalue(), path)
        else:
            self.text(frame.to_csv(index=index), path)

    def bytes(self, payload: bytes, path: str) -> None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / Path(path).name
            target.write_bytes(payload)
            parent = str(Path(path).parent)
            retry_store(_mlflow().log_artifact, str(target), None if parent == "." else parent)

    def figure(self, fig: Any, path: str) -> None:
        """Log a figure as the PNG artifact ``path``: a matplotlib figure now (then closed),
        a :class:`~segbench.reporting.drawing.Sketch` once drawn (:meth:`log_sketches`)."""
        if isinstance(fig, Sketch):
            self.drawer.submit(path, fig)
        else:
            self.bytes(png(fig), path)

    def log_sketches(self) -> None:
        """Log the figures sketched so far, in the order they were sketched (each drawn
        beside the run, or here if it was not)."""
        for path, data in self.drawer.collect():
            self.bytes(data, path)


def end_children(client: MlflowClient, run_id: str, experiment_id: str, status: str) -> int:
    """End the RUNNING runs nested under ``run_id`` with ``status``; returns how many."""
    children = retry_store(
        client.search_runs,
        [experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run_id}' and attributes.status = 'RUNNING'",
        max_results=10_000,
    )
    for child in children:
        retry_store(client.set_tag, child.info.run_id, ERROR_TAG, f"{status}: its parent run ended")
        retry_store(client.set_terminated, child.info.run_id, status)
    return len(children)


def _end(tracker: RunTracker, status: str, err: BaseException | None) -> str | None:
    """Write the run's ending; returns the status the store now holds (``None`` if the store
    refused it)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracker.uri)
    if err is not None:
        try:
            reason = interruption(err)
            tracker.tags({ERROR_TAG: f"KILLED: {reason}" if reason else store_message(err)})
            if reason is None:
                tracker.text(store_traceback(err), "error.txt")
            end_children(client, tracker.run_id, tracker.experiment_id, status)
        except Exception as store_err:
            log.warning("the error of run %s was not recorded: %s", tracker.run_id, store_err)
    try:
        retry_store(client.set_terminated, tracker.run_id, status)
        recorded: str | None = status
    except Exception as store_err:
        log.error(
            "run %s could not be ended %s in the store (%s): it stays RUNNING until "
            "`python -m segbench.stale` closes it",
            tracker.run_id,
            status,
            store_err,
        )
        recorded = None
    with contextlib.suppress(Exception):  # leave the fluent API's run stack (writes it again)
        _mlflow().end_run(status)
    return recorded


@contextmanager
def tracked_run(
    uri: str,
    experiment: str,
    run_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    parent_run_id: str | None = None,
    heartbeat_seconds: float = _DEFAULTS["heartbeat_seconds"].default,
    stale_after_seconds: float = _DEFAULTS["stale_after_seconds"].default,
    draw_aside: bool = False,
) -> Iterator[RunTracker]:
    """Start an MLflow run with a heartbeat; end it FINISHED, FAILED (error recorded) or
    KILLED (interrupted) on exit (see the module docstring).

    ``draw_aside``: the run's figures are drawn by a process forked now
    (:mod:`segbench.reporting.drawing`); the figures not yet logged are logged before the
    run ends FINISHED.
    """
    record = _RECORD.get()
    if record is not None and record.run_id is not None:
        record = None  # only the first run of a recording block reports to it
    uri = resolve_uri(uri)
    experiment_id = ensure_experiment(uri, experiment)
    all_tags = {**(record.tags if record else {}), **dict(tags or {})}
    parent = parent_run_id or (record.parent_run_id if record else None)
    if parent:
        all_tags["mlflow.parentRunId"] = parent
    run = retry_store(
        _mlflow().start_run,
        experiment_id=experiment_id,
        run_name=run_name,
        tags={k: str(v) for k, v in all_tags.items()},
    )
    tracker = RunTracker(run.info.run_id, experiment_id, uri)
    if record is not None:
        record.run_id, record.experiment_id, record.uri = tracker.run_id, experiment_id, uri
    heartbeat = Heartbeat(uri, tracker.run_id, heartbeat_seconds, stale_after_seconds)
    try:
        if draw_aside:  # forked before the heartbeat's thread starts
            tracker.drawer = Drawer(aside=True)
        heartbeat.start()
        yield tracker
        tracker.log_sketches()
        raise_pending_interruption()
    except BaseException as err:
        status = "FAILED" if interruption(err) is None else "KILLED"
        if isinstance(err, Interrupted):
            _PENDING.clear()  # delivered: this run ends KILLED
        with shielded():
            heartbeat.stop()
            tracker.drawer.close()
            recorded = _end(tracker, status, err)
        if record is not None:
            record.status, record.error = recorded, store_message(err)
        raise
    else:
        with shielded():
            heartbeat.stop()
            tracker.drawer.close()
            recorded = _end(tracker, "FINISHED", None)
        if record is not None:
            record.status = recorded
        if recorded is None:
            raise RuntimeError(f"run {tracker.run_id} finished but could not be ended in the store")


def git_commit() -> str | None:
    """The commit of the segbench source checkout, if it is one."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


__all__ = [
    "MAX_PARAM_LENGTH",
    "Interrupted",
    "RunRecord",
    "RunTracker",
    "ensure_experiment",
    "flatten",
    "git_commit",
    "handle_termination_signals",
    "interruption",
    "launch_dir",
    "recording",
    "resolve_uri",
    "retry_locked",
    "retry_store",
    "shielded",
    "tracked_run",
]
