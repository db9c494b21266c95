"""Bad leaderboard inputs get one clear paragraph and exit status 2, never a traceback
(issue 12). Every case runs through the command's ``main``; two also through the real command
line (``python -m segbench.leaderboard`` in a subprocess). A store that does not exist is
reported, never created."""

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from segbench.leaderboard.__main__ import MAX_NOISE, main
from segbench.leaderboard.stats import MAX_NOISE as STATS_MAX_NOISE

SRC = Path(__file__).resolve().parents[1] / "src"


def leaderboard(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(
        [sys.executable, "-m", "segbench.leaderboard", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_paragraph(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done.stderr
    err = done.stderr.strip()
    assert "Traceback" not in done.stderr and err
    assert "\n\n" not in err  # one paragraph
    return err


def in_process(args: list[str], capsys) -> str:
    """``main(args)``: an exception would fail the test; argparse's own errors exit 2."""
    try:
        status = main(args)
    except SystemExit as stop:
        status = stop.code
    err = capsys.readouterr().err.strip()
    assert status == 2 and err and "\n\n" not in err and "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    (root / "notes.txt").write_text("not a database\n")
    (root / "empty.db").touch()
    other = sqlite3.connect(root / "other.db")
    other.execute("create table customers (id integer)")
    other.commit()
    other.close()
    (root / "a_file").write_text("x")
    return root


CASES = {
    "bogus scheme": (
        ["--tracking-uri", "bogus://x"],
        ["expected an MLflow tracking store", "'bogus'"],
    ),
    "absent sqlite file": (
        ["--tracking-uri", "sqlite:///{root}/nowhere/mlflow.db"],
        ["expected an existing MLflow store", "found no file"],
    ),
    "sqlite folder": (
        ["--tracking-uri", "sqlite:///{root}"],
        ["expected an SQLite file", "folder"],
    ),
    "not a database": (
        ["--tracking-uri", "sqlite:///{root}/notes.txt"],
        ["expected an MLflow tracking store", "file is not a database"],
    ),
    "empty file": (
        ["--tracking-uri", "sqlite:///{root}/empty.db"],
        ["without MLflow's tables", "empty"],
    ),
    "other database": (
        ["--tracking-uri", "sqlite:///{root}/other.db"],
        ["without MLflow's tables", "customers"],
    ),
    "absent folder": (
        ["--tracking-uri", "{root}/mlruns"],
        ["expected a folder of MLflow runs", "nothing"],
    ),
    "no server": (
        ["--tracking-uri", "http://127.0.0.1:9"],
        ["expected a tracking server there", "Connection refused"],
    ),
    "tag without =": (["--tag", "segbench.study"], ["expected KEY=VALUE", "'segbench.study'"]),
    "unknown select metric": (
        ["--select", "mystery"],
        ["'mystery'", "is not a metric segbench knows"],
    ),
    "select without direction": (["--select", "n_segments"], ["has no better direction"]),
    "max noise out of range": (["--max-noise", "2"], ["expected a share between 0 and 1", "'2'"]),
    "alpha out of range": (["--alpha", "0"], ["expected a level between 0 and 1", "'0'"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gets_one_clear_paragraph(case, files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    args, expected = CASES[case]
    err = in_process([a.format(root=files) for a in args], capsys)
    for text in expected:
        assert text in err, err
    assert not (files / "nowhere").exists()  # an absent store is never created


@pytest.mark.parametrize("case", ["bogus scheme", "absent sqlite file"])
def test_the_command_line_says_it_without_a_traceback(case, files):
    args, expected = CASES[case]
    err = one_paragraph(leaderboard(*[a.format(root=files) for a in args], cwd=files))
    assert err.startswith("segbench.leaderboard: error: ")
    for text in expected:
        assert text in err, err
    assert not (files / "nowhere").exists()


def test_an_unwritable_output_folder_is_one_paragraph(files, tmp_path, capsys):
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("x")
    run = client.create_run(exp).info.run_id
    client.log_batch(run, metrics=[Metric("silhouette", 0.5, 0, 0)], params=[Param("seed", "1")])
    client.set_terminated(run)
    err = one_paragraph(
        leaderboard("--tracking-uri", uri, "--out", f"{files}/a_file/sub", cwd=files)
    )
    assert "--out" in err and "expected a folder the leaderboard can write into" in err


def test_the_command_and_the_statistics_share_the_noise_default():
    assert MAX_NOISE == STATS_MAX_NOISE
