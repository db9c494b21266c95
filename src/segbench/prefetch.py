"""Embedding a run's review texts in a second process while the run starts.

A first run with the ``text`` block (``python -m segbench algo=gmm features=rfm+text`` on a
new machine) spends half its time importing torch and sentence-transformers and embedding the
distinct review texts. None of that needs the rest of the run, so the command line
(:mod:`segbench.cli`) starts it in a second process as soon as the settings are resolved:
``python -m segbench.prefetch`` loads the dataset as the run does, embeds the texts the
embedding cache lacks into the cache, and exits. Meanwhile the run imports its own libraries,
opens the store and loads the data on the other core; its text block then waits for the
second process (:func:`segbench.features.embeddings.expect`) and reads the vectors from the
cache. The run's ``text.embeddings_computed`` still counts the texts embedded for it.

- Only a single run from the command line starts one (a sweep's jobs, tuning and the Python
  API do not), only when the run uses the ``text`` block with ``method: sbert``, and not for
  a synthetic dataset above :data:`MAX_CUSTOMERS` customers: the second process holds a copy
  of the data while it runs.
- The second process's output is discarded. If it fails, whatever the reason, the run embeds
  what the cache still lacks itself and reports any error itself. It is stopped when the run
  ends, however it ends.
- None is started when the cache holds the run's texts already: once the second process has
  embedded a dataset's texts it notes the job's key in the cache
  (:func:`segbench.features.embeddings.mark_complete`), and a later run with the same key
  starts nothing (a second process finding a warm cache cost 2.2 s of CPU, loading the data
  to find nothing to do). The key (:func:`job_key`) is the dataset's and the text block's
  settings, the segbench version (the generator of a synthetic dataset) and the size and
  modification time of every file the dataset reads: a changed file is a new job. A run whose
  texts are not all in the cache after all embeds the rest itself, as without a second
  process.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from segbench.settings import RunSettings

#: Largest synthetic dataset (``dataset.n_customers``) whose texts are embedded in a second
#: process while the run starts.
MAX_CUSTOMERS = 100_000


def wanted(settings: RunSettings) -> bool:
    """Whether the run's texts are embedded in a second process as it starts."""
    if "text" not in settings.blocks_used or "text" not in settings.blocks:
        return False
    block = settings.blocks["text"].params
    n = settings.dataset.params.get("n_customers")
    return block.get("method", "sbert") == "sbert" and (n is None or int(n) <= MAX_CUSTOMERS)


@contextmanager
def prefetching(settings: RunSettings) -> Iterator[None]:
    """Embed the run's texts in a second process during the ``with`` block (when
    :func:`wanted`), the text block waiting for it; the process is stopped at the end."""
    if not wanted(settings):
        yield
        return
    from segbench.features import build_block
    from segbench.features.embeddings import expect, forget, is_complete

    text = settings.blocks["text"]
    block = build_block("text", text)  # its model and cache folder, as the worker reads them
    model, cache_root = block.model, block.cache_dir
    job = {"dataset": settings.dataset.dump(), "block": text.dump()}
    job["key"] = job_key(settings, job)
    if is_complete(model, cache_root, job["key"]):
        yield  # the cache holds the run's texts
        return
    process = subprocess.Popen(
        [sys.executable, "-m", "segbench.prefetch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        process.stdin.write(json.dumps(job))  # type: ignore[union-attr]
        process.stdin.close()  # type: ignore[union-attr]
    except OSError:  # it ended already; the run embeds the texts itself
        pass
    expect(model, cache_root, process.wait)
    try:
        yield
    finally:
        forget(model, cache_root)
        if process.poll() is None:
            process.kill()
            process.wait()


def job_key(settings: RunSettings, job: dict[str, Any]) -> str:
    """What decides the texts a job embeds (module docstring), hashed."""
    from segbench import __version__
    from segbench.datasets.base import build_adapter

    sources = getattr(build_adapter(settings.dataset), "sources", None)
    files = []
    for path in sources() if callable(sources) else []:
        stat = Path(path).stat()
        files.append([str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns])
    described = {"job": job, "files": files, "segbench": __version__}
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def embed(job: dict[str, Any]) -> None:
    """The second process's work: load the dataset, embed the texts the cache lacks, and note
    the job complete in the cache."""
    from segbench.datasets import load_dataset
    from segbench.features import build_block
    from segbench.features.embeddings import Embedder, mark_complete
    from segbench.features.text import EXAMPLE_TEXT

    block = build_block("text", job["block"])
    data = load_dataset(job["dataset"])
    embedder = Embedder(block.model, block.cache_dir, block.batch_size, progress=False)
    # the logged model's input example too: the run embeds it when MLflow checks the model
    embedder.embed([*block.distinct_texts(data), EXAMPLE_TEXT])
    if job.get("key"):
        mark_complete(block.model, block.cache_dir, job["key"])


def main() -> None:
    """``python -m segbench.prefetch``: the job (JSON) on standard input. The process ends
    without the interpreter's teardown (torch's takes seconds); the vectors are committed."""
    embed(json.loads(sys.stdin.read()))
    os._exit(0)


if __name__ == "__main__":
    main()
