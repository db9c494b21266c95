"""The benchmark protocol: one selection study per cell × algorithm (budget, criterion), its
choice evaluated over seeds without new trials, defaults as a second condition, and a
leaderboard that never ranks two conditions together and says the protocol.

Real components: an MLflow SQLite store, an Optuna RDB storage, the presets of the reference
study (``experiment=benchmark`` with ``+condition=...``) on small synthetic data.
"""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from badinputs import QUICK
from segbench.api import run, settings
from segbench.errors import ConfigError
from segbench.evaluation.metrics import evaluate
from segbench.leaderboard import protocol
from segbench.leaderboard.__main__ import main as leaderboard_main
from segbench.leaderboard.store import load_runs

TRIALS = 4


def test_silhouette_all_counts_noise_customers_as_zero():
    X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2], [2.5], [2.6]])
    clean = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    noisy = np.array([0, 0, 0, 1, 1, 1, -1, -1])
    m_clean, _ = evaluate(X, clean)
    assert m_clean["silhouette_all"] == m_clean["silhouette"]
    m_noisy, _ = evaluate(X, noisy)
    # labelling the two hard customers noise raises the silhouette of the rest ...
    assert m_noisy["silhouette"] > m_clean["silhouette"]
    # ... and the criterion charges them: mean over all 8 customers, noise counting 0
    assert m_noisy["silhouette_all"] == pytest.approx(m_noisy["silhouette"] * 6 / 8)


