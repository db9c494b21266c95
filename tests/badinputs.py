"""The corpus of bad inputs: files, overrides, tuning settings and ``segbench.assign`` arguments.

Each :class:`Case` is one thing a new user might get wrong. :func:`outcome` runs it the way the
user would (in-process through :func:`segbench.api.run`, :func:`segbench.assign.main`, or the
command line for the cases where the command line itself is under test) and classifies what
happened:

- ``clear``: a non-zero exit (a :class:`~segbench.errors.SegbenchError`, which the command line
  prints as one paragraph with status 2), one paragraph that contains every fragment the case
  expects (what was expected and what was found), no traceback, and no run left RUNNING; or,
  for the cases that are fine to run (``warn``), a FINISHED run with a console warning that
  contains the fragments;
- ``misleading``: an expected error whose message lacks a fragment, or spans several paragraphs;
- ``traceback``: any other exception (the command line would print a traceback);
- ``silent``: the run went through without an error or the warning;
- ``running``: a run was left RUNNING.

``python tests/badinputs.py`` prints the counts (used for the note of issue 12: run it against
an older checkout with ``PYTHONPATH=<checkout>/src:tests``); ``tests/test_bad_inputs.py``
asserts that every case is clear.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

TESTS = Path(__file__).resolve().parent

#: The overrides every in-process run case adds: a small, quick run.
QUICK = [
    "extras=lean",
    "evaluation.stability.enabled=false",
    "fairness=none",
    "blocks.text.progress=false",
]
TOY = ["dataset._target_=toydata.ToyDataset", "dataset.name=toy", "dataset.n_customers=300"]


# --------------------------------------------------------------------------------------------
# files


#: Lines per customer of :func:`orders`: 8 customers with 1 line, 17 with 2, 28 with 4, 7 with 5.
LINES = [1] * 8 + [2] * 17 + [4] * 28 + [5] * 7


def orders(seed: int = 0) -> pd.DataFrame:
    """A transaction-level file of 60 customers and 189 lines: ``cust, when, amount, age,
    gender, seg`` (three groups that differ in spend)."""
    rng = np.random.default_rng(seed)
    rows = []
    for c, lines in enumerate(LINES):
        group = c % 3
        for line in range(lines):
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
            rows.append(
                {
                    "cust": f"C{c:04d}",
                    "when": str(day),
                    "amount": round(float(rng.gamma(2.0, 10 + 20 * group)), 2),
                    "age": 25 + 15 * group + int(rng.integers(0, 5)),
                    "gender": "f" if c % 2 else "m",
                    "seg": f"g{group}",
                    "_line": line,
                }
            )
    return pd.DataFrame(rows).drop(columns="_line")


def customers(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """A customer-level file: ``cust, age, income, spend, seg`` (three groups)."""
    rng = np.random.default_rng(seed)
    group = np.arange(n) % 3
    return pd.DataFrame(
        {
            "cust": [f"K{i:05d}" for i in range(n)],
            "age": (25 + 15 * group + rng.integers(0, 5, n)).astype(float),
            "income": (20_000 + 25_000 * group + rng.normal(0, 2_000, n)).round(),
            "spend": (100 + 300 * group + rng.normal(0, 20, n)).round(1),
            "seg": [f"g{g}" for g in group],
        }
    )


class Files:
    """The corpus's input files, written on first use into ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.folder / name

    def frame(self, name: str, frame: pd.DataFrame, **kw) -> Path:
        path = self.path(name)
        if not path.exists():
            frame.to_csv(path, index=False, **kw)
        return path

    def text(self, name: str, text: str | bytes) -> Path:
        path = self.path(name)
        if not path.exists():
            path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return path

    def folder_named(self, name: str) -> Path:
        path = self.path(name)
        path.mkdir(exist_ok=True)
        return path

    def model_run(self, log_model: bool = True) -> tuple[str, str]:
        """A FINISHED run on :meth:`customers` (with its logged model), made once."""
        uri = f"sqlite:///{self.folder / 'models.db'}"
        key = f"_run_{log_model}"
        if not hasattr(self, key):
            from segbench.api import run

            overrides = [*QUICK, *cust_overrides(self.customers()), f"tracking.uri={uri}"]
            overrides += [f"tracking.log_model={str(log_model).lower()}"]
            setattr(self, key, run(overrides).run_id)
        return getattr(self, key), uri

    # good files, and variations of them
    def orders(self) -> Path:
        return self.frame("orders.csv", orders())

    def customers(self) -> Path:
        return self.frame("customers.csv", customers())

    def orders_with(self, name: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
        return self.frame(name, change(orders()))

    def customers_with(self, name: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
        return self.frame(name, change(customers()))

    def gz(self, name: str, cut: float | None = None, garbage: bool = False) -> Path:
        path = self.path(name)
        if not path.exists():
            raw = gzip.compress(orders().to_csv(index=False).encode() * 40)
            if cut is not None:
                raw = raw[: int(len(raw) * cut)]
            if garbage:
                raw = raw[:10] + bytes(range(256)) * 8 + raw[-8:]
            path.write_bytes(raw)
        return path


def tx_overrides(
    path: Path, *more: str, transactions: str = "{timestamp: when, amount: amount}"
) -> list[str]:
    """A tabular run on a transaction-level file with ``orders()``'s columns."""
    return [
        "dataset=tabular",
        f"dataset.path={path}",
        "dataset.customer_id=cust",
        f"dataset.transactions={transactions}",
        "dataset.demographic_columns=[age]",
        "dataset.cache=false",
        *more,
    ]


def cust_overrides(path: Path, *more: str) -> list[str]:
    """A tabular run on a customer-level file with ``customers()``'s columns."""
    return [
        "dataset=tabular",
        f"dataset.path={path}",
        "dataset.customer_id=cust",
        "dataset.demographic_columns=[age, income, spend]",
        "dataset.cache=false",
        "features=demographics",
        "algo.n_clusters=3",
        *more,
    ]


def _halve_amounts(frame: pd.DataFrame) -> pd.DataFrame:
    """Amounts as text for 95 of the 189 lines: every line of the 8 one-line customers and
    every second line of the others (the issue's file: 95 of 189 rows, 8 of 60 customers)."""
    frame = frame.astype({"amount": object})
    line = frame.groupby("cust").cumcount()
    single = frame["cust"].map(frame["cust"].value_counts()) == 1
    frame.loc[single | (line % 2 == 1), "amount"] = "n/a"
    return frame


# --------------------------------------------------------------------------------------------
# cases


@dataclass(frozen=True)
class Case:
    """One bad input.

    ``args(files, uri)`` gives the overrides (``run``, ``cli``) or the argv (``assign``);
    ``expect`` the fragments the message (or, with ``warn``, the console warning) must hold;
    ``status`` the exit status the command line must give.
    """

    id: str
    args: Callable[[Files, str], list[str]]
    expect: tuple[str, ...]
    kind: str = "run"  # run | assign | cli
    warn: bool = False
    status: int = 2
    group: str = "override"  # override | file | tuning | assign | cli
    needs_data: bool = False
    #: a mistake in the settings, found before any work: it must leave no run in the store
    #: (default: the override and tuning groups)
    before_work: bool | None = None
    #: the runs the case must leave, by status (command-line cases), when it must leave some
    runs: tuple[tuple[str, int], ...] | None = None

    @property
    def no_run(self) -> bool:
        if self.before_work is not None:
            return self.before_work
        return self.group in ("override", "tuning")


def _run(id, args, *expect, **kw) -> Case:
    return Case(id, args, tuple(expect), **kw)


def _toy(*more: str) -> Callable[[Files, str], list[str]]:
    return lambda files, uri: [*TOY, *more]


def _file(make: Callable[[Files], list[str]]) -> Callable[[Files, str], list[str]]:
    return lambda files, uri: make(files)


CASES: list[Case] = [
    # --- algorithm hyperparameters -----------------------------------------------------------
    _run("kmeans_k_0", _toy("algo.n_clusters=0"), "n_clusters", "Got 0"),
    _run("kmeans_k_negative", _toy("algo.n_clusters=-3"), "n_clusters", "Got -3"),
    _run("kmeans_k_text", _toy("algo.n_clusters=abc"), "n_clusters", "'abc'"),
    _run("kmeans_n_init_0", _toy("algo.n_init=0"), "n_init", "Got 0"),
    _run("dbscan_eps_negative", _toy("algo=dbscan", "algo.eps=-1"), "eps", "Got -1"),
    _run("dbscan_min_samples_0", _toy("algo=dbscan", "algo.min_samples=0"), "min_samples", "Got 0"),
    _run(
        "hdbscan_min_cluster_size_1",
        _toy("algo=hdbscan", "algo.min_cluster_size=1"),
        "min_cluster_size",
        "range [2, inf)",
        "Got 1",
    ),
    _run(
        "hdbscan_selection_method",
        _toy("algo=hdbscan", "algo.cluster_selection_method=biggest"),
        "cluster_selection_method",
        "'biggest'",
        "eom",
    ),
    _run(
        "hdbscan_min_samples_0",
        _toy("algo=hdbscan", "algo.min_samples=0"),
        "min_samples",
        "Got 0",
    ),
    _run("gmm_components_0", _toy("algo=gmm", "algo.n_components=0"), "n_components", "Got 0"),
    _run(
        "gmm_covariance_type",
        _toy("algo=gmm", "algo.covariance_type=round"),
        "covariance_type",
        "'round'",
    ),
    _run(
        "agglomerative_linkage",
        _toy("algo=agglomerative", "algo.linkage=nearest"),
        "linkage",
        "'nearest'",
    ),
    _run("unknown_hyperparameter", _toy("+algo.nclusters=4"), "nclusters", "KMeans"),
    _run("seed_text", _toy("seed=x"), "seed='x'", "integer"),
    _run(
        "k_above_customers",
        _toy("algo.n_clusters=500"),
        "algo.n_clusters=500",
        "number of customers (300)",
        before_work=False,
    ),
    _run(
        "max_customers_guard",
        _toy("algo=agglomerative", "algo.max_customers=100"),
        "at most 100 customers",
        "300",
        "algo.max_customers",
        "algo.subsample=100",
        before_work=False,
    ),
    # --- settings sections --------------------------------------------------------------------
    _run("features_unknown_block", _toy("features=rfm+nope"), "'nope'", "valid blocks"),
    _run("features_twice", _toy("features=rfm+rfm"), "names a block twice"),
    _run("features_empty", _toy("features=rfm+"), "features='rfm+'", "joined by '+'"),
    _run(
        "silhouette_sample_negative",
        _toy("evaluation.silhouette_sample_size=-1"),
        "evaluation.silhouette_sample_size=-1",
        "greater than or equal to 2",
    ),
    _run(
        "stability_method",
        _toy("evaluation.stability.method=jackknife"),
        "evaluation.stability.method='jackknife'",
        "bootstrap",
    ),
    _run(
        "pca_share_above_1",
        _toy("preprocess=pca", "preprocess.n_components=1.5"),
        "n_components=1.5",
        "(0, 1)",
    ),
    _run(
        "scaler_unknown", _toy("preprocess.scaler=minmax"), "preprocess.scaler='minmax'", "robust"
    ),
    _run("block_weight_negative", _toy("blocks.rfm.weight=-1"), "blocks.rfm", "weight", "Got -1"),
    _run("text_method_unknown", _toy("blocks.text.method=bow"), "blocks.text", "'bow'"),
    _run(
        "min_cell_size_negative",
        _toy("privacy.min_cell_size=-1"),
        "privacy.min_cell_size=-1",
        "greater than or equal to 0",
    ),
    _run("blas_threads_0", _toy("blas_threads=0"), "blas_threads=0", "greater than or equal to 1"),
    _run(
        "synthetic_noise_above_1",
        lambda files, uri: ["dataset.noise=2"],
        "noise",
        "2",
        before_work=False,
    ),
    _run(
        "synthetic_no_customers",
        lambda files, uri: ["dataset.n_customers=0"],
        "n_customers",
        "0",
        before_work=False,
    ),
    # --- dataset × features, dataset options (checked before any work) -----------------------
    _run(
        "online_retail_demographics",
        lambda files, uri: ["dataset=online_retail", "features=demographics"],
        "online_retail",
        "demographics",
        "sensitive",
        needs_data=True,
    ),
    _run(
        "mall_rfm",
        lambda files, uri: ["dataset=mall_customers", "features=rfm"],
        "mall_customers",
        "'rfm'",
        "transactions",
        needs_data=True,
    ),
    _run(
        "mall_text",
        lambda files, uri: ["dataset=mall_customers", "features=text"],
        "mall_customers",
        "'text'",
        "texts",
        needs_data=True,
    ),
    _run(
        "marketing_birth_year_handling",
        lambda files, uri: ["dataset=marketing_campaign", "dataset.birth_year_handling=guess"],
        "birth_year_handling='guess'",
        "'drop', 'impute'",
        needs_data=True,
    ),
    _run(
        "clothing_missing_text",
        lambda files, uri: ["dataset=clothing_reviews", "dataset.missing_text=maybe"],
        "missing_text='maybe'",
        "'drop', 'keep'",
        needs_data=True,
    ),
    _run(
        "analysis_date_text",
        lambda files, uri: ["dataset=online_retail", "dataset.analysis_date=yesterday"],
        "analysis_date='yesterday'",
        "YYYY-MM-DD",
        needs_data=True,
    ),
    _run(
        "directory_as_dataset_path",
        lambda files, uri: ["dataset=online_retail", f"dataset.path={files.folder_named('dir')}"],
        "is a folder, not a file",
    ),
    # --- tabular files -----------------------------------------------------------------------
    _run(
        "tabular_without_path",
        lambda files, uri: ["dataset=tabular"],
        "dataset.path",
        group="file",
        before_work=True,
    ),
    _run(
        "tabular_missing_file",
        _file(lambda f: tx_overrides(f.path("nowhere.csv"))),
        "nowhere.csv",
        "does not exist",
        group="file",
        before_work=True,
    ),
    _run(
        "tabular_directory",
        _file(lambda f: tx_overrides(f.folder_named("a_folder"))),
        "a_folder",
        "is a folder, not a file",
        group="file",
        before_work=True,
    ),
    _run(
        "empty_file",
        _file(lambda f: tx_overrides(f.text("empty.csv", ""))),
        "empty.csv",
        "empty",
        group="file",
    ),
    _run(
        "header_only",
        _file(lambda f: tx_overrides(f.text("header.csv", "cust,when,amount,age\n"))),
        "header.csv",
        "no data rows",
        group="file",
    ),
    _run(
        "wrong_separator",
        _file(
            lambda f: tx_overrides(f.frame("semicolon.csv", orders(), sep=";"), "dataset.sep=','")
        ),
        "semicolon.csv",
        "separator ';'",
        group="file",
    ),
    _run(
        "not_utf8",
        _file(
            lambda f: tx_overrides(
                f.text(
                    "latin1.csv", "cust,when,amount,age\nC1,2024-01-01,3.5,café\n".encode("latin-1")
                )
            )
        ),
        "latin1.csv",
        "encoding",
        group="file",
    ),
    _run(
        "malformed_rows",
        _file(
            lambda f: tx_overrides(
                f.text(
                    "ragged.csv",
                    "cust,when,amount,age\nC1,2024-01-01,3,30\nC2,2024-01-02,4,31,x,y\n",
                ),
                "dataset.sep=','",
            )
        ),
        "ragged.csv",
        "line 3",
        group="file",
    ),
    _run(
        "truncated_gz",
        _file(lambda f: tx_overrides(f.gz("truncated.csv.gz", cut=0.5))),
        "truncated.csv.gz",
        "truncated",
        group="file",
    ),
    _run(
        "corrupt_gz",
        _file(lambda f: tx_overrides(f.gz("corrupt.csv.gz", garbage=True))),
        "corrupt.csv.gz",
        "gzip",
        group="file",
    ),
    _run(
        "not_parquet",
        _file(lambda f: tx_overrides(f.text("orders.parquet", "cust,when\n1,2\n"))),
        "orders.parquet",
        "Parquet",
        group="file",
    ),
    _run(
        "not_xlsx",
        _file(lambda f: tx_overrides(f.text("orders.xlsx", "cust,when\n1,2\n"))),
        "orders.xlsx",
        ".xlsx",
        group="file",
    ),
    _run(
        "missing_id_column",
        _file(lambda f: tx_overrides(f.orders(), "dataset.customer_id=client")),
        "'client'",
        "the file has the columns",
        group="file",
    ),
    _run(
        "missing_label_column",
        _file(lambda f: cust_overrides(f.customers(), "dataset.label_column=truth")),
        "'truth'",
        "the file has the columns",
        group="file",
    ),
    _run(
        "unknown_transaction_role",
        _file(
            lambda f: tx_overrides(
                f.orders(), transactions="{timestamp: when, amount: amount, basket: cust}"
            )
        ),
        "'basket'",
        "valid",
        group="file",
        before_work=True,
    ),
    _run(
        "transactions_without_timestamp",
        _file(lambda f: tx_overrides(f.orders(), transactions="{amount: amount}")),
        "'timestamp'",
        "found ['amount']",
        group="file",
        before_work=True,
    ),
    _run(
        "no_readable_dates",
        _file(
            lambda f: tx_overrides(
                f.orders_with("dates.csv", lambda o: o.assign(when="someday")),
            )
        ),
        "'when'",
        "no readable dates",
        "someday",
        group="file",
    ),
    _run(
        "inf_in_numeric_column",
        _file(
            lambda f: cust_overrides(
                f.customers_with(
                    "inf.csv", lambda c: c.assign(income=c["income"].where(c.index != 7, np.inf))
                )
            )
        ),
        "inf.csv",
        "'income'",
        "infinite",
        group="file",
    ),
    _run(
        "minus_inf_in_numeric_column",
        _file(
            lambda f: cust_overrides(
                f.customers_with(
                    "minus_inf.csv",
                    lambda c: c.assign(spend=c["spend"].where(c.index != 3, -np.inf)),
                )
            )
        ),
        "minus_inf.csv",
        "'spend'",
        "infinite",
        group="file",
    ),
    _run(
        "inf_in_amounts",
        _file(
            lambda f: tx_overrides(
                f.orders_with(
                    "inf_amount.csv",
                    lambda o: o.assign(amount=o["amount"].where(o.index != 5, np.inf)),
                )
            )
        ),
        "inf_amount.csv",
        "'amount'",
        "infinite",
        group="file",
    ),
    _run(
        "nan_column",
        _file(
            lambda f: cust_overrides(f.customers_with("nan.csv", lambda c: c.assign(income=np.nan)))
        ),
        "nan.csv",
        "'income'",
        "no values",
        group="file",
    ),
    _run(
        "text_in_behaviour_column",
        _file(
            lambda f: [
                *cust_overrides(
                    f.customers_with(
                        "recency_text.csv",
                        lambda c: c.assign(
                            days=[str(i % 50) if i % 10 else "soon" for i in range(len(c))]
                        ),
                    )
                ),
                "~dataset.behaviour_columns",
                "+dataset.behaviour_columns={recency: days, frequency: age, monetary: spend}",
                "features=rfm",
            ]
        ),
        "recency_text.csv",
        "'days'",
        "soon",
        group="file",
    ),
    _run(
        "duplicated_ids_customer_level",
        _file(
            lambda f: cust_overrides(
                f.customers_with("dups.csv", lambda c: pd.concat([c, c.head(2)]))
            )
        ),
        "dups.csv",
        "duplicated",
        "map `transactions`",
        group="file",
    ),
    _run(
        "no_ids_at_all",
        _file(
            lambda f: cust_overrides(f.customers_with("no_ids.csv", lambda c: c.assign(cust="")))
        ),
        "no_ids.csv",
        "'cust'",
        group="file",
    ),
    _run(
        "one_customer_k6",
        _file(
            lambda f: tx_overrides(
                f.orders_with("one.csv", lambda o: o[o["cust"] == "C0004"]), "features=rfm"
            )
        ),
        "1 customer",
        "at least 2",
        group="file",
    ),
    _run(
        "all_amounts_negative",
        _file(
            lambda f: tx_overrides(
                f.orders_with("negative.csv", lambda o: o.assign(amount=-o["amount"])),
                "features=rfm",
            )
        ),
        "negative.csv",
        "'amount'",
        "negative",
        group="file",
    ),
    _run(
        "half_amounts_strings",
        _file(lambda f: tx_overrides(f.orders_with("half.csv", _halve_amounts), "features=rfm")),
        "95 of 189 rows",
        "dataset.max_dropped_share",
        group="file",
    ),
    _run(
        "some_amounts_strings",
        _file(
            lambda f: tx_overrides(
                f.orders_with(
                    "some.csv",
                    lambda o: o.astype({"amount": object}).assign(
                        amount=lambda d: d["amount"].where(d.index % 8 != 0, "n/a")
                    ),
                ),
                "features=rfm",
                "algo.n_clusters=3",
            )
        ),
        "24 of 189 rows",
        "numeric",
        warn=True,
        group="file",
    ),
    # --- tuning settings ---------------------------------------------------------------------
    _run(
        "tune_no_trials",
        _toy("tune=optuna", "tune.n_trials=0"),
        "tune.n_trials=0",
        "greater than or equal to 1",
        group="tuning",
    ),
    _run(
        "tune_empty_space",
        _toy("tune=optuna", "algo.search_space={}"),
        "algo.search_space={}",
        "nothing to tune",
        group="tuning",
    ),
    _run(
        "tune_low_above_high",
        _toy(
            "tune=optuna",
            "algo.search_space.n_clusters.low=20",
            "algo.search_space.n_clusters.high=2",
        ),
        "algo.n_clusters",
        "low",
        group="tuning",
    ),
    _run(
        "tune_unknown_type",
        _toy("tune=optuna", "algo.search_space.n_clusters.type=integer"),
        "algo.n_clusters",
        "'integer'",
        group="tuning",
    ),
    _run(
        "tune_unknown_parameter",
        _toy("tune=optuna", "+algo.search_space.n_clustrs={type: int, low: 2, high: 5}"),
        "n_clustrs",
        group="tuning",
    ),
    _run(
        "tune_sampler",
        _toy("tune=optuna", "tune.sampler=bayes"),
        "tune.sampler='bayes'",
        "tpe",
        group="tuning",
    ),
    _run(
        "tune_feature_space_unused_block",
        _toy(
            "tune=optuna",
            "+tune.search_space.blocks.text.pca_components={type: int, low: 4, high: 8}",
        ),
        "block 'text'",
        "features=rfm",
        group="tuning",
    ),
    _run(
        "tune_grid_continuous",
        _toy("algo=dbscan", "tune=optuna", "tune.sampler=grid"),
        "grid",
        "algo.eps",
        group="tuning",
    ),
]


def _assign(id, argv, *expect, **kw) -> Case:
    return Case(id, argv, tuple(expect), kind="assign", group="assign", **kw)


def _argv(files: Files, uri: str, **args: str | None) -> list[str]:
    values = {
        "--run-id": "0" * 32,
        "--input": str(files.orders()),
        "--output": str(files.path("out.csv")),
    }
    values.update({f"--{k.replace('_', '-')}": v for k, v in args.items()})
    argv = [x for k, v in values.items() if v is not None for x in (k, v)]
    return [*argv, "--tracking-uri", uri]


def _model_argv(files: Files, **args: str | None) -> list[str]:
    """Arguments against a real run with a logged model (a customer-level tabular run)."""
    run_id, uri = files.model_run()
    values = {"run_id": run_id, "input": str(files.customers()), **args}
    return _argv(files, uri, **values)


CASES += [
    _assign("assign_unknown_run", lambda f, u: _argv(f, u), "run '" + "0" * 32 + "' not found"),
    _assign(
        "assign_missing_input",
        lambda f, u: _argv(f, u, input=str(f.path("missing.csv"))),
        "missing.csv",
        "no such file",
    ),
    _assign(
        "assign_input_directory",
        lambda f, u: _argv(f, u, input=str(f.folder_named("in_dir"))),
        "in_dir",
        "folder",
    ),
    _assign(
        "assign_run_and_model_uri",
        lambda f, u: _argv(f, u, model_uri="models:/m-0"),
        "--model-uri",
        "not allowed with argument --run-id",
    ),
    _assign(
        "assign_unknown_dataset_config",
        lambda f, u: _model_argv(f, dataset_config="nope"),
        "--dataset-config 'nope'",
        "tabular",
    ),
    _assign(
        "assign_input_in_another_format",
        lambda f, u: _model_argv(f, input=str(f.orders())),
        "orders.csv",
        "the file has the columns",
    ),
    _assign(
        "assign_run_without_model",
        lambda f, u: _model_argv(f, run_id=f.model_run(log_model=False)[0]),
        "no logged model",
        "tracking.log_model",
    ),
    _assign(
        "assign_bad_model_uri",
        lambda f, u: _argv(f, u, run_id=None, model_uri="runs:/nope/model"),
        "runs:/nope/model",
    ),
    _assign(
        "assign_bad_analysis_date",
        lambda f, u: _model_argv(f, analysis_date="soon"),
        "--analysis-date 'soon'",
        "YYYY-MM-DD",
    ),
    _assign(
        "assign_unwritable_output",
        lambda f, u: _model_argv(f, output="/proc/segbench/out.csv"),
        "/proc/segbench/out.csv",
    ),
]

#: Cases where the command line itself is under test (run as subprocesses, in one batch).
CLI_CASES: list[Case] = [
    Case(
        "cli_k_text",
        _toy("algo.n_clusters=abc"),
        ("n_clusters", "'abc'"),
        kind="cli",
        group="cli",
        before_work=True,
    ),
    Case("cli_seed_text", _toy("seed=x"), ("seed='x'",), kind="cli", group="cli", before_work=True),
    Case(
        "cli_unknown_dataset",
        lambda f, u: ["dataset=nope"],
        ("Could not find 'dataset/nope'", "tabular"),
        kind="cli",
        status=1,
        group="cli",
    ),
    Case(
        "cli_override_without_plus",
        _toy("algo.nclusters=4"),
        ("+algo.nclusters=4",),
        kind="cli",
        status=1,
        group="cli",
    ),
    Case(
        "cli_sweep_counts_a_job_refused_before_work",
        _toy("-m", "algo.n_clusters=3,abc"),
        ("n_clusters", "'abc'", "sweep: 2 job(s), 1 FINISHED, 1 FAILED"),
        kind="cli",
        status=1,
        group="cli",
        before_work=False,
        runs=(("FAILED", 2), ("FINISHED", 1)),  # the refused job and the sweep's parent
    ),
    Case(
        "cli_feeding_checked_before_work",
        lambda f, u: ["dataset=online_retail", "features=demographics"],
        ("online_retail", "demographics"),
        kind="cli",
        group="cli",
        needs_data=True,
        before_work=True,
    ),
    Case(
        "cli_truncated_gz",
        _file(lambda f: tx_overrides(f.gz("truncated.csv.gz", cut=0.5))),
        ("truncated.csv.gz", "truncated"),
        kind="cli",
        group="cli",
    ),
    Case(
        "cli_half_amounts_strings",
        _file(lambda f: tx_overrides(f.orders_with("half.csv", _halve_amounts), "features=rfm")),
        ("95 of 189 rows", "dataset.max_dropped_share"),
        kind="cli",
        group="cli",
    ),
    Case(
        "cli_some_amounts_strings_warns",
        _file(
            lambda f: tx_overrides(
                f.orders_with(
                    "some.csv",
                    lambda o: o.astype({"amount": object}).assign(
                        amount=lambda d: d["amount"].where(d.index % 8 != 0, "n/a")
                    ),
                ),
                "features=rfm",
                "algo.n_clusters=3",
            )
        ),
        ("24 of 189 rows",),
        kind="cli",
        warn=True,
        status=0,
        group="cli",
    ),
]


# --------------------------------------------------------------------------------------------
# running and classifying


@dataclass
class Outcome:
    case: Case
    verdict: str
    message: str = ""
    runs: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.case.id}: {self.verdict} — {self.message[:400]}"


def run_statuses(uri: str) -> dict[str, int]:
    """How many runs of each status the store at ``uri`` holds (all experiments)."""
    import sqlite3

    path = uri.removeprefix("sqlite:///")
    if not os.path.exists(path):
        return {}
    with contextlib.closing(sqlite3.connect(path)) as db:
        try:
            rows = db.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall()
        except sqlite3.OperationalError:
            return {}
    return dict(rows)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


def _paragraph_ok(message: str, expect: Sequence[str]) -> bool:
    one = "\n" not in message.strip()
    return one and all(fragment in message for fragment in expect)


def outcome(case: Case, files: Files, uri: str) -> Outcome:
    """Run ``case`` in-process into the store ``uri`` and classify it (see the module).

    ``uri`` may hold runs of earlier cases: ``Outcome.runs`` counts the runs this case added.
    """
    from segbench.errors import SegbenchError

    args = case.args(files, uri)
    if case.kind == "assign":
        from segbench.assign import main

        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                status = main(args)
        except SystemExit as exit_:  # argparse
            status = exit_.code
        except Exception as exc:  # a traceback is what we classify
            return Outcome(case, "traceback", f"{type(exc).__name__}: {exc}")
        lines = [line for line in err.getvalue().strip().splitlines() if line.strip()]
        text = (lines[-1] if lines else "").split(" error: ", 1)[-1]
        if status == 0:
            return Outcome(case, "silent", text)
        ok = status == case.status and _paragraph_ok(text, case.expect)
        return Outcome(case, "clear" if ok else "misleading", text)

    from segbench.api import run

    before = run_statuses(uri)
    capture = _Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    ours = logging.getLogger("segbench")
    level = ours.level
    ours.setLevel(logging.WARNING)  # warnings reach the console whatever the caller set
    try:
        try:
            run([*QUICK, *args, f"tracking.uri={uri}"])
        except SegbenchError as exc:
            verdict = "clear" if _paragraph_ok(str(exc), case.expect) else "misleading"
            result = Outcome(case, verdict, str(exc))
        except Exception as exc:  # a traceback is what we classify
            result = Outcome(case, "traceback", f"{type(exc).__name__}: {exc}")
        else:
            warned = [m for m in capture.records if _paragraph_ok(m, case.expect)]
            if case.warn and warned:
                result = Outcome(case, "clear", warned[0])
            else:
                result = Outcome(case, "silent", " | ".join(capture.records))
    finally:
        root.removeHandler(capture)
        ours.setLevel(level)
    after = run_statuses(uri)
    result.runs = {k: n - before.get(k, 0) for k, n in after.items() if n - before.get(k, 0)}
    if after.get("RUNNING"):
        result.verdict = "running"
    elif case.no_run and result.runs and result.verdict == "clear":
        result.verdict = "misleading"
        result.message = f"[left a run: {result.runs}] {result.message}"
    return result


def cli_outcomes(cases: Sequence[Case], files: Files, folder: Path) -> list[Outcome]:
    """Run the command-line cases as subprocesses, all at once (each in its own folder)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), env.get("PYTHONPATH")) if p)
    started = []
    for case in cases:
        cwd = folder / case.id
        cwd.mkdir(parents=True, exist_ok=True)
        args = case.args(files, "")
        flags = [a for a in args if a.startswith("-")]  # Hydra's flags (-m) go first
        argv = [sys.executable, "-m", "segbench", *flags, *QUICK]
        argv += [a for a in args if not a.startswith("-")]
        started.append(
            (case, cwd, subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True))
        )  # fmt: skip
    results = []
    for case, cwd, process in started:
        out, err = process.communicate(timeout=600)
        text = (out + err) if case.warn else err
        lines = [line for line in err.strip().splitlines() if line.strip()]
        if "Traceback" in err:
            verdict = "traceback"
        elif process.returncode == 0 and not case.warn:
            verdict = "silent"
        elif case.warn:
            verdict = "clear" if all(f in text for f in case.expect) else "silent"
        elif case.status == 2:
            message = lines[-1] if lines else ""
            ok = process.returncode == 2 and message.startswith("segbench: error: ")
            verdict = "clear" if ok and _paragraph_ok(message, case.expect) else "misleading"
        else:  # Hydra's own errors and sweeps (status 1): the message, no traceback
            ok = process.returncode == case.status and all(f in out + err for f in case.expect)
            verdict = "clear" if ok else "misleading"
        result = Outcome(case, verdict, text.strip()[-600:])
        result.runs = run_statuses(f"sqlite:///{cwd / 'mlflow.db'}")
        if result.runs.get("RUNNING"):
            result.verdict = "running"
        elif case.no_run and result.runs and result.verdict == "clear":
            result.verdict = "misleading"
            result.message = f"[left a run: {result.runs}] {result.message}"
        elif case.runs is not None and result.runs != dict(case.runs):
            result.verdict = "misleading"
            result.message = f"[runs {result.runs}, expected {dict(case.runs)}] {result.message}"
        results.append(result)
    return results


def main() -> None:  # pragma: no cover - the report for the issue's note
    import tempfile
    from collections import Counter

    logging.basicConfig(level=logging.ERROR)
    folder = Path(tempfile.mkdtemp(prefix="segbench-corpus-"))
    files = Files(folder / "files")
    data = bool(os.environ.get("SEGBENCH_DATA_DIR"))
    results = []
    for case in CASES:
        if case.needs_data and not data:
            continue
        results.append(outcome(case, files, f"sqlite:///{folder / 'mlflow.db'}"))
        print(results[-1], flush=True)
    if "--cli" in sys.argv:
        cli = [c for c in CLI_CASES if data or not c.needs_data]
        for result in cli_outcomes(cli, files, folder / "cli"):
            results.append(result)
            print(result, flush=True)
    counts = Counter(r.verdict for r in results)
    print(f"\n{len(results)} cases:", dict(sorted(counts.items())))
    by_group = Counter((r.case.group, r.verdict) for r in results)
    print(dict(sorted(by_group.items())))


if __name__ == "__main__":
    sys.path.insert(0, str(TESTS))
    main()
