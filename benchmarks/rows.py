"""The rows every ``benchmarks/bench_*.py`` reports, and its ``--json PATH`` output.

A row is ``{"job", "segbench", "plain", "unit", "ratio", "target"}``: segbench's figure, the
plain way's figure measured in the same run (``None`` when there is none), the unit (``s``,
``GB``, ``trials/s``), segbench / plain (``None`` without a plain figure) and the issue's
target as text. ``benchmarks/run_all.py`` runs each script with ``--json`` and prints one table
of every row.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any


def row(job: str, segbench: float, plain: float | None, unit: str, target: str) -> dict[str, Any]:
    """One row; the ratio is segbench / plain (for seconds and GB lower is better, for a rate
    such as trials/s higher is better: the target says which)."""
    ratio = None
    if plain:
        ratio = segbench / plain
    return {
        "job": job,
        "segbench": float(segbench),
        "plain": None if plain is None else float(plain),
        "unit": unit,
        "ratio": None if ratio is None else float(ratio),
        "target": target,
    }


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, help="also write the rows to this file (run_all.py)")


def load() -> str:
    """The machine's load averages (1, 5, 15 min), to print beside every figure."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    head = "| job | segbench | plain | unit | ratio | target |\n|---|---:|---:|---|---:|---|"
    lines = [head]
    for r in rows:
        plain = "—" if r["plain"] is None else f"{r['plain']:.3g}"
        ratio = "—" if r["ratio"] is None else f"{r['ratio']:.2f}×"
        lines.append(
            f"| {r['job']} | {r['segbench']:.3g} | {plain} | {r['unit']} | {ratio} | {r['target']} |"
        )
    return "\n".join(lines)


def report(rows: list[dict[str, Any]], path: Path | None) -> None:
    """Print the rows (and the machine's load); write them to ``path`` as JSON if given."""
    print(markdown(rows))
    print(f"({load()})")
    if path is not None:
        path.write_text(json.dumps(rows, indent=1))