def test_the_conditions_of_the_reference_study_compose():
    cell = ["experiment=benchmark", "+cell=synthetic__rfm", "algo=hdbscan"]
    tuned = settings([*cell, "+condition=tuned"])
    assert tuned.protocol.condition == "tuned" and tuned.tune.enabled
    assert tuned.tune.objectives == ["silhouette_all:max"]
    assert tuned.tune.n_trials == 10
    assert tuned.tune.study_name == "benchmark.synthetic.rfm.hdbscan"
    select = settings([*cell, "+condition=select"])
    # the same study: the budget, criterion, storage and name are the tuned condition's
    for key in ("n_trials", "objectives", "storage", "study_name", "sampler_options"):
        assert getattr(select.tune, key) == getattr(tuned.tune, key), key
    assert select.protocol.condition == "select" and select.fairness.name == "none"
    defaults = settings([*cell, "+condition=defaults"])
    assert defaults.protocol.condition == "defaults" and not defaults.tune.enabled
    assert settings(cell).protocol.condition == "none"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A small protocol study: kmeans selected at seed 0, evaluated at seeds 1 and 2 in both
    conditions; hdbscan evaluated `tuned` without a selection and with `tune.refit_only`
    switched off (so it tunes itself, which the leaderboard reports as a broken protocol)."""
    folder = tmp_path_factory.mktemp("protocol")
    common = [
        "experiment=benchmark",
        "+cell=synthetic__rfm",
        *QUICK,
        "dataset.n_customers=400",
        f"tune.n_trials={TRIALS}",
        f"tracking.uri=sqlite:///{folder / 'mlflow.db'}",
        f"tune.storage=sqlite:///{folder / 'optuna.db'}",
    ]
    results = {}
    for algo in ("kmeans",):
        results[algo, "select", 0] = run([*common, f"algo={algo}", "+condition=select", "seed=0"])
        for seed in (1, 2):
            for condition in ("tuned", "defaults"):
                results[algo, condition, seed] = run(
                    [*common, f"algo={algo}", f"+condition={condition}", f"seed={seed}"]
                )
    results["hdbscan", "tuned", 1] = run(
        [*common, "algo=hdbscan", "+condition=tuned", "seed=1", "tune.refit_only=false"]
    )
    return folder, results


def test_an_evaluation_without_a_selection_study_is_refused(tmp_path):
    # the tuned condition only refits (tune.refit_only): no selection study, no run of trials
    common = [
        "experiment=benchmark",
        "+cell=synthetic__rfm",
        *QUICK,
        "dataset.n_customers=400",
        f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
        f"tune.storage=sqlite:///{tmp_path / 'optuna.db'}",
    ]
    with pytest.raises(ConfigError, match=r"refit_only=true: expected the study "):
        run([*common, "algo=hdbscan", "+condition=tuned", "seed=1"])
    assert (
        len(
            optuna.load_study(
                study_name="benchmark.synthetic.rfm.hdbscan",
                storage=f"sqlite:///{tmp_path / 'optuna.db'}",
            ).get_trials()
        )
        == 0
    )


def _params(folder, run_id):
    from mlflow.tracking import MlflowClient

    data = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}").get_run(run_id).data
    return data.params, data.metrics


def test_the_evaluation_refits_the_selected_trial_at_its_seed_without_new_trials(study):
    folder, results = study
    storage = f"sqlite:///{folder / 'optuna.db'}"
    for algo, key in (("kmeans", "n_clusters"),):
        stored = optuna.load_study(study_name=f"benchmark.synthetic.rfm.{algo}", storage=storage)
        trials = stored.get_trials()
        selected, _ = _params(folder, results[algo, "select", 0].run_id)
        assert selected[f"algo.{key}"] == str(stored.best_trial.params[f"algo.{key}"])
        for seed in (1, 2):
            params, metrics = _params(folder, results[algo, "tuned", seed].run_id)
            assert params["protocol.condition"] == "tuned"
            assert params[f"algo.{key}"] == selected[f"algo.{key}"]  # the selected value
            assert params["algo.random_state"] == str(seed)  # refit at its own seed
            assert metrics["tune.n_trials_run"] == 0  # the study's budget was spent
            defaults, _ = _params(folder, results[algo, "defaults", seed].run_id)
            assert defaults["protocol.condition"] == "defaults"
            assert f"algo.search_space.{key}.type" not in defaults  # not tuned
        # the evaluation runs added nothing to the study
        again = optuna.load_study(study_name=f"benchmark.synthetic.rfm.{algo}", storage=storage)
        assert len(again.get_trials()) == len(trials)
    _, metrics = _params(folder, results["hdbscan", "tuned", 1].run_id)
    assert metrics["tune.n_trials_run"] > 0  # no selection study: it had to tune itself


def test_the_leaderboard_ranks_each_condition_on_its_own_and_says_the_protocol(study):
    folder, results = study
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    runs, _ = load_runs(uri, study="benchmark")
    groups, select = protocol.split(runs)
    assert set(groups) == {"tuned", "defaults"} and len(select) == 1
    out = folder / "results"
    assert leaderboard_main(["--tracking-uri", uri, "--study", "benchmark", "--out", str(out)]) == 0
    for condition, n_runs in (("tuned", 3), ("defaults", 2)):
        csv = pd.read_csv(out / condition / "leaderboard.csv")
        assert set(csv["params.protocol.condition"]) == {condition}
        assert len(csv) == n_runs
        page = (out / condition / "leaderboard.md").read_text()
        assert f"protocol condition **{condition}**" in page
        assert "seeds 1, 2 (2 seeds)" in page
        assert (out / condition / "leaderboard.html").read_text().count(condition) > 0
    tuned = (out / "tuned" / "leaderboard.md").read_text()
    assert f"**{TRIALS} trials**" in tuned and "`silhouette_all:max`" in tuned
    assert "kmeans: n_clusters int [2, 12]" in tuned
    # hdbscan's evaluation tuned on its own: named as breaking the protocol
    assert "1 evaluation run(s) ran trials of their own" in tuned
    assert results["hdbscan", "tuned", 1].run_id in tuned
    index = (out / "leaderboard.md").read_text()
    assert index.index("Condition `tuned`") < index.index("Condition `defaults`")
    selection = pd.read_csv(out / "selection.csv")
    assert list(selection["algorithm"]) == ["kmeans"]
    chosen, _ = _params(folder, results["kmeans", "select", 0].run_id)
    row = selection[selection["algorithm"] == "kmeans"].iloc[0]
    assert row["selected"] == f"n_clusters={chosen['algo.n_clusters']}"
    assert row["criterion"].startswith("silhouette_all ")


def test_outside_a_protocol_the_leaderboard_is_one_board():
    runs = pd.DataFrame({"params.seed": ["1", "2"]})
    assert protocol.split(runs)[0] == {}
    assert protocol.conditions(runs) == []
    none = pd.DataFrame({protocol.COLUMN: ["none", None]})
    assert protocol.split(none)[0] == {}
