"""The MLflow store: where it is, creating it once, and the one retry policy for its calls.

Where
    :func:`resolve_uri` makes a relative ``sqlite:///file.db`` absolute against the directory
    the user launched from. :func:`ui_hint` says how to look at a run: ``mlflow ui`` for a
    database, the server's own address for a tracking server.

Created once
    MLflow creates a database's schema the first time a process opens it, with no lock: two
    processes starting on a fresh SQLite file both migrate it, and the loser leaves it
    half-done (``duplicate column name``, ``_alembic_tmp_*`` tables). :func:`ensure_experiment`
    takes an inter-process file lock (:mod:`filelock`) beside the database,
    ``<file>.db.lock``, and creates the schema while holding it if the schema is not complete
    (a read-only SQLite check, :func:`schema_ready`), once per process; the other processes
    wait for it, then open the store side by side. A new SQLite store is a copy of the empty
    store the package ships when the installed MLflow made it (:mod:`.template`: no
    migrations to run). Every entry point (a run, a sweep, tuning
    workers, :mod:`segbench.api`) goes through it. A tracking server creates its schema
    itself. The experiment's creation race (two processes creating ``segbench`` at once) is
    settled by reading back the experiment the other process created.

One retry policy
    :func:`retry_store` calls a store function with :mod:`tenacity`'s backoff while the error
    is transient (:func:`is_transient`): SQLite's "database is locked"/"busy"/"disk I/O
    error", and PostgreSQL's deadlocks, serialisation failures and dropped connections. So is
    the dataset registration race: MLflow's ``log_inputs`` looks a dataset up and inserts it if
    absent, so two runs of one dataset started together both insert it and one fails on the
    unique key; its retry finds the row and links it. Anything else — a half-migrated schema
    among them — is raised at once.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from segbench.errors import ConfigError
from segbench.tracking.template import seed

T = TypeVar("T")
SQLITE = "sqlite:///"
#: Seconds a process waits for another one to finish creating the store.
LOCK_TIMEOUT = 300.0
#: How long :func:`retry_store` keeps retrying a transient error, in seconds.
RETRY_SECONDS = 120.0

_TRANSIENT = re.compile(
    r"database is locked|database table is locked|database is busy|sqlite_busy"
    r"|disk i/o error|database schema has changed"
    r"|deadlock detected|could not serialize access|server closed the connection unexpectedly"
    r"|connection reset by peer|ssl syscall error"
    # Two runs registering the same new dataset at once: MLflow looks it up, finds nothing,
    # and both insert it; the loser's retry finds it and links it (SQLite, PostgreSQL, MySQL).
    r"|unique constraint failed: datasets\.|unique constraint \"dataset_pk\""
    r"|duplicate entry .* for key 'datasets\.primary'",
    re.IGNORECASE,
)
_EXPERIMENTS: dict[tuple[str, str], str] = {}


def launch_dir() -> Path:
    """The directory the user launched from (Hydra's original cwd when Hydra runs)."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.utils import get_original_cwd

        if HydraConfig.initialized():
            return Path(get_original_cwd())
    except (ImportError, ValueError):
        pass
    return Path.cwd()


def resolve_uri(uri: str) -> str:
    """Make a relative ``sqlite:///file.db`` absolute against the launch directory.

    >>> resolve_uri("http://127.0.0.1:5000")
    'http://127.0.0.1:5000'
    >>> resolve_uri("sqlite:////data/mlflow.db")
    'sqlite:////data/mlflow.db'
    """
    if uri.startswith(SQLITE) and not uri.startswith(SQLITE + "/"):
        path = (launch_dir() / uri[len(SQLITE) :]).resolve()
        return f"{SQLITE}{path}"
    return uri


def sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (``None`` for anything else)."""
    uri = resolve_uri(uri)
    return Path(uri[len(SQLITE) :]) if uri.startswith(SQLITE) else None


def redact(uri: str) -> str:
    """``uri`` with any password hidden (safe to print and to log).

    >>> redact("postgresql://me:secret@db.example.org/mlflow")
    'postgresql://me:***@db.example.org/mlflow'
    """
    try:
        from sqlalchemy.engine import make_url

        return make_url(uri).render_as_string(hide_password=True)
    except Exception:  # not a database URL
        return uri


def is_server(uri: str) -> bool:
    """Whether ``uri`` is a tracking server (``http://``, ``https://``)."""
    return uri.startswith(("http://", "https://"))


def ui_hint(uri: str, experiment_id: str, run_id: str | None = None) -> str:
    """How to open a run (or its experiment) in the MLflow UI.

    >>> ui_hint("http://mlflow.lab:5000/", "3", "abc")
    'http://mlflow.lab:5000/#/experiments/3/runs/abc'
    >>> ui_hint("sqlite:////data/mlflow.db", "3")
    '`mlflow ui --backend-store-uri sqlite:////data/mlflow.db` → http://127.0.0.1:5000/#/experiments/3'
    """
    page = f"#/experiments/{experiment_id}" + (f"/runs/{run_id}" if run_id else "")
    if is_server(uri):
        return f"{uri.rstrip('/')}/{page}"
    if uri.startswith("databricks"):
        return f"open experiment {experiment_id} in your Databricks workspace"
    return f"`mlflow ui --backend-store-uri {redact(uri)}` → http://127.0.0.1:5000/{page}"


def is_transient(err: BaseException) -> bool:
    """Whether ``err`` (or an error it was raised from) is worth retrying (module docstring)."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if not isinstance(current, Exception):
            return False
        if _TRANSIENT.search(str(current)):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def retry_store(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, retried with jittered exponential backoff (up to
    :data:`RETRY_SECONDS`) while it raises a transient store error; other errors at once.

    The first attempt is a plain call: :mod:`tenacity` (whose import costs a tenth of a
    second) is imported only when a transient error is to be retried.
    """
    _quiet_retried_errors()
    try:
        return fn(*args, **kwargs)
    except Exception as err:
        if not is_transient(err):
            raise
    from tenacity import (
        Retrying,
        retry_if_exception,
        stop_after_delay,
        wait_random_exponential,
    )

    _quiet_retried_errors()
    for attempt in Retrying(
        retry=retry_if_exception(is_transient),
        wait=wait_random_exponential(multiplier=0.05, max=2.0),
        stop=stop_after_delay(RETRY_SECONDS),
        reraise=True,
    ):
        with attempt:
            return fn(*args, **kwargs)
    raise AssertionError("unreachable")  # pragma: no cover


class _RetriedErrors(logging.Filter):
    """Drops MLflow's traceback for a database error :func:`retry_store` retries."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            return not is_transient(record.exc_info[1])
        return not _TRANSIENT.search(text)


def _quiet_retried_errors() -> None:
    log = logging.getLogger("mlflow.store.db.utils")
    if not any(isinstance(f, _RetriedErrors) for f in log.filters):
        log.addFilter(_RetriedErrors())


@contextmanager
def creation_lock(uri: str) -> Iterator[None]:
    """Hold the store's inter-process creation lock (a no-op for anything but SQLite)."""
    path = sqlite_file(uri)
    if path is None:
        with nullcontext():
            yield
        return
    from filelock import FileLock, Timeout

    if not path.parent.is_dir():
        raise ConfigError(
            f"tracking.uri={uri}: the folder {path.parent} does not exist; create it or "
            "point tracking.uri at an existing folder"
        )
    lock = FileLock(f"{path}.lock", timeout=LOCK_TIMEOUT)
    try:
        with lock:
            yield
    except Timeout:
        raise ConfigError(
            f"tracking.uri={uri}: another process has held the store's creation lock "
            f"({path}.lock) for more than {LOCK_TIMEOUT:.0f} s; if no segbench process is "
            "running, delete that file"
        ) from None


@contextmanager
def _quiet_creation() -> Iterator[None]:
    """Without MLflow's INFO lines about creating the schema (a new store is no news)."""
    log = logging.getLogger("mlflow.store.db.utils")
    level = log.level
    log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        log.setLevel(level)


def schema_ready(path: Path) -> bool:
    """Whether the SQLite store at ``path`` has a complete MLflow schema (read-only check, no
    MLflow involved). Called under the creation lock, so no other process is creating it."""
    if not path.exists():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60) as con:
            rows = con.execute("select name from sqlite_master where type = 'table'")
            tables = {row[0] for row in rows}
            if not {"experiments", "runs", "alembic_version"} <= tables:
                return False
            if any(t.startswith("_alembic_tmp") for t in tables):
                return False
            return con.execute("select count(*) from alembic_version").fetchone()[0] == 1
    except sqlite3.Error:
        return False


def open_store(uri: str) -> Any:
    """An ``MlflowClient`` on ``uri`` with its store opened (MLflow creates a new store's
    schema when it opens it); a schema that needs ``mlflow db upgrade`` is a
    :class:`ConfigError`."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        return retry_store(MlflowClient, uri)
    except MlflowException as err:
        if "out-of-date database schema" not in str(err):
            raise
        raise ConfigError(
            f"tracking.uri={redact(uri)}: the store was written by an older MLflow; back it "
            f"up, then run `mlflow db upgrade {redact(uri)}`"
        ) from None


def use_store(uri: str) -> None:
    """Point MLflow's fluent API at ``uri`` for this process without changing the user's
    ``MLFLOW_TRACKING_URI``: MLflow 3's ``set_tracking_uri`` also writes that variable, which
    would make the store of one run the default of the next (and of every child process)."""
    import mlflow

    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


def ensure_experiment(uri: str, name: str) -> str:
    """Open the store at ``uri`` (its schema created under the creation lock if new) and get
    or create experiment ``name``, once per process; returns the experiment id.

    With a SQLite store the artifacts go to ``mlruns/<experiment>`` beside the database file.
    """

    uri = resolve_uri(uri)
    use_store(uri)
    key = (uri, name)
    if key in _EXPERIMENTS:
        return _EXPERIMENTS[key]
    with creation_lock(uri), _quiet_creation():
        path = sqlite_file(uri)
        if path is not None and not path.exists():
            seed(path)  # a copy of an empty store, when the installed MLflow made it
        if path is not None and not schema_ready(path):
            open_store(uri)  # creates the schema, alone
    client = open_store(uri)
    with _quiet_creation():
        found = retry_store(client.get_experiment_by_name, name)
        if found is None:
            path = sqlite_file(uri)
            location = (path.parent / "mlruns" / name).as_uri() if path else None
            try:
                experiment_id = retry_store(
                    client.create_experiment, name, artifact_location=location
                )
            except Exception:  # created meanwhile by another process
                found = retry_store(client.get_experiment_by_name, name)
                if found is None:
                    raise
        if found is not None:
            if found.lifecycle_stage == "deleted":
                raise ConfigError(
                    f"tracking.experiment={name!r} is deleted in {redact(uri)}: restore it "
                    f"(`mlflow experiments restore --experiment-id {found.experiment_id}`) or "
                    "choose another experiment name"
                )
            experiment_id = found.experiment_id
    _EXPERIMENTS[key] = experiment_id
    return experiment_id


__all__ = [
    "creation_lock",
    "ensure_experiment",
    "is_server",
    "is_transient",
    "launch_dir",
    "redact",
    "resolve_uri",
    "retry_store",
    "sqlite_file",
    "ui_hint",
]
