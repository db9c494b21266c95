"""Tuning with Optuna inside a run (segbench.tuning), on the toy and synthetic datasets.

Most tests call :func:`tune_segmentation` inside a tracked run (what the experiment does);
one goes through the whole run (``segbench.api.run``) and reads the MLflow store back.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from segbench.api import run, settings
from segbench.configs import CONFIG_DIR
from segbench.datasets import load_dataset
from segbench.errors import ConfigError, SegbenchError
from segbench.experiment import build_features, scorer, study_spec
from segbench.leaderboard.store import is_trial
from segbench.tracking import tracked_run
from segbench.tuning import parse_objectives, tune_segmentation
from segbench.tuning.study import study_name

TOY = ["dataset._target_=toydata.ToyDataset", "dataset.name=toy", "dataset.n_customers=300"]
QUIET = ["blocks.text.progress=false", "tune=optuna", "tune.progress=none"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One MLflow store for the module (creating one costs seconds); runs differ by id."""
    return f"sqlite:///{tmp_path_factory.mktemp('tuning-store') / 'mlflow.db'}"


def config(uri: str, *more: str, dataset: list[str] = TOY):
    return settings([*dataset, f"tracking.uri={uri}", *QUIET, *more])


def tune(cfg):
    """What the experiment's tune branch does, without the rest of the run."""
    data = load_dataset(cfg.dataset)
    pipeline, features = build_features(cfg, data)
    with tracked_run(cfg.tracking.uri, cfg.tracking.experiment) as tracker:
        tuned = tune_segmentation(study_spec(cfg), scorer(cfg), data, features, tracker, pipeline)
    return tuned, tracker.run_id


def artifact(uri: str, run_id: str, path: str) -> Path:
    return Path(
        mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, tracking_uri=uri)
    )


def children(uri: str, run_id: str):
    client = MlflowClient(uri)
    experiment = client.get_run(run_id).info.experiment_id
    return client.search_runs(
        [experiment], f"tags.mlflow.parentRunId = '{run_id}'", max_results=1000
    )


