"""A built wheel ships the configs (presets included) inside the package and runs from them."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_wheel_ships_configs_and_runs_from_them(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("segbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "src" / "segbench"
    conf = {str(p.relative_to(package)) for p in (package / "conf").rglob("*.yaml")}
    assert conf and {f"segbench/{c}" for c in conf} <= names
    assert "segbench/conf/experiment/quick.yaml" in names
    for template in ("leaderboard.html.j2", "leaderboard.md.j2"):  # the leaderboard's pages
        assert f"segbench/leaderboard/templates/{template}" in names
    # the sweeper plugin (Hydra loads plugins from the hydra_plugins package only)
    assert "hydra_plugins/segbench_sweeper/segbench_sweeper.py" in names
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
    )
    env = dict(os.environ, PYTHONPATH=str(site))

    def segbench(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "segbench", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )

    code = "import segbench.configs as c; print(c.config_dir())"
    where = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where == str(site / "segbench" / "conf")
    done = segbench("--cfg", "job", "algo=gmm")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "_target_: segbench.algorithms.mixture.ParallelGaussianMixture" in done.stdout
    preset = segbench("--cfg", "job", "experiment=quick")
    assert preset.returncode == 0, preset.stderr[-2000:]
    assert "study: quick" in preset.stdout
