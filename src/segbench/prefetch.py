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
  ends, however it ends; a warm cache makes it exit after loading the data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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
    from segbench.features.embeddings import expect, forget

    text = settings.blocks["text"]
    job = {"dataset": settings.dataset.dump(), "block": text.dump()}
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
    model, cache_root = text.params.get("model", ""), text.params.get("cache_dir")
    expect(model, cache_root, process.wait)
    try:
        yield
    finally:
        forget(model, cache_root)
        if process.poll() is None:
            process.kill()
            process.wait()


def embed(job: dict[str, Any]) -> None:
    """The second process's work: load the dataset, embed the texts the cache lacks."""
    from segbench.datasets import load_dataset
    from segbench.features import build_block
    from segbench.features.embeddings import Embedder
    from segbench.features.text import EXAMPLE_TEXT

    block = build_block("text", job["block"])
    data = load_dataset(job["dataset"])
    embedder = Embedder(block.model, block.cache_dir, block.batch_size, progress=False)
    # the logged model's input example too: the run embeds it when MLflow checks the model
    embedder.embed([*block.distinct_texts(data), EXAMPLE_TEXT])


def main() -> None:
    """``python -m segbench.prefetch``: the job (JSON) on standard input. The process ends
    without the interpreter's teardown (torch's takes seconds); the vectors are committed."""
    embed(json.loads(sys.stdin.read()))
    os._exit(0)


if __name__ == "__main__":
    main()