def test_a_tuned_run_logs_each_trial_as_a_child_and_the_refit_on_the_parent(store):
    result = run(
        [
            *TOY,
            f"tracking.uri={store}",
            *QUIET,
            "features=demographics",
            "algo=kmeans",
            "algo.search_space.n_clusters.high=8",
            "tune.n_trials=10",
        ]
    )
    client = MlflowClient(store)
    parent = client.get_run(result.run_id)
    assert parent.info.status == "FINISHED"
    m, params, tags = parent.data.metrics, parent.data.params, parent.data.tags
    # silhouette on the toy demographics peaks at the 3 planted groups; the run's params hold
    # the refit's value, the configured one is the baseline
    assert params["algo.n_clusters"] == "3" and m["n_segments"] == 3
    assert params["baseline.algo.n_clusters"] == "6" and "best.algo.n_clusters" not in params
    assert params["algo.search_space.n_clusters.high"] == "8" and params["tune.n_trials"] == "10"
    assert m["best.silhouette"] == pytest.approx(m["silhouette"])  # the refit is the trial
    assert m["ari"] > 0.9 and "baseline.silhouette" in m and "baseline.ari" in m
    assert "best.ari" not in m  # a trial computes its objectives only (silhouette here)
    # 7 points (k = 2..8): each evaluated once at most; a trial that drew an evaluated point
    # took its result without a fit, a run or a count
    assert m["tune.n_trials"] <= 7 and m["tune.n_trials_run"] > m["tune.n_trials"]
    assert m["tune.n_repeats"] == m["tune.n_trials_run"] - m["tune.n_trials"]
    assert m["tune.n_complete"] + m["tune.n_infeasible"] == m["tune.n_trials"]
    assert tags["segbench.tune.objectives"] == "silhouette:max"
    kids = children(store, result.run_id)
    assert len(kids) == m["tune.n_trials"]
    ks = [kid.data.params["algo.n_clusters"] for kid in kids]
    assert len(set(ks)) == len(ks)  # no point evaluated twice
    for kid in kids:
        assert kid.data.tags["segbench.role"] == "trial"
        assert kid.data.tags["segbench.trial_state"] == "COMPLETE"
        assert kid.info.status == "FINISHED"
        assert "algo.n_clusters" in kid.data.params and "silhouette" in kid.data.metrics
    # the leaderboard reads the job's run and skips its trials
    assert not is_trial(parent, set()) and all(is_trial(k, set()) for k in kids)
    best = next(k for k in kids if k.info.run_id == tags["segbench.tune.best_run_id"])
    assert best.data.metrics["silhouette"] == pytest.approx(m["best.silhouette"])
    files = {a.path for a in client.list_artifacts(result.run_id, "tune")}
    assert {
        "tune/trials.csv",
        "tune/optimization_history.png",
        "tune/param_importances.csv",
        "tune/param_importances.png",
        "tune/slice.png",
    } <= files
    assert "tune/contour.png" not in files  # one parameter: no pair to draw
    trials = pd.read_csv(artifact(store, result.run_id, "tune/trials.csv"))
    assert len(trials) == m["tune.n_trials_run"]
    evaluated = trials[trials["repeats"].isna()]
    assert set(evaluated["mlflow_run_id"]) == {k.info.run_id for k in kids}
    repeats = trials[trials["repeats"].notna()]
    assert repeats["mlflow_run_id"].isna().all()
    first = evaluated.set_index("number")
    for _, row in repeats.iterrows():  # the result of the trial it repeats
        original = first.loc[int(row["repeats"])]
        assert row["params.algo.n_clusters"] == original["params.algo.n_clusters"]
        assert row["metrics.silhouette"] == original["metrics.silhouette"]
    assert trials.loc[trials["metrics.silhouette"].idxmax(), "params.algo.n_clusters"] == 3


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` dominates ``b`` (both already oriented so that larger is better)."""
    return bool((a >= b).all() and (a > b).any())


def test_a_multi_objective_study_logs_only_non_dominated_trials_in_its_pareto_front(
    store,
):
    cfg = config(
        store,
        "features=rfm+demographics",
        "algo=gmm",
        "tune.n_trials=14",
        "tune.objectives=[silhouette:max,davies_bouldin:min]",
        "tune.sampler=nsgaii",
        "+tune.sampler_options.population_size=6",
        "algo.n_init=1",
    )
    tuned, run_id = tune(cfg)
    trials = pd.read_csv(artifact(store, run_id, "tune/trials.csv"))
    front = pd.read_csv(artifact(store, run_id, "tune/pareto_front.csv"))
    complete = trials[(trials["state"] == "COMPLETE") & trials["repeats"].isna()]
    oriented = complete[["metrics.silhouette", "metrics.davies_bouldin"]].to_numpy() * [1, -1]
    numbers = complete["number"].to_numpy()
    non_dominated = {
        int(n)
        for n, row in zip(numbers, oriented, strict=True)
        if not any(dominates(other, row) for other in oriented)
    }
    assert set(front["number"]) == non_dominated  # only, and all, the non-dominated trials
    assert front["selected"].sum() == 1
    chosen = int(front.loc[front["selected"], "number"].iloc[0])
    assert tuned.metrics["tune.best_trial"] == chosen
    assert tuned.metrics["tune.n_pareto"] == len(front)
    row = complete.set_index("number").loc[chosen]
    assert tuned.metrics["silhouette"] == pytest.approx(row["metrics.silhouette"])
    files = {a.path for a in MlflowClient(store).list_artifacts(run_id, "tune")}
    assert {
        "tune/pareto_front.png",
        "tune/slice_silhouette.png",
        "tune/slice_davies_bouldin.png",
        "tune/contour_silhouette.png",  # two parameters: n_components × covariance_type
        "tune/contour_davies_bouldin.png",
    } <= files


def test_infeasible_trials_are_pruned_with_their_reason_not_scored(store):
    cfg = config(
        store,
        "features=demographics",
        "algo=dbscan",
        "tune.n_trials=12",
        "tune.max_noise_fraction=0.2",
        "tune.sampler=random",
        "algo.search_space.eps.low=0.01",
        "algo.search_space.eps.high=20",
    )
    tuned, run_id = tune(cfg)
    trials = pd.read_csv(artifact(store, run_id, "tune/trials.csv"))
    infeasible = trials[trials["state"] == "INFEASIBLE"]
    assert len(infeasible) >= 1 and tuned.metrics["tune.n_infeasible"] == len(infeasible)
    assert infeasible["reason"].str.contains("segment|noise fraction").all()
    # an infeasible trial has no objective value, even where a silhouette could be computed
    kids = children(store, run_id)
    marked = [k for k in kids if k.data.tags["segbench.trial_state"] == "INFEASIBLE"]
    assert len(marked) == len(infeasible)
    assert all(k.data.tags["segbench.infeasible"] for k in marked)
    assert tuned.metrics["noise_fraction"] <= 0.2 and tuned.metrics["n_segments"] >= 2


def test_a_study_with_no_feasible_trial_fails_with_the_reasons(store):
    cfg = config(
        store,
        "features=demographics",
        "algo=dbscan",
        "tune.n_trials=4",
        "algo.search_space.eps.low=50",
        "algo.search_space.eps.high=100",
        "tune.log_trials=false",
        "tune.baseline=false",
    )
    with pytest.raises(SegbenchError, match=r"no feasible trial.*4× found 1 segment"):
        tune(cfg)


def trial_params(uri: str, seed: int) -> list[dict]:
    cfg = config(
        uri,
        "features=demographics",
        "algo=dbscan",
        "tune.n_trials=6",
        f"seed={seed}",
        "tune.log_trials=false",
        "tune.baseline=false",
        "tracking.log_plots=false",
    )
    _, run_id = tune(cfg)
    trials = pd.read_csv(artifact(uri, run_id, "tune/trials.csv"))
    return trials.filter(like="params.").to_dict("records")


def test_the_same_seed_gives_the_same_trials_and_another_seed_other_trials(store):
    first = trial_params(store, seed=3)
    assert trial_params(store, seed=3) == first
    assert trial_params(store, seed=4) != first


def test_an_unknown_objective_is_refused_at_composition_with_the_closest_name(store):
    with pytest.raises(ConfigError, match=r"'silhouete' is not a metric.*Did you mean silhouette"):
        config(store, "features=demographics", "tune.objectives=[silhouete:max]")
    with pytest.raises(ConfigError, match=r"'weird_metric' is not a metric segbench scores"):
        config(store, "features=demographics", "tune.objectives=[weird_metric]")


def test_an_objective_the_data_cannot_give_is_refused_before_any_trial(store):
    """Names whose availability depends on the data pass composition; the study refuses them
    before any trial runs (no trial in the study, no child run)."""
    for objective, expected in (
        ("fairness.religion.balance:max", r"sensitive attribute 'religion'.*audited.*gender"),
        ("bic:min", r"bic is a model score that KMeans does not have"),
    ):
        cfg = config(store, "features=demographics", f"tune.objectives=[{objective}]")
        with pytest.raises(ConfigError, match=expected):
            tune(cfg)
    cfg = config(
        store, "features=demographics", "tune.objectives=[ari]", "evaluation.external=false"
    )
    with pytest.raises(ConfigError, match=r"not scored with evaluation\.external=false"):
        tune(cfg)


def test_the_grid_sampler_refuses_a_continuous_space_and_walks_a_finite_one(store):
    # found when the settings are resolved, before any work
    with pytest.raises(ConfigError, match=r"finite search space.*algo.dbscan|algo.eps"):
        tune(config(store, "features=demographics", "algo=dbscan", "tune.sampler=grid"))
    cfg = config(
        store,
        "features=demographics",
        "tune.sampler=grid",
        "tune.n_trials=20",
        "algo.search_space.n_clusters.high=5",
        "tune.log_trials=false",
    )
    tuned, run_id = tune(cfg)
    trials = pd.read_csv(artifact(store, run_id, "tune/trials.csv"))
    assert sorted(trials["params.algo.n_clusters"]) == [2, 3, 4, 5]  # every point once, then stop
    assert tuned.metrics["tune.n_trials"] == 4


def test_a_sqlite_study_resumes_up_to_the_requested_total(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative storage path resolves against the launch directory
    common = [
        "features=demographics",
        "tune.storage=sqlite:///study.db",
        "tune.sampler=random",
        "+algo.search_space.tol={type:float,low:1e-6,high:1e-2,log:true}",
        "tune.baseline=false",
        "tracking.log_plots=false",
    ]
    first, first_id = tune(config(store, *common, "tune.n_trials=3"))
    assert (tmp_path / "study.db").exists()
    assert first.metrics["tune.n_trials"] == 3 and first.metrics["tune.n_trials_run"] == 3
    second, run_id = tune(config(store, *common, "tune.n_trials=5"))
    assert second.metrics["tune.n_trials"] == 5 and second.metrics["tune.n_trials_run"] == 2
    assert len(children(store, run_id)) == 2  # this run's trials only
    trials = pd.read_csv(artifact(store, run_id, "tune/trials.csv"))
    assert list(trials["number"]) == [0, 1, 2, 3, 4]
    # the resumed run continues the seeded sequence instead of repeating its first draws
    tol = trials["params.algo.tol"]
    assert not set(tol[3:]) & set(tol[:3])
    third, _ = tune(config(store, *common, "tune.n_trials=5"))
    assert third.metrics["tune.n_trials"] == 5 and third.metrics["tune.n_trials_run"] == 0
    extra, _ = tune(config(store, *common, "tune.n_trials=2", "tune.budget=run"))
    assert extra.metrics["tune.n_trials"] == 7 and extra.metrics["tune.n_trials_run"] == 2
    # other objectives get another study by default; named explicitly, the study refuses them
    name = MlflowClient(store).get_run(first_id).data.tags["segbench.tune.study_name"]
    other = ["tune.objectives=[davies_bouldin:min]", "tune.n_trials=1"]
    assert tune(config(store, *common, *other))[0].metrics["tune.n_trials"] == 1
    with pytest.raises(ConfigError, match=r"made for another setup.*objectives"):
        tune(config(store, *common, *other, f"tune.study_name={name}"))


def test_a_refit_only_run_adds_no_trial_and_refits_the_stored_choice(store, tmp_path, monkeypatch):
    # the benchmark's `tuned` condition: the selection stopped short of its budget (k-means'
    # one-dimensional space converges); an evaluation run at another seed must not add trials
    monkeypatch.chdir(tmp_path)
    common = [
        "features=demographics",
        "tune.storage=sqlite:///study.db",
        "tune.study_name=protocol",
        "tune.log_trials=false",
        "tracking.log_plots=false",
    ]
    chosen, _ = tune(config(store, *common, "tune.n_trials=3", "seed=0"))
    refit, _ = tune(config(store, *common, "tune.n_trials=10", "tune.refit_only=true", "seed=4"))
    assert refit.metrics["tune.n_trials_run"] == 0
    assert refit.metrics["tune.n_trials"] == 3  # the study as the selection left it
    assert refit.values == chosen.values
    # a tuned run's params say whether its study started at the configured values
    from segbench.tracking.params import run_params

    assert run_params(config(store, *common))["tune.start_at_configured"] in (True, "True")
    with pytest.raises(
        ConfigError, match=r"refit_only=true: expected the study 'empty'.*found none"
    ):
        tune(
            config(
                store,
                *common[:1],
                "tune.storage=sqlite:///other.db",
                "tune.study_name=empty",
                "tune.refit_only=true",
                "tune.log_trials=false",
            )
        )


def test_the_default_study_name_follows_the_setup_not_the_tuning_options():
    def name(*more: str) -> str:
        cfg = config("sqlite:///unused.db", "features=demographics", *more)
        return study_name(study_spec(cfg), parse_objectives(cfg.tune.objectives))

    same = name()
    assert same.startswith("segbench.toy.demographics.kmeans.")
    assert name("tune.n_trials=99", "tune.sampler=random", "tune.budget=run") == same
    assert name("blocks.text.progress=true", "tune.storage=sqlite:///x.db") == same
    assert name("tune.heartbeat_interval=5", "tune.timeout=60", "tune.baseline=false") == same
    for changed in (
        "seed=7",
        "preprocess=pca",
        "tune.objectives=[davies_bouldin:min]",
        "algo.n_init=1",
        "dataset.n_customers=301",
        "algo.search_space.n_clusters.high=20",  # another space: another study
        "+tune.search_space.preprocess.scaler={type:categorical,choices:[standard,robust]}",
        "tune.max_noise_fraction=0.1",
    ):
        assert name(changed) != same, changed
    assert name("tune.study_name=mine") == "mine"


def test_a_time_budget_stops_starting_trials(store):
    cfg = config(
        store,
        "features=demographics",
        "tune.n_trials=500",
        "tune.timeout=2",
        "tune.log_trials=false",
        "tracking.log_plots=false",
    )
    tuned, _ = tune(cfg)
    assert 1 <= tuned.metrics["tune.n_trials_run"] < 500
    assert tuned.metrics["tune.seconds"] < 30


def test_a_search_space_can_cover_preprocessing_and_the_refit_uses_the_best_features(
    store,
):
    cfg = config(
        store,
        "features=rfm+demographics",
        "preprocess=pca",
        "tune.n_trials=8",
        "+tune.search_space.preprocess.n_components={type:int,low:2,high:5}",
        "algo.search_space.n_clusters.high=6",
        "tracking.log_plots=false",
    )
    tuned, _ = tune(cfg)
    assert tuned.values["preprocess.n_components"] in range(2, 6)
    best = tuned.values["preprocess.n_components"]
    assert tuned.features.shape[1] == best  # the refit's features, not the run's own
    assert tuned.pipeline is not None and tuned.pipeline.n_components == best
    assert 1 <= tuned.metrics["tune.feature_builds"] <= 4  # cached by value: one per value


def test_a_feature_value_of_an_unused_block_cannot_be_tuned(store):
    with pytest.raises(ConfigError, match="block 'text' is not used by features=rfm"):
        config(
            store,
            "features=rfm",
            "+tune.search_space.blocks.text.pca_components={type:int,low:2,high:8}",
        )


def test_kmeans_tuned_on_silhouette_finds_the_planted_number_of_synthetic_segments(
    store,
):
    """Six planted segments, recoverable from RFM + demographics (``noise=0``, demographics
    tied to the segment). On the default synthetic settings silhouette prefers fewer segments
    (the planted ones overlap by design), so this is the setting where the truth is findable.
    """
    synthetic = [
        "dataset=synthetic",
        "dataset.n_customers=2000",
        "dataset.noise=0",
        "dataset.demographic_strength=1",
    ]
    cfg = config(
        store,
        "features=rfm+demographics",
        "algo=kmeans",
        "tune.n_trials=15",
        "tune.log_trials=false",
        "tracking.log_plots=false",
        dataset=synthetic,
    )
    tuned, _ = tune(cfg)
    assert abs(tuned.metrics["n_segments"] - 6) <= 1
    assert tuned.metrics["ari"] > 0.8  # and they are the planted segments


def test_a_fairness_aware_algorithm_is_tuned_on_a_fairness_objective(store):
    cfg = config(
        store,
        "features=rfm+demographics",
        "algo=fair_kmeans",
        "algo.search_space.n_clusters.high=5",
        "tune.n_trials=4",
        "tune.objectives=[silhouette:max,fairness.gender.balance:max]",
        "tune.log_trials=false",
        "tracking.log_plots=false",
    )
    tuned, _ = tune(cfg)  # the sensitive attributes reach every trial's fit
    assert tuned.metrics["tune.n_complete"] == 4
    assert tuned.metrics["fairness.gender.balance"] >= 0.3 - 1e-9


ALGOS = sorted(p.stem for p in (CONFIG_DIR / "algo").glob("*.yaml"))


@pytest.mark.parametrize("algo", ALGOS)
def test_every_algorithm_can_be_tuned_over_its_own_search_space(store, algo):
    cfg = config(
        store,
        "features=demographics",
        f"algo={algo}",
        "tune.n_trials=6",
        "tune.sampler=random",
        "tune.max_noise_fraction=1.0",
        "tune.log_trials=false",
        "tune.baseline=false",
        "tracking.log_plots=false",
    )
    tuned, _ = tune(cfg)  # every space holds feasible points: six seeded draws find one
    assert tuned.metrics["tune.n_failed"] == 0
    assert tuned.metrics["tune.n_complete"] >= 1


def test_a_trial_computes_only_its_objectives(store):
    # the toy data has ground truth and a sensitive attribute: a run scores ari and fairness,
    # a trial of a davies_bouldin study computes davies_bouldin and what feasibility needs
    cfg = config(
        store, "features=demographics", "tune.n_trials=4", "tune.objectives=[davies_bouldin:min]"
    )
    tuned, run_id = tune(cfg)
    kids = children(store, run_id)
    assert kids
    for kid in kids:
        assert set(kid.data.metrics) == {
            "davies_bouldin",
            "n_segments",
            "noise_fraction",
            "fit_seconds",
        }
    # the refit is scored in full: the run's metrics are every metric of a run
    assert {"silhouette", "ari", "calinski_harabasz", "fairness.gender.balance"} <= set(
        tuned.metrics
    )
    assert "baseline.fairness.gender.balance" in tuned.metrics
    # a fairness objective computes that one metric of that one attribute
    score = scorer(cfg).for_metrics(["fairness.gender.silhouette_gap"])
    data = load_dataset(cfg.dataset)
    _, features = build_features(cfg, data)
    from segbench.algorithms import fit_segmentation

    metrics, _ = score(features, data, fit_segmentation(cfg.algo, features.X))
    assert set(metrics) == {
        "fairness.gender.silhouette_gap",
        "n_segments",
        "noise_fraction",
        "fit_seconds",
    }


def first_trial(uri: str, run_id: str) -> dict:
    trials = pd.read_csv(artifact(uri, run_id, "tune/trials.csv"))
    return trials.sort_values("number").filter(like="params.").iloc[0].to_dict()


def test_the_configured_values_are_the_first_trial_so_tuning_never_loses_to_them(store):
    # HDBSCAN's configured min_cluster_size and min_samples are "auto": the first trial holds
    # what the baseline fit resolved them to (2 % of the 300 customers, at least 5), and the
    # refit scores at least the baseline on the objective
    common = ["features=demographics", "algo=hdbscan", "tune.n_trials=3", "seed=1"]
    tuned, run_id = tune(config(store, *common))
    first = first_trial(store, run_id)
    assert first["params.algo.min_cluster_size"] == 6
    assert first["params.algo.min_samples"] == 6
    assert first["params.algo.cluster_selection_method"] == "eom"
    assert tuned.metrics["silhouette"] >= tuned.metrics["baseline.silhouette"] - 1e-12
    # switched off, the sampler draws the first trial
    _, run_id = tune(config(store, *common, "tune.start_at_configured=false"))
    assert first_trial(store, run_id) != first


def test_configured_values_outside_the_search_space_are_not_queued(store, caplog):
    cfg = config(
        store,
        "features=demographics",
        "algo.n_clusters=6",
        "algo.search_space.n_clusters.high=4",
        "tune.n_trials=2",
        "tune.sampler=random",
        "tune.log_trials=false",
    )
    with caplog.at_level("INFO", logger="segbench.tuning.tuner"):
        _, run_id = tune(cfg)
    assert "not queued as a trial, one is outside the search space (algo.n_clusters=6)" in (
        caplog.text
    )
    trials = pd.read_csv(artifact(store, run_id, "tune/trials.csv"))
    assert trials["params.algo.n_clusters"].between(2, 4).all()
