"""Start-up cost: ``import segbench.cli`` against ``import sklearn, pandas``, fresh processes.

Each import runs in a new interpreter (``python -c ...``), alternating the two, ``--repeats``
times; the medians are compared as a ratio (robust to the machine's load, since both run
under the same load). The target (issue 14) is ``import segbench.cli`` ≤ 1.5 s, about the
cost of ``import sklearn, pandas`` (≈ 1.2 s on a quiet 2-core machine): the command line imports
the heavy libraries (MLflow, matplotlib, scikit-learn, torch …) only when a run needs them.
``--importtime`` also prints the ten costliest imports (``python -X importtime``).

Usage: ``python benchmarks/bench_startup.py [--repeats 7] [--importtime] [--json rows.json]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from rows import add_json_option, report, row

CLI = "import segbench.cli"
PLAIN = "import sklearn, pandas"


def seconds(code: str) -> float:
    """Wall seconds of a fresh interpreter running ``code``."""
    tic = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - tic


def importtime(code: str, top: int = 10) -> list[tuple[int, str]]:
    """The ``top`` costliest imports of ``code`` (cumulative microseconds, module)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    ).stderr
    costs = []
    for line in out.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit():
                costs.append((int(cumulative), name.rstrip()))
    return sorted(costs, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--importtime", action="store_true")
    add_json_option(parser)
    args = parser.parse_args()
    seconds("pass")  # warm the file cache
    cli, plain = [], []
    for _ in range(args.repeats):
        cli.append(seconds(CLI))
        plain.append(seconds(PLAIN))
    t_cli, t_plain = statistics.median(cli), statistics.median(plain)
    rows = [row("`import segbench.cli` (fresh process)", t_cli, t_plain, "s", "≤ 1.5 s")]
    report(rows, args.json)
    print(f"medians of {args.repeats}; anchor: `{PLAIN}`")
    if args.importtime:
        print(f"\ncostliest imports of `{CLI}` (cumulative ms):")
        for micro, name in importtime(CLI):
            print(f"  {micro / 1000:8.1f}  {name}")


if __name__ == "__main__":
    main()
