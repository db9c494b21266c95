"""A new SQLite store, copied from an empty one instead of migrated.

MLflow creates a SQLite store's schema by running every migration since its first release:
about 3 s on a quiet 2-core machine and over 8 s under load, paid by the first run in every
new folder (and by every test with a store of its own). The package ships the file such a
migration leaves, ``empty_store.sqlite.gz`` (17 kB), with the MLflow version that made it
(``empty_store.json``). :func:`seed` writes a new store from it when the installed MLflow is
that version; otherwise it does nothing and MLflow migrates as usual, so an upgraded MLflow
is never given an old schema.

The copy differs from a migrated store only in what MLflow writes when it creates one: the
``Default`` experiment's artifact location (``<working directory>/mlruns/0``) and its times.
:func:`seed` sets them as MLflow would. ``tests/test_store.py`` compares a seeded store with a
migrated one, table by table and row by row.

After upgrading MLflow, rebuild the template with ``make store-template``
(:func:`build`).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "empty_store.sqlite.gz"
META = HERE / "empty_store.json"
log = logging.getLogger(__name__)


def template_version(meta: Path = META) -> str | None:
    """The MLflow version that made the shipped template (None when there is none)."""
    try:
        return str(json.loads(meta.read_text(encoding="utf-8"))["mlflow"])
    except (OSError, ValueError, KeyError):
        return None


def usable(meta: Path = META) -> bool:
    """Whether the template was made by the installed MLflow."""
    return TEMPLATE.exists() and template_version(meta) == version("mlflow")


def seed(path: Path) -> bool:
    """Write a new, empty store at ``path`` from the template; returns whether it did.

    Nothing is written when ``path`` exists or the installed MLflow is not the template's
    (:func:`usable`). The file appears whole (written beside it, then renamed), so a reader
    never sees half a store. Call it under the store's creation lock
    (:func:`segbench.tracking.store.creation_lock`).
    """
    if path.exists() or not usable():
        return False
    now = int(time.time() * 1000)
    artifacts = str(Path.cwd() / "mlruns" / "0")
    handle, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out, gzip.open(TEMPLATE, "rb") as source:
            shutil.copyfileobj(source, out)
        with sqlite3.connect(partial) as con:
            con.execute(
                "update experiments set artifact_location = ?, creation_time = ?, "
                "last_update_time = ? where experiment_id = 0",
                (artifacts, now, now),
            )
        con.close()
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    log.debug("new store %s: a copy of the empty store of MLflow %s", path, version("mlflow"))
    return True


def build(folder: Path = HERE) -> Path:
    """Migrate an empty store with the installed MLflow and save it as the template."""
    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "mlflow.db"
        MlflowClient(f"sqlite:///{db}").search_experiments()
        with sqlite3.connect(db) as con:
            con.execute("vacuum")
        con.close()
        target = folder / TEMPLATE.name
        with open(db, "rb") as source, gzip.GzipFile(target, "wb", mtime=0) as out:
            shutil.copyfileobj(source, out)
    meta = {"mlflow": version("mlflow"), "made_by": "segbench.tracking.template.build"}
    (folder / META.name).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return target


__all__ = ["build", "seed", "template_version", "usable"]
