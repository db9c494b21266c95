"""Experiment presets (conf/experiment/*.yaml) and study cells (conf/cell/*.yaml) compose."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode

from segbench.api import settings
from segbench.configs import CONFIG_DIR, register
from segbench.configs import compose as compose_config
from segbench.leaderboard.__main__ import main as leaderboard_main
from segbench.leaderboard.store import read_runs_csv

ROOT = Path(__file__).resolve().parents[1]
ALGORITHMS = sorted(p.stem for p in (CONFIG_DIR / "algo").glob("*.yaml"))


def sweep_grid(preset: str) -> dict[str, list[str]]:
    """The preset's hydra.sweeper.params, parsed by Hydra's own override parser."""
    register()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"experiment={preset}"], return_hydra_config=True)
    assert cfg.hydra.mode == RunMode.MULTIRUN
    parsed = OverridesParser.create().parse_overrides(
        [f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()]
    )
    return {
        o.key_or_group: list(o.sweep_string_iterator())
        if o.is_sweep_override()
        else [str(o.value())]
        for o in parsed
    }


def test_presets_and_cells_are_plain_config_groups():
    names = {p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml")}
    assert {
        "quick",
        "benchmark",
        "benchmark_select",
        "online_retail_rfm_kmeans",
        "fcps_peer",
    } <= names
    assert len(list((CONFIG_DIR / "cell").glob("*.yaml"))) == 13


@pytest.mark.parametrize(
    "preset", ["quick", "benchmark", "benchmark_select", "online_retail_rfm_kmeans"]
)
def test_every_preset_resolves_to_valid_settings(preset):
    # benchmark_select is the selection stage of the study `benchmark`
    study = "benchmark" if preset == "benchmark_select" else preset
    assert settings([f"experiment={preset}"]).study == study


def test_the_lean_block_is_written_once_and_switches_the_extras_off():
    lean = settings(["extras=lean"])
    assert not (lean.tracking.log_model or lean.tracking.log_plots)
    assert not lean.fairness.proxy.enabled and not lean.analysis.assign.enabled
    full = settings([])
    assert full.tracking.log_model and full.fairness.proxy.enabled
    for preset in ("quick", "benchmark"):
        assert settings([f"experiment={preset}"]).analysis.personalisation.enabled is False


def test_quick_preset_composes_and_is_a_small_sweep():
    cfg = compose_config(["experiment=quick"])
    assert cfg.study == "quick" and cfg.dataset.name == "synthetic"
    assert cfg.dataset.n_customers == 1000
    assert cfg.tracking.experiment == "segbench-quick"
    grid = sweep_grid("quick")
    assert grid == {
        "features": ["rfm", "rfm+demographics"],
        "algo": ["kmeans", "gmm", "hdbscan"],
        "seed": ["1", "2"],
    }
    # a grid value overrides the preset like any command-line override
    assert compose_config(["experiment=quick", "algo=gmm"]).algo.name == "gmm"


def test_benchmark_is_the_protocol_grid_of_both_conditions_over_five_seeds():
    """The reference study (conf/experiment/benchmark.yaml): its cells × six algorithms ×
    the conditions defaults and tuned × seeds 1-5; benchmark_select: the same cells and
    algorithms at seed 0 in the select condition."""
    grid = sweep_grid("benchmark")
    assert sorted(grid["algo"]) == sorted(set(ALGORITHMS) - {"fair_kmeans"})
    assert grid["seed"] == ["1", "2", "3", "4", "5"]
    assert grid["condition"] == ["defaults", "tuned"]
    cells = grid["cell"]
    assert {c.split("__")[0] for c in cells} == {
        "synthetic",
        "online_retail",
        "marketing_campaign",
        "mall_customers",
    }
    assert len(cells) * len(grid["algo"]) * 2 * 5 == 300
    select = sweep_grid("benchmark_select")
    assert select["cell"] == cells and select["algo"] == grid["algo"]
    assert select["condition"] == ["select"] and select["seed"] == ["0"]
    for cell in cells:
        dataset, features = cell.split("__")
        cfg = compose_config(["experiment=benchmark", f"+cell={cell}"])
        assert cfg.dataset.name == dataset, cell
        assert cfg.features == features, cell
        assert cfg.study == "benchmark"
    clothing = compose_config(["experiment=benchmark", "+cell=clothing_reviews__text"])
    assert clothing.algo.max_customers >= 22641  # Ward's guard lifted for 22,641 reviews
    assert settings(["experiment=benchmark", "+cell=clothing_reviews__text"]).features == "text"


@pytest.mark.slow
def test_quick_preset_runs_from_the_command_line_and_feeds_the_leaderboard(tmp_path):
    """The preset as a Hydra multirun (grid narrowed, toy data), then the leaderboard by study."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path = [str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
    cmd = [
        sys.executable,
        "-m",
        "segbench",
        "experiment=quick",
        "dataset._target_=toydata.ToyDataset",
        "dataset.name=toy",
        "dataset.n_customers=300",
        f"tracking.uri={uri}",
        "tracking.log_model=false",
        "tracking.log_plots=false",
        "algo.n_clusters=3",
        "hydra.sweeper.params.features=rfm",
        "hydra.sweeper.params.algo=kmeans",
        f"hydra.sweep.dir={tmp_path / 'multirun'}",
    ]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sweep: 2 job(s), 2 FINISHED; parent run" in done.stdout
    out = tmp_path / "results"
    assert leaderboard_main(["--tracking-uri", uri, "--study", "quick", "--out", str(out)]) == 0
    runs = read_runs_csv(str(out / "leaderboard.csv"))
    assert len(runs) == 2 and set(runs["params.seed"]) == {"1", "2"}
    assert "## toy · rfm" in (out / "leaderboard.md").read_text()
