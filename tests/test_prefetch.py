"""Embedding a run's texts in a second process while the run starts (segbench.prefetch):
the worker fills the cache, the run's embedder waits for it and counts what was embedded for
it, and the worker is stopped however the run ends."""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from segbench import prefetch
from segbench.api import settings
from segbench.datasets import load_dataset
from segbench.features import build_block
from segbench.features.embeddings import Embedder, expect, text_hash
from segbench.features.text import EXAMPLE_TEXT

pytestmark = pytest.mark.slow

SMALL = ["dataset.n_customers=300", "dataset.distinct_reviews=200", "features=rfm+text"]


def cached_hashes(folder: Path) -> set[str]:
    (db,) = folder.glob("*.sqlite")
    with sqlite3.connect(db) as conn:
        return {h for (h,) in conn.execute("SELECT h FROM emb")}


def test_the_worker_embeds_the_runs_texts_and_the_model_example_into_the_cache(tmp_path):
    run = settings([*SMALL, f"blocks.text.cache_dir={tmp_path}"])
    job = {"dataset": run.dataset.dump(), "block": run.blocks["text"].dump()}
    done = subprocess.run(
        [sys.executable, "-m", "segbench.prefetch"],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    block = build_block("text", run.blocks["text"])
    texts = block.distinct_texts(load_dataset(run.dataset))
    assert len(texts) > 100
    assert cached_hashes(tmp_path) == {text_hash(t) for t in [*texts, EXAMPLE_TEXT]}


def test_the_embedder_waits_for_the_other_process_and_counts_what_it_embedded(tmp_path):
    texts = ["fast delivery", "poor fit", "lovely colour"]
    other = Embedder(cache_root=tmp_path, progress=False)  # stands for the second process
    waited = []
    expect("all-MiniLM-L6-v2", tmp_path, lambda: waited.append(other.embed(texts)))
    run = Embedder(cache_root=tmp_path, progress=False)
    vectors = run.embed([*texts, "poor fit"])
    assert len(waited) == 1  # it waited, once
    assert run.stats == {"computed": 3, "cached": 0}  # embedded for this run, elsewhere
    np.testing.assert_array_equal(vectors[:3], waited[0])
    assert run.embed(texts).shape == (3, 384) and run.stats == {"computed": 0, "cached": 3}


def test_a_failed_worker_leaves_the_embedding_to_the_run(tmp_path):
    expect("all-MiniLM-L6-v2", tmp_path, lambda: None)  # ended without embedding anything
    run = Embedder(cache_root=tmp_path, progress=False)
    assert run.embed(["fast delivery"]).shape == (1, 384)
    assert run.stats == {"computed": 1, "cached": 0}


@pytest.fixture
def started(monkeypatch):
    """The worker processes ``prefetching`` starts (real ones), in order."""
    processes = []
    real = subprocess.Popen

    def spy(*args, **kwargs):
        processes.append(real(*args, **kwargs))
        return processes[-1]

    monkeypatch.setattr(prefetch.subprocess, "Popen", spy)
    return processes


def test_only_runs_embedding_texts_start_a_worker_and_it_is_stopped_at_the_end(tmp_path, started):
    assert not prefetch.wanted(settings(["features=rfm"]))
    assert not prefetch.wanted(settings(["features=rfm+text", "blocks.text.method=tfidf"]))
    assert not prefetch.wanted(settings(["features=text", "dataset.n_customers=1000000"]))
    run = settings([*SMALL, f"blocks.text.cache_dir={tmp_path}"])
    assert prefetch.wanted(run)
    with pytest.raises(KeyboardInterrupt), prefetch.prefetching(run):
        raise KeyboardInterrupt  # the run interrupted at once
    (process,) = started
    assert process.poll() is not None  # stopped, not left running
    key = ("all-MiniLM-L6-v2", str(tmp_path.resolve()))
    from segbench.features import embeddings

    assert key not in embeddings._PENDING  # and no run will wait for it


def test_once_a_worker_has_filled_the_cache_later_runs_start_none(tmp_path, started):
    run = settings([*SMALL, f"blocks.text.cache_dir={tmp_path}"])
    with prefetch.prefetching(run):
        assert started[0].wait(timeout=600) == 0
    with prefetch.prefetching(run):  # the same job again: the cache holds its texts
        pass
    assert len(started) == 1
    block = build_block("text", run.blocks["text"])
    texts = block.distinct_texts(load_dataset(run.dataset))
    again = Embedder(cache_root=tmp_path, progress=False)
    again.embed(texts)
    assert again.stats == {"computed": 0, "cached": len(texts)}


def test_the_job_key_changes_with_the_settings_and_with_a_source_file(tmp_path, monkeypatch):
    import os

    import segbench.datasets.base as base

    def key(run):
        job = {"dataset": run.dataset.dump(), "block": run.blocks["text"].dump()}
        return prefetch.job_key(run, job)

    run, other = settings(SMALL), settings([*SMALL, "dataset.seed=9"])
    assert key(run) == key(run) and key(other) != key(run)
    source = tmp_path / "reviews.csv"
    source.write_text("customer_id,text\n1,great\n")

    class Adapter:
        def sources(self):
            return [source]

    monkeypatch.setattr(base, "build_adapter", lambda _: Adapter())
    before = key(run)
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the file rewritten
    assert key(run) != before
