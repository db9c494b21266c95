"""Transactions beyond memory: per-customer RFM of a 50-million-line Parquet file.

1. **Generate** a transactions file of ``--lines`` lines (default 50,000,000) with pyarrow, one
   row group of ``--chunk`` lines at a time, so the file is never whole in memory: about
   1 million customers, invoices of 1-9 lines on random days of two years, integer quantities
   and prices (columns ``customer_id, invoice_id, timestamp, quantity, unit_price``).
2. **segbench**: the tabular adapter with ``engine=duckdb`` (what ``engine=auto`` takes for a
   file of 1 GiB or more) aggregates it to recency, frequency and monetary out of core
   (:mod:`segbench.datasets.duck`), then pseudonymises and fingerprints the customers as every
   load does. Target: ≤ 4 GB peak.
3. **plain pandas**: ``pd.read_parquet`` of the five columns and two groupbys (invoices, then
   customers), on each size of ``--pandas-lines`` (default 5, 10 and 20 million): the largest
   size whose peak stays within the 4 GB budget is the one the table compares at.

Each measurement is its own process under ``/usr/bin/time -v`` (wall time, peak resident
memory). The machine's load is printed with the table.

Usage::

    python benchmarks/bench_transactions.py [--lines 50000000] [--pandas-lines 5000000 ...]
        [--folder DIR] [--json rows.json]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rows import add_json_option, report, row

ROOT = Path(__file__).resolve().parents[1]
BUDGET_GB = 4.0
#: Lines per customer on average (so 50 M lines hold about a million customers).
LINES_PER_CUSTOMER = 50

SEGBENCH = """
from segbench.datasets import load_dataset
data = load_dataset({{"_target_": "segbench.datasets.tabular.TabularDataset", "name": "tx",
    "path": "{path}", "customer_id": "customer_id", "engine": "duckdb", "cache": False,
    "transactions": {{"invoice_id": "invoice_id", "timestamp": "timestamp",
                      "quantity": "quantity", "unit_price": "unit_price"}}}})
print("customers", data.n_customers)
"""

PLAIN = """
import pandas as pd
tx = pd.read_parquet("{path}")
tx["amount"] = tx["quantity"] * tx["unit_price"]
inv = tx.groupby(["customer_id", "invoice_id"], sort=False).agg(
    ts=("timestamp", "min"), amount=("amount", "sum"))
del tx
per = inv.groupby(level="customer_id", sort=False).agg(
    last=("ts", "max"), frequency=("amount", "size"), monetary=("amount", "sum"))
when = per["last"].max().normalize() + pd.Timedelta(days=1)
per["recency"] = (when - per.pop("last")) / pd.Timedelta(days=1)
print("customers", len(per))
"""


def generate(path: Path, lines: int, chunk: int, seed: int = 0) -> None:
    """Write ``lines`` transaction lines to ``path``, one row group per ``chunk`` lines."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    customers = max(lines // LINES_PER_CUSTOMER, 1)
    start = np.datetime64("2023-01-01T00:00:00", "s").astype(np.int64)
    span = 730 * 86_400
    schema = pa.schema(
        [
            ("customer_id", pa.int64()),
            ("invoice_id", pa.int64()),
            ("timestamp", pa.timestamp("s")),
            ("quantity", pa.int32()),
            ("unit_price", pa.float64()),
        ]
    )
    written, invoice = 0, 0
    with pq.ParquetWriter(path, schema, compression="snappy") as writer:
        while written < lines:
            size = min(chunk, lines - written)
            per_invoice = rng.integers(1, 10, size=size // 5 + 1)
            per_invoice = per_invoice[np.cumsum(per_invoice) <= size]
            per_invoice = np.append(per_invoice, size - per_invoice.sum())
            per_invoice = per_invoice[per_invoice > 0]
            n_inv = len(per_invoice)
            owner = rng.integers(1, customers + 1, size=n_inv)
            when = start + rng.integers(0, span, size=n_inv)
            ids = np.arange(invoice, invoice + n_inv)
            invoice += n_inv
            table = pa.table(
                {
                    "customer_id": np.repeat(owner, per_invoice),
                    "invoice_id": np.repeat(ids, per_invoice),
                    "timestamp": pa.array(np.repeat(when, per_invoice), pa.timestamp("s")),
                    "quantity": rng.integers(1, 12, size=size, dtype=np.int32),
                    "unit_price": np.round(rng.gamma(2.0, 4.0, size=size), 2),
                },
                schema=schema,
            )
            writer.write_table(table, row_group_size=chunk)
            written += size


def timed(code: str) -> tuple[float, float] | None:
    """Wall seconds and peak resident memory (GB) of ``python -c code``; None if it failed
    (pandas running out of memory)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-c", code],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-2000:])
        return None
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    parts = [float(p) for p in wall.group(1).split(":")]
    return sum(p * 60**i for i, p in enumerate(reversed(parts))), int(rss.group(1)) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000_000)
    parser.add_argument(
        "--pandas-lines", type=int, nargs="+", default=[5_000_000, 10_000_000, 20_000_000]
    )
    parser.add_argument("--chunk", type=int, default=1_000_000)
    parser.add_argument("--folder", type=Path, help="keep the files here (default: temporary)")
    add_json_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.folder or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        rows, pandas_best = [], None
        for lines in sorted(set(args.pandas_lines)):
            path = folder / f"transactions_{lines}.parquet"
            if not path.exists():
                generate(path, lines, args.chunk)
            plain = timed(PLAIN.format(path=path))
            duck = timed(SEGBENCH.format(path=path))
            shown = "out of memory" if plain is None else f"{plain[0]:.1f} s, {plain[1]:.2f} GB"
            print(f"{lines:,} lines: pandas {shown}; duckdb {duck[0]:.1f} s, {duck[1]:.2f} GB",
                  flush=True)  # fmt: skip
            if plain is not None and plain[1] <= BUDGET_GB:
                pandas_best = (lines, plain, duck)
        path = folder / f"transactions_{args.lines}.parquet"
        tic = time.perf_counter()
        if not path.exists():
            generate(path, args.lines, args.chunk)
        made = time.perf_counter() - tic
        size = path.stat().st_size / 1e9
        print(
            f"generated {args.lines:,} lines ({size:.2f} GB of Parquet) in {made:.1f} s", flush=True
        )
        duck = timed(SEGBENCH.format(path=path))
        print(f"{args.lines:,} lines: duckdb {duck[0]:.1f} s, {duck[1]:.2f} GB", flush=True)
        rows.append(row(f"generate {args.lines:,} lines (Parquet)", made, None, "s", "—"))
        rows.append(row(f"RFM of {args.lines:,} lines (DuckDB)", duck[0], None, "s", "—"))
        rows.append(row(f"RFM of {args.lines:,} lines, peak", duck[1], None, "GB", "≤ 4 GB"))
        if pandas_best is not None:
            lines, plain, small = pandas_best
            rows.append(row(f"RFM of {lines:,} lines (largest pandas holds in 4 GB)", small[0],
                            plain[0], "s", "—"))  # fmt: skip
            rows.append(row(f"RFM of {lines:,} lines, peak", small[1], plain[1], "GB", "≤ 4 GB"))
    report(rows, args.json)


if __name__ == "__main__":
    main()
