"""Every benchmark, one table: ``make bench`` (issue 14's figures beside their plain anchors).

Runs each ``benchmarks/bench_*.py`` as its own process with ``--json`` (each prints its own
table and details as it goes), collects the rows (``benchmarks/rows.py``: job, segbench,
plain, unit, ratio, target) and prints them as ONE Markdown table, with the machine's load
before and after. The ratio is segbench / plain measured in the same run, so it holds on a
busy machine; the absolute figures do not (the load says how busy it was). A script that
fails or writes no rows gets a row saying so; the others still run.

Each script is quick by default; the big sizes are its options. Extra options go to one
script with ``--args NAME="..."``, e.g. ``--args pipeline="--sizes 10000 100000"``.

Usage: ``python benchmarks/run_all.py [--only startup tuning] [--skip leaderboard]
[--args NAME=OPTIONS] [--json all.json]``
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rows import load, markdown

HERE = Path(__file__).resolve().parent


def name_of(script: Path) -> str:
    """``bench_tuning.py`` → ``tuning``."""
    return script.stem.removeprefix("bench_")


def run_one(script: Path, extra: list[str]) -> tuple[list[dict], float]:
    """The rows of one benchmark script (a row saying what went wrong if it wrote none)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        tic = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(script), "--json", str(out), *extra], check=False
        )
        seconds = time.perf_counter() - tic
        if done.returncode == 0 and out.exists():
            return json.loads(out.read_text()), seconds
    why = f"exit status {done.returncode}" if done.returncode else "no rows written"
    failed = {"job": f"{script.name}: {why}", "segbench": float("nan"), "plain": None}
    return [failed | {"unit": "—", "ratio": None, "target": "—"}], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    scripts = sorted(HERE.glob("bench_*.py"))
    names = [name_of(s) for s in scripts]
    parser.add_argument("--only", nargs="*", choices=names, help="run just these")
    parser.add_argument("--skip", nargs="*", choices=names, default=[], help="leave these out")
    parser.add_argument(
        "--args", action="append", default=[], metavar="NAME=OPTIONS", help="options of a script"
    )
    parser.add_argument("--json", type=Path, help="also write every row to this file")
    args = parser.parse_args()
    extra = {}
    for item in args.args:
        name, _, options = item.partition("=")
        extra[name] = shlex.split(options)
    chosen = [s for s in scripts if (not args.only or name_of(s) in args.only)]
    chosen = [s for s in chosen if name_of(s) not in args.skip]
    before = load()
    rows: list[dict] = []
    for script in chosen:
        print(f"\n## {script.name}\n", flush=True)
        got, seconds = run_one(script, extra.get(name_of(script), []))
        print(f"({script.name}: {seconds:.0f} s)", flush=True)
        rows += got
    print("\n## every figure\n")
    print(markdown(rows))
    print(f"\nratio = segbench / plain, measured in the same run; {before} before, {load()} after")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
