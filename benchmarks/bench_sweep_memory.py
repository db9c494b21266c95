"""Memory across the jobs of an in-process sweep: the peak after 5 jobs against after 50.

A basic-launcher sweep runs its jobs one after the other in one process, so whatever a job
leaves behind (figures, MLflow clients, caches holding data) adds up. The same sweep,
``python -m segbench -m seed=range(N)`` on a small synthetic dataset with every default
extra on, runs twice as a fresh process, with ``N`` = 5 and ``N`` = 50 (``--jobs``); each
process's peak resident set size comes from the kernel (``wait4``'s ``ru_maxrss``). Without a
leak the two peaks are about equal: the ratio is the growth (target ≈ 1×).

Usage: ``python benchmarks/bench_sweep_memory.py [--jobs 5 50] [--customers 300]
[--json rows.json]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rows import add_json_option, load, report, row


def sweep_peak(jobs: int, customers: int, folder: Path) -> tuple[float, float]:
    """Peak RSS (GB) and wall seconds of a ``jobs``-job sweep as a fresh process."""
    cmd = [
        sys.executable,
        "-m",
        "segbench",
        "-m",
        f"seed=range({jobs})",
        f"dataset.n_customers={customers}",
        f"tracking.uri=sqlite:///{folder / 'mlflow.db'}",
        f"hydra.sweep.dir={folder / f'sweep{jobs}'}",
    ]
    tic = time.perf_counter()
    with open(folder / f"sweep{jobs}.log", "w") as out:
        proc = subprocess.Popen(cmd, cwd=folder, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - tic
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the {jobs}-job sweep failed: see {folder / f'sweep{jobs}.log'}")
    return usage.ru_maxrss / 1024**2, seconds  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs=2, default=[5, 50], metavar=("FEW", "MANY"))
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="keep the store and logs in this folder")
    add_json_option(parser)
    args = parser.parse_args()
    few, many = args.jobs
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        sweep_peak(1, args.customers, folder)  # warm: the store exists, the caches are filled
        peak_few, t_few = sweep_peak(few, args.customers, folder)
        peak_many, t_many = sweep_peak(many, args.customers, folder)
    print(
        f"sweep of {few} jobs: peak {peak_few:.3f} GB in {t_few:.0f} s; of {many} jobs: peak "
        f"{peak_many:.3f} GB in {t_many:.0f} s ({args.customers} customers, default extras); "
        f"{load()}"
    )
    report(
        [
            row(
                f"in-process sweep (basic launcher): peak RSS after {many} jobs "
                f"(anchor: after {few})",
                peak_many,
                peak_few,
                "GB",
                "≈ 1× (no growth)",
            )
        ],
        args.json,
    )


if __name__ == "__main__":
    main()
