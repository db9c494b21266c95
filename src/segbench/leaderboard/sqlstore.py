"""Read job runs from an MLflow store kept in a SQL database, in a few bulk queries.

``MlflowClient.search_runs`` builds one SQLAlchemy ORM object per param, metric and tag of
every run: about 200 objects per segbench run, most of the leaderboard's time on a store of
1,000 runs (``benchmarks/bench_leaderboard.py``). For a database store (``sqlite:``,
``postgresql:``, ``mysql:``, ``mssql:``) this module reads the same rows with a few plain
``SELECT`` statements over MLflow's tables (``experiments``, ``runs``, ``params``,
``latest_metrics``, ``tags``), read-only: a SQLite file is opened with ``mode=ro``, so a
mistyped path is reported, never created. What a run is, and which runs are left out (sweep
parents, tuning trials, deleted runs and experiments), is the same as through the client;
:func:`segbench.leaderboard.store.load_runs` chooses this path or the client's.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlparse

import numpy as np
import pandas as pd
import sqlalchemy as sa

from segbench.errors import ConfigError

DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
ACTIVE = "active"
SWEEP_ROLE = "sweep"
#: MLflow's tables and the columns read from them.
_T = {
    "experiments": sa.table(
        "experiments",
        sa.column("experiment_id"),
        sa.column("name"),
        sa.column("lifecycle_stage"),
    ),
    "runs": sa.table(
        "runs",
        sa.column("run_uuid"),
        sa.column("experiment_id"),
        sa.column("name"),
        sa.column("status"),
        sa.column("start_time"),
        sa.column("end_time"),
        sa.column("lifecycle_stage"),
    ),
    "params": sa.table("params", sa.column("run_uuid"), sa.column("key"), sa.column("value")),
    "latest_metrics": sa.table(
        "latest_metrics",
        sa.column("run_uuid"),
        sa.column("key"),
        sa.column("value"),
        sa.column("is_nan"),
    ),
    "tags": sa.table("tags", sa.column("run_uuid"), sa.column("key"), sa.column("value")),
}


def is_database_uri(uri: str) -> bool:
    """Whether ``uri`` names a database store (``sqlite:///…``, ``postgresql+psycopg2://…``)."""
    scheme = urlparse(uri).scheme.lower()
    return scheme.split("+")[0] in DATABASE_SCHEMES


def sqlite_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///path`` URI (``None`` for other URIs and in-memory SQLite)."""
    if not uri.lower().startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def _engine(uri: str) -> sa.Engine:
    path = sqlite_path(uri)
    if path is None:
        return sa.create_engine(uri, poolclass=sa.pool.NullPool)
    if not path.exists():
        raise ConfigError(
            f"--tracking-uri {uri}: expected an existing MLflow store, found no file {path}. "
            "Runs create it (python -m segbench … with tracking.uri=that URI); pass the URI of "
            "the store your runs used (their tracking.uri)."
        )
    if path.is_dir():
        raise ConfigError(
            f"--tracking-uri {uri}: expected an SQLite file, found the folder {path}. "
            f"A folder of runs is given as file://{path} (or as a plain path)."
        )
    if not os.access(path, os.R_OK):
        raise ConfigError(f"--tracking-uri {uri}: the file {path} is not readable by this user.")
    # read-only, and wait (SQLite's busy timeout) while a run writes
    ro = f"sqlite:///file:{quote(str(path.resolve()))}?mode=ro&uri=true"
    return sa.create_engine(ro, poolclass=sa.pool.NullPool, connect_args={"timeout": 60})


@dataclass
class Selection:
    """Which runs to read: experiment names, a study, exact tag values."""

    experiments: Sequence[str] | None = None
    study: str | None = None
    tags: Mapping[str, str] | None = None


def _check_schema(conn: sa.Connection, uri: str) -> None:
    try:
        names = set(sa.inspect(conn).get_table_names())
    except sa.exc.DatabaseError as err:
        raise ConfigError(
            f"--tracking-uri {uri}: expected an MLflow tracking store, found a file the "
            f"database cannot read ({_first_line(err)})."
        ) from None
    missing = [t for t in _T if t not in names]
    if missing:
        raise ConfigError(
            f"--tracking-uri {uri}: expected an MLflow tracking store, found a database "
            f"without MLflow's tables {', '.join(missing)}"
            + (" (an empty file)" if not names else f" (its tables: {', '.join(sorted(names))})")
            + "."
        )


def _first_line(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _experiments(conn: sa.Connection, names: Sequence[str] | None) -> dict[str, str]:
    e = _T["experiments"]
    rows = conn.execute(
        sa.select(e.c.experiment_id, e.c.name).where(e.c.lifecycle_stage == ACTIVE)
    ).all()
    known = {str(i): str(n) for i, n in rows}
    if not names:
        return known
    by_name = {n: i for i, n in known.items()}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ConfigError(
            f"no MLflow experiment named {missing[0]!r} in the store; experiments there: "
            f"{', '.join(sorted(known.values())) or 'none'}"
        )
    return {by_name[n]: n for n in names}


def _tagged(key: str, value: str | None = None) -> sa.Select:
    t = _T["tags"]
    query = sa.select(t.c.run_uuid).where(t.c.key == key)
    return query if value is None else query.where(t.c.value == value)


def _job_runs(exp_ids: list[str], selection: Selection) -> sa.Select:
    """The ids of job runs matching ``selection`` (sweep parents and trials left out)."""
    r, t, p = _T["runs"], _T["tags"], _T["params"]
    sweeps = _tagged("segbench.role", SWEEP_ROLE)
    nested = sa.select(t.c.run_uuid).where(
        t.c.key == "mlflow.parentRunId", t.c.value.not_in(sweeps)
    )
    not_job = sa.select(t.c.run_uuid).where(t.c.key == "segbench.role", t.c.value != "job")
    query = sa.select(r.c.run_uuid).where(
        r.c.experiment_id.in_([int(i) for i in exp_ids]),
        r.c.lifecycle_stage == ACTIVE,
        r.c.run_uuid.not_in(not_job),
        r.c.run_uuid.not_in(_tagged("segbench.trial_number")),
        r.c.run_uuid.not_in(nested),
    )
    study = selection.study
    if study is not None:
        study_sweeps = sa.select(t.c.run_uuid).where(
            t.c.run_uuid.in_(sweeps),
            sa.or_(
                t.c.run_uuid == study,
                sa.and_(t.c.key == "segbench.study", t.c.value == study),
            ),
        )
        by_param = sa.select(p.c.run_uuid).where(p.c.key == "study", p.c.value == study)
        by_parent = sa.select(t.c.run_uuid).where(
            t.c.key == "mlflow.parentRunId", t.c.value.in_(study_sweeps)
        )
        query = query.where(
            sa.or_(
                r.c.run_uuid.in_(by_param),
                r.c.run_uuid.in_(_tagged("segbench.study", study)),
                r.c.run_uuid.in_(by_parent),
            )
        )
    for key, value in (selection.tags or {}).items():
        query = query.where(r.c.run_uuid.in_(_tagged(key, value)))
    return query


def _long(conn: sa.Connection, table: str, ids: sa.Select) -> pd.DataFrame:
    t = _T[table]
    cols = [t.c.run_uuid, t.c.key, t.c.value] + ([t.c.is_nan] if table == "latest_metrics" else [])
    return _frame(conn, sa.select(*cols).where(t.c.run_uuid.in_(ids)))


def _frame(conn: sa.Connection, statement: sa.Select) -> pd.DataFrame:
    """A query's rows as a frame of object columns, fetched through the driver's own cursor:
    SQLAlchemy's row objects cost more than the query itself at 130,000 rows."""
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    if conn.dialect.positional:
        params: object = tuple(compiled.params[k] for k in compiled.positiontup or ())
    else:
        params = compiled.params
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        cursor.close()
    values = np.array(rows, dtype=object).reshape(len(rows), len(names))
    return pd.DataFrame({n: pd.Series(values[:, i], dtype=object) for i, n in enumerate(names)})


def _wide(long: pd.DataFrame, prefix: str) -> pd.DataFrame:
    if long.empty:
        return pd.DataFrame()
    wide = long.pivot(index="run_uuid", columns="key", values="value")
    wide.columns = [f"{prefix}{c}" for c in wide.columns]
    return wide


def read_database(uri: str, selection: Selection) -> tuple[pd.DataFrame, dict[str, str], dict]:
    """Job runs of ``selection`` as one wide frame, the experiments read, and context.

    Columns: ``run_id, experiment_id, experiment, run_name, status, start_time, end_time``,
    then ``params.*``, ``metrics.*`` (floats; NaN as logged) and ``tags.*`` (every tag, the
    caller keeps what it shows). ``context`` holds, when nothing matched, the studies and sweep
    parents the store has (for the error message).
    """
    engine = _engine(uri)
    driver_error = engine.dialect.loaded_dbapi.Error  # the raw cursor of _frame raises these
    try:
        with engine.connect() as conn:
            _check_schema(conn, uri)
            exps = _experiments(conn, selection.experiments)
            if not exps:
                return pd.DataFrame(), exps, {}
            ids = _job_runs(list(exps), selection)
            r = _T["runs"]
            runs = _frame(
                conn,
                sa.select(
                    r.c.run_uuid,
                    r.c.experiment_id,
                    r.c.name,
                    r.c.status,
                    r.c.start_time,
                    r.c.end_time,
                )
                .where(r.c.run_uuid.in_(ids))
                .order_by(r.c.start_time, r.c.run_uuid),
            )
            if runs.empty:
                return pd.DataFrame(), exps, _context(conn, list(exps))
            params = _long(conn, "params", ids)
            metrics = _long(conn, "latest_metrics", ids)
            tags = _long(conn, "tags", ids)
    except (sa.exc.SQLAlchemyError, driver_error) as err:
        raise ConfigError(
            f"--tracking-uri {uri}: could not read the MLflow store ({_first_line(err)})."
        ) from None
    finally:
        engine.dispose()
    base = runs.rename(columns={"run_uuid": "run_id", "name": "run_name"})
    base["experiment_id"] = base["experiment_id"].astype(str)
    base["experiment"] = base["experiment_id"].map(exps)
    if not metrics.empty:
        nan = metrics["is_nan"].astype(bool)
        metrics["value"] = metrics["value"].astype(float).where(~nan, math.nan)
    wide = [_wide(params, "params."), _wide(metrics, "metrics."), _wide(tags, "tags.")]
    frame = base.set_index("run_id", drop=False)
    frame = pd.concat([frame, *(w for w in wide if not w.empty)], axis=1)
    return frame.reset_index(drop=True), exps, {}


def _context(conn: sa.Connection, exp_ids: list[str]) -> dict:
    r, p = _T["runs"], _T["params"]
    in_exps = sa.select(r.c.run_uuid).where(r.c.experiment_id.in_([int(i) for i in exp_ids]))
    studies = conn.execute(
        sa.select(p.c.value).distinct().where(p.c.key == "study", p.c.run_uuid.in_(in_exps))
    ).scalars()
    sweeps = conn.execute(
        _tagged("segbench.role", SWEEP_ROLE).where(_T["tags"].c.run_uuid.in_(in_exps))
    ).scalars()
    return {"studies": sorted(set(studies)), "sweeps": sorted(set(sweeps))}


__all__ = ["Selection", "is_database_uri", "read_database", "sqlite_path"]
