"""A quiet console during a run: libraries say only what is wrong, segbench what it does.

Under Hydra the root logger prints INFO, so every library's INFO record would reach the
console (MLflow's "Creating initial MLflow database tables...", Optuna's per-trial lines,
sentence-transformers' model loading…). :func:`quiet_libraries` raises the level of those
libraries' loggers to WARNING for the duration of a run and restores it afterwards, and turns
off MLflow's progress bar for artifact transfers (``Downloading artifacts: 100%…`` when the
logged model is checked); segbench's own INFO lines (``features: 5000 customers × 19
columns``, one line per tuning trial) stay. Warnings are not hidden here: their causes are
fixed where they arise.

>>> import logging
>>> with quiet_libraries():
...     logging.getLogger("mlflow.store.db.utils").isEnabledFor(logging.INFO)
False
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

#: Loggers of the libraries a run uses, whose INFO records are chatter on segbench's console.
LIBRARIES = (
    "mlflow",
    "alembic",
    "optuna",
    "sentence_transformers",
    "transformers",
    "huggingface_hub",
    "urllib3",
    "httpx",
    "matplotlib",
    "PIL",
    "numba",
    "joblib",
    "filelock",
)
#: MLflow's switch of its artifact transfer progress bars.
PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


@contextmanager
def quiet_libraries(level: int = logging.WARNING) -> Iterator[None]:
    """Library loggers (:data:`LIBRARIES`) at ``level`` or above inside the block."""
    loggers = [logging.getLogger(name) for name in LIBRARIES]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        if logger.getEffectiveLevel() < level:
            logger.setLevel(level)
    bar = os.environ.get(PROGRESS_BAR)
    os.environ[PROGRESS_BAR] = "false"
    try:
        yield
    finally:
        for logger, old in zip(loggers, before, strict=True):
            logger.setLevel(old)
        if bar is None:
            os.environ.pop(PROGRESS_BAR, None)
        else:
            os.environ[PROGRESS_BAR] = bar


__all__ = ["LIBRARIES", "quiet_libraries"]
