"""Start ``python -m segbench`` processes, watch their store, and interrupt them as users do.

The store is watched with plain read-only SQLite queries: opening it through MLflow would
make the test one more process creating its schema.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent
TOY = ["dataset._target_=toydata.ToyDataset", "dataset.name=toy", "dataset.n_customers=300"]
#: a small, quick job: the toy data, no per-run extras, no stability resamples
QUICK = [*TOY, "extras=lean", "evaluation.stability.enabled=false", "blocks.text.progress=false"]


def environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), env.get("PYTHONPATH")) if p)
    return env


def _as_from_a_terminal() -> None:
    """SIGINT as a command started from a terminal has it. A process started in the background
    (``cmd &`` in a script, a pytest-xdist worker) inherits SIGINT *ignored*, and Python, like
    every well-behaved program, then keeps ignoring it, so Ctrl-C could not be tested."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(cwd: Path, *args: str, **env: str) -> subprocess.Popen:
    """``python -m segbench *args`` in ``cwd``, not waited for."""
    return subprocess.Popen(
        [sys.executable, "-m", "segbench", *args],
        cwd=cwd,
        env=environment(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_from_a_terminal,
    )


def finish(proc: subprocess.Popen, timeout: int = 900) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def query(db: Path, sql: str, *params: object) -> list[tuple]:
    """Rows of ``sql`` on the store ``db`` (empty while it does not exist yet)."""
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute(sql, params).fetchall()
    except sqlite3.Error:  # the schema is being created
        return []


def running_jobs(db: Path) -> list[tuple[str, str]]:
    """``(run id, segbench.process)`` of the RUNNING runs that are not sweep parents."""
    return query(
        db,
        "select r.run_uuid, t.value from runs r join tags t on t.run_uuid = r.run_uuid "
        "and t.key = 'segbench.process' where r.status = 'RUNNING' and r.run_uuid not in "
        "(select run_uuid from tags where key = 'segbench.role')",
    )


def wait_for_running_job(db: Path, proc: subprocess.Popen, timeout: float = 600) -> tuple:
    """The first RUNNING job run of the store (waits until there is one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = running_jobs(db)
        if rows:
            return rows[0]
        if proc.poll() is not None:
            raise AssertionError(f"segbench ended before a run started: {proc.communicate()}")
        time.sleep(0.2)
    raise AssertionError("no run started")


def statuses(db: Path) -> dict[str, int]:
    return dict(query(db, "select status, count(*) from runs group by status"))


def kill_owner(process_tag: str, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to the process a ``segbench.process`` tag names."""
    os.kill(int(process_tag.split("@")[0]), sig)
