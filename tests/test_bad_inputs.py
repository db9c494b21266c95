"""Every bad input gets one clear paragraph: the corpus of ``tests/badinputs.py``.

Each case runs the way a user would: in-process through :func:`segbench.api.run` (overrides and
files) or :func:`segbench.assign.main` (its arguments), and — where the command line itself is
under test — as ``python -m segbench`` subprocesses, started together in one batch. A case passes
when the error is a :class:`~segbench.errors.SegbenchError` (status 2 on the command line) whose
message is one paragraph holding what was expected and what was found, with no traceback and
no run left RUNNING; a mistake in the settings must leave no run at all (they are checked before
any work); a lossy input that may run must say so on the console.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from badinputs import CASES, CLI_CASES, Files, cli_outcomes, outcome
from datapaths import shared_data_dir


def _needs_data(case) -> None:
    if case.needs_data and shared_data_dir() is None:
        pytest.skip("needs the shared datasets (SEGBENCH_DATA_DIR)")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Files:
    return Files(tmp_path_factory.mktemp("bad-inputs"))


def test_the_corpus_is_large_and_covers_every_kind_of_input():
    groups = {case.group for case in CASES + CLI_CASES}
    assert len(CASES) + len(CLI_CASES) >= 60
    assert {"override", "file", "tuning", "assign", "cli"} <= groups
    assert len({case.id for case in CASES + CLI_CASES}) == len(CASES) + len(CLI_CASES)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """One store for the corpus (each case counts the runs it adds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gets_one_clear_paragraph(case, files, store):
    _needs_data(case)
    result = outcome(case, files, store)
    assert result.verdict == "clear", str(result)
    assert not result.runs.get("RUNNING")
    if case.no_run:
        assert result.runs == {}, f"a settings error left a run: {result.runs}"


@pytest.fixture(scope="module")
def cli_results(files, tmp_path_factory):
    cases = [c for c in CLI_CASES if not c.needs_data or shared_data_dir() is not None]
    results = cli_outcomes(cases, files, tmp_path_factory.mktemp("cli"))
    return {r.case.id: r for r in results}


@pytest.mark.slow
@pytest.mark.parametrize("case", CLI_CASES, ids=[case.id for case in CLI_CASES])
def test_the_command_line_gives_the_paragraph_and_the_status(case, cli_results):
    _needs_data(case)
    result = cli_results[case.id]
    assert result.verdict == "clear", str(result)
    assert not result.runs.get("RUNNING")
    if case.no_run:
        assert result.runs == {}


def test_a_lossy_file_that_may_run_is_said_on_the_console_and_recorded(files, tmp_path, caplog):
    """Cleaning that drops 13 % of the rows warns with counts and reason; the run finishes."""
    from mlflow.tracking import MlflowClient

    from badinputs import QUICK, tx_overrides
    from segbench.api import run

    path = files.orders_with(
        "lossy.csv",
        lambda o: o.astype({"amount": object}).assign(
            amount=lambda d: d["amount"].where(d.index % 8 != 0, "n/a")
        ),
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with caplog.at_level("WARNING"):
        result = run(
            [
                *QUICK,
                *tx_overrides(path, "features=rfm", "algo.n_clusters=3"),
                f"tracking.uri={uri}",
            ]
        )
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("cleaning dropped 24 of 189 rows (13%)" in w and "numeric" in w for w in warnings)
    assert MlflowClient(uri).get_run(result.run_id).info.status == "FINISHED"
    # relaxing the setting named in the error lets the half-empty file through
    half = files.orders_with("half_relaxed.csv", __import__("badinputs")._halve_amounts)
    result = run(
        [*QUICK, *tx_overrides(half, "features=rfm", "algo.n_clusters=3"), f"tracking.uri={uri}",
         "dataset.max_dropped_share=0.9"]
    )  # fmt: skip
    assert result.data.n_customers == 52


def test_a_data_error_with_raw_ids_records_only_its_public_message(files, tmp_path):
    """The console may show the user their duplicated ids; the store never gets them."""
    from mlflow.tracking import MlflowClient

    from badinputs import QUICK, cust_overrides
    from segbench.api import run
    from segbench.errors import DataError

    path = files.customers_with(
        "dups_public.csv", lambda c: __import__("pandas").concat([c, c.head(2)])
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(DataError, match=r"K00000") as info:
        run([*QUICK, *cust_overrides(path), f"tracking.uri={uri}"])
    assert "2 duplicated values" in info.value.public
    client = MlflowClient(uri)
    (failed,) = client.search_runs([client.get_experiment_by_name("segbench").experiment_id])
    assert failed.info.status == "FAILED"
    assert "2 duplicated values" in failed.data.tags["segbench.error"]
    assert "K0000" not in failed.data.tags["segbench.error"]
    error_txt = Path(client.download_artifacts(failed.info.run_id, "error.txt")).read_text()
    assert "Traceback" in error_txt and "K0000" not in error_txt


def test_the_rule_for_errors_found_before_any_work_is_what_the_readme_says():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "before a run exists" in readme
    assert "ends the run FAILED" in readme
