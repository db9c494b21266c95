"""The launcher presets of ``conf/hydra/launcher/``: SLURM through submitit, and an existing
Ray cluster with its workarounds (hydra #2893, Ray 2.60's token authentication).

- SLURM does not run here: the ``slurm`` preset is checked up to the submission, with an
  ``sbatch`` on the PATH that keeps the script it is given and refuses it (and an ``srun``,
  which submitit looks for). That also shows a launcher failure ending the sweep cleanly.
- Ray runs for real: a head node started here (``ray start --head``, token authentication on)
  and a sweep sent to it by address, from the Ray environment ``make ray-env`` builds
  (``SEGBENCH_RAY_PYTHON``, which ``.ci/run`` exports). The test is skipped only when that
  variable is unset; set but broken, it fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from process_helpers import QUICK, environment, finish, query, start, statuses

pytestmark = pytest.mark.slow

SBATCH = """#!/bin/sh
cp "$1" "{record}"
echo "sbatch: error: not a SLURM cluster (segbench test: script recorded)" >&2
exit 1
"""
SRUN = """#!/bin/sh
echo "srun: not a SLURM cluster (segbench test)" >&2
exit 1
"""


def test_the_slurm_preset_submits_what_it_says(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "submitted.sh"
    for name, text in (("sbatch", SBATCH.format(record=record)), ("srun", SRUN)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    proc = start(
        tmp_path,
        "-m",
        "hydra/launcher=slurm",
        "hydra.launcher.partition=cpu",
        "hydra.launcher.account=segmentation",
        "hydra.launcher.array_parallelism=1",
        "algo.n_clusters=3,4",
        *QUICK,
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    )
    code, out, err = finish(proc)
    script = record.read_text()
    for line in (
        "#SBATCH --partition=cpu",
        "#SBATCH --account=segmentation",
        "#SBATCH --time=120",
        "#SBATCH --mem=16GB",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --array=0-1%1",
        "export SEGBENCH_CACHE_DIR=/tmp/segbench-cache-$USER",
        "export HF_HUB_OFFLINE=1",
    ):
        assert line in script, script
    # the submission failed: one paragraph, a FAILED parent, nothing left RUNNING
    assert code == 1 and "Traceback" not in err
    assert "segbench: error: the launcher failed: FailedJobError: sbatch: error" in err
    assert "sweep: 2 job(s), 2 not run; parent run" in out
    assert statuses(tmp_path / "mlflow.db") == {"FAILED": 1}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_python() -> Path:
    """The Python of the Ray environment (``make ray-env``)."""
    given = os.environ.get("SEGBENCH_RAY_PYTHON")
    if not given:
        pytest.skip("SEGBENCH_RAY_PYTHON is not set (.ci/run sets it after `make ray-env`)")
    python = Path(given)
    done = subprocess.run(
        [str(python), "-c", "import ray, hydra_plugins.hydra_ray_launcher, segbench"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        pytest.fail(f"SEGBENCH_RAY_PYTHON={given} cannot run the Ray launcher: {done.stderr}")
    return python


def test_a_sweep_on_an_existing_ray_cluster_with_token_auth_nests_its_jobs(tmp_path, ray_python):
    token = tmp_path / "ray_token"
    token.write_text(secrets.token_hex(32))
    port = free_port()
    ray_env = {"RAY_AUTH_TOKEN_PATH": str(token), "RAY_USAGE_STATS_ENABLED": "0"}
    # Ray's socket paths must stay short (a Unix socket path has at most 107 characters)
    ray_dir = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    head = subprocess.Popen(
        [str(ray_python.with_name("ray")), "start", "--head", "--block", f"--port={port}",
         "--num-cpus=2", "--include-dashboard=false", f"--temp-dir={ray_dir}"],
        env=environment(RAY_AUTH_MODE="token", **ray_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while True:  # the head is up when its GCS port answers
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Ray head did not start: {head.communicate()[0][-3000:]}")
            time.sleep(1)
        # an explicit address and a token, but no RAY_AUTH_MODE: the preset's job
        sweep = subprocess.Popen(
            [str(ray_python), "-m", "segbench", "-m", "hydra/launcher=ray_cluster",
             "features=rfm,rfm+nope", *QUICK],
            cwd=tmp_path,
            env=environment(RAY_ADDRESS=f"127.0.0.1:{port}", **ray_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        code, out, err = finish(sweep)
    finally:
        if head.poll() is None:
            os.killpg(head.pid, signal.SIGTERM)
            head.wait(timeout=120)
        shutil.rmtree(ray_dir, ignore_errors=True)
    assert code == 1, err[-3000:]
    assert "Connecting to existing Ray cluster" in err + out
    assert "sweep: 2 job(s), 1 FINISHED, 1 FAILED" in out
    assert "(_run_job pid=" in out + err  # the jobs ran in Ray workers
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    ((parent,),) = query(
        tmp_path / "mlflow.db", "select run_uuid from tags where key = 'segbench.role'"
    )
    kids = client.search_runs(
        [client.get_run(parent).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent}'",
    )
    assert sorted(k.info.status for k in kids) == ["FAILED", "FINISHED"]
    assert "RUNNING" not in statuses(tmp_path / "mlflow.db")
    # the jobs wrote into this sweep's own folder, not the Ray worker's working directory
    sweep_dir = Path(client.get_run(parent).data.tags["segbench.sweep_dir"])
    assert sweep_dir.is_relative_to(tmp_path) and (sweep_dir / "0" / ".hydra").is_dir()
