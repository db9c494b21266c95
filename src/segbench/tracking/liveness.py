"""Is a RUNNING run still running? Heartbeats, and the rule that tells a live run from an orphan.

A process killed with ``kill -9``, or a node that is lost, cannot end its run: MLflow keeps it
RUNNING forever. So every segbench run (and every sweep's parent run) carries three tags:

``segbench.process``
    ``<pid>@<host>`` of the process that owns the run.
``segbench.heartbeat``
    ISO-8601 UTC time of the owner's last sign of life, refreshed every
    ``tracking.heartbeat_seconds`` by a background thread (:class:`Heartbeat`).
``segbench.stale_after``
    ``tracking.stale_after_seconds``: how long without a heartbeat makes the run stale.

**The rule** (:func:`is_stale`). A RUNNING run that carries any ``segbench.`` tag is *stale*
(orphaned: nobody will end it) when

1. its owner process is on this host and no longer exists, or
2. its last heartbeat is older than its ``segbench.stale_after``.

A run without these tags of its own — a tuning trial's run, created by the run that owns
it — takes them from its parent run. A segbench run with no heartbeat anywhere (written by a
segbench before heartbeats) is judged by its start time. Runs of other tools are never stale.

``python -m segbench.stale`` lists the stale runs of a store and closes them KILLED
(:func:`close_stale`), with the reason in ``segbench.error``. A run wrongly judged stale (a
heartbeat starved for longer than ``stale_after``) ends with its true status anyway: its own
ending overwrites KILLED.

>>> from datetime import datetime, timezone
>>> parse_time(format_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)))
datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from segbench.settings import TrackingSettings
from segbench.tracking.store import retry_store

log = logging.getLogger(__name__)

PROCESS_TAG = "segbench.process"
HEARTBEAT_TAG = "segbench.heartbeat"
STALE_AFTER_TAG = "segbench.stale_after"
ERROR_TAG = "segbench.error"
#: The default of ``tracking.stale_after_seconds`` (for runs that do not say theirs).
DEFAULT_STALE_AFTER = TrackingSettings.model_fields["stale_after_seconds"].default


def format_time(moment: datetime) -> str:
    """A UTC time as the heartbeat tag writes it (ISO 8601, seconds)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def parse_time(text: str) -> datetime | None:
    """The time a heartbeat tag holds (``None`` if it holds none)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def now() -> datetime:
    return datetime.now(timezone.utc)


def this_process() -> str:
    """``<pid>@<host>`` of the calling process."""
    return f"{os.getpid()}@{socket.gethostname()}"


def process_exists(tag: str, host: str | None = None) -> bool | None:
    """Whether the process a ``segbench.process`` tag names exists: ``None`` when it runs on
    another host (or the tag is malformed), so only its heartbeat can tell."""
    pid_text, _, where = tag.partition("@")
    if where != (host or socket.gethostname()) or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: it is gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _tags(run: Any) -> Mapping[str, str]:
    return run.data.tags


def is_segbench_run(run: Any) -> bool:
    """Whether ``run`` was written by segbench (it has a ``segbench.`` tag)."""
    return any(key.startswith("segbench.") for key in _tags(run))


def stale_reason(
    run: Any, parent: Any | None = None, at: datetime | None = None, host: str | None = None
) -> str | None:
    """Why ``run`` is stale (module docstring), or ``None`` if it is not.

    ``parent`` is its parent run, if it has one (its heartbeat covers a tuning trial's run).
    """
    if run.info.status != "RUNNING" or not is_segbench_run(run):
        return None
    at = at or now()
    tags = dict(_tags(run))
    if PROCESS_TAG not in tags and HEARTBEAT_TAG not in tags and parent is not None:
        tags.update({k: v for k, v in _tags(parent).items() if k in _LIVENESS})
    owner = tags.get(PROCESS_TAG)
    if owner and process_exists(owner, host) is False:
        return f"its process {owner} no longer exists"
    try:
        limit = float(tags.get(STALE_AFTER_TAG, DEFAULT_STALE_AFTER))
    except ValueError:
        limit = float(DEFAULT_STALE_AFTER)
    beat = parse_time(tags.get(HEARTBEAT_TAG, ""))
    if beat is None:
        beat = datetime.fromtimestamp(run.info.start_time / 1000, timezone.utc)
        what = "no heartbeat; started"
    else:
        what = "last heartbeat"
    silent = (at - beat).total_seconds()
    if silent > limit:
        return f"{what} {format_time(beat)}, {silent:.0f} s ago (stale after {limit:.0f} s)"
    return None


def is_stale(
    run: Any, parent: Any | None = None, at: datetime | None = None, host: str | None = None
) -> bool:
    """Whether ``run`` is RUNNING but orphaned (see :func:`stale_reason`)."""
    return stale_reason(run, parent, at, host) is not None


_LIVENESS = (PROCESS_TAG, HEARTBEAT_TAG, STALE_AFTER_TAG)


def find_stale(
    client: Any, experiment_ids: Iterable[str], at: datetime | None = None
) -> list[tuple[Any, str]]:
    """The stale runs of these experiments, each with the reason."""
    ids = list(experiment_ids)
    if not ids:
        return []
    running = retry_store(
        client.search_runs, ids, filter_string="attributes.status = 'RUNNING'", max_results=50_000
    )
    parents: dict[str, Any] = {}
    found = []
    for run in running:
        parent_id = run.data.tags.get("mlflow.parentRunId")
        if parent_id and parent_id not in parents:
            try:
                parents[parent_id] = retry_store(client.get_run, parent_id)
            except Exception:  # the parent was deleted
                parents[parent_id] = None
        reason = stale_reason(run, parents.get(parent_id) if parent_id else None, at)
        if reason:
            found.append((run, reason))
    return found


def close_killed(client: Any, run_id: str, reason: str) -> None:
    """End run ``run_id`` KILLED with ``reason`` in ``segbench.error``."""
    retry_store(client.set_tag, run_id, ERROR_TAG, f"KILLED: {reason}")
    retry_store(client.set_terminated, run_id, "KILLED")


class Heartbeat:
    """Tags a run with its owner and refreshes ``segbench.heartbeat`` from a daemon thread
    until :meth:`stop` (or the end of a ``with`` block)."""

    def __init__(self, uri: str, run_id: str, every: float, stale_after: float) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(uri)
        self.run_id = run_id
        self.every = every
        self.stale_after = stale_after
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Heartbeat:
        from mlflow.entities import RunTag

        retry_store(
            self.client.log_batch,
            self.run_id,
            tags=[
                RunTag(PROCESS_TAG, this_process()),
                RunTag(STALE_AFTER_TAG, f"{self.stale_after:g}"),
                RunTag(HEARTBEAT_TAG, format_time(now())),
            ],
        )
        self._thread = threading.Thread(target=self._beat, name="segbench-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                retry_store(self.client.set_tag, self.run_id, HEARTBEAT_TAG, format_time(now()))
            except Exception as err:  # a missed beat is not worth failing the run for
                log.debug("heartbeat of run %s not written: %s", self.run_id, err)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = [
    "DEFAULT_STALE_AFTER",
    "HEARTBEAT_TAG",
    "PROCESS_TAG",
    "STALE_AFTER_TAG",
    "Heartbeat",
    "close_killed",
    "find_stale",
    "is_segbench_run",
    "is_stale",
    "process_exists",
    "stale_reason",
]
