"""Runs that compare well in the MLflow UI, and a quiet console (segbench.tracking.params,
segbench.tracking.outputs, segbench.tracking.console), against real SQLite stores.

What a researcher sees in the runs table: params that are the settings in effect (not the
whole config), a Dataset column (MLflow dataset input), run names that say what differs and
are never shared, a description, tuned runs marked with the refit's values; and on the
console, segbench's own lines and nothing else.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow.tracking import MlflowClient

from cli_helpers import all_runs, segbench, store
from datapaths import MALL, data_file
from segbench.api import run
from segbench.leaderboard.store import identity
from segbench.settings.identity import configured

TOY = ["dataset._target_=toydata.ToyDataset", "dataset.name=toy", "dataset.n_customers=300"]
LEAN = ["blocks.text.progress=false", "tracking.log_plots=false", "tracking.log_model=false"]


def toy_run(uri: str, *more: str):
    return run([*TOY, f"tracking.uri={uri}", *LEAN, *more])


def test_params_are_the_settings_in_effect_and_the_config_stays_an_artifact(tracking_uri):
    result = toy_run(
        tracking_uri,
        "algo=kmeans",
        "features=rfm+demographics",
        "evaluation.stability.n_resamples=3",
    )
    client = MlflowClient(tracking_uri)
    params = client.get_run(result.run_id).data.params
    assert len(params) <= 30
    for key in ("seed", "features", "dataset.name", "dataset.n_customers", "algo.name"):
        assert key in params, key
    assert params["algo.n_clusters"] == "6" and params["algo.n_init"] == "10"
    assert {"blocks.rfm.weight", "blocks.demographics.weight", "preprocess.scaler"} <= set(params)
    assert params["analyses"] == "assign,k_selection,personalisation"
    # a setting changed from its default is shown; the defaults of judging sections are not
    assert params["evaluation.stability.n_resamples"] == "3"
    assert "evaluation.silhouette_sample_size" not in params
    for prefix in ("blocks.text.", "blocks.channels.", "tune.", "algo.search_space.", "tracking."):
        assert not any(k.startswith(prefix) for k in params), prefix
    assert not any(k.endswith(("_target_", ".description")) for k in params)
    local = mlflow.artifacts.download_artifacts(
        run_id=result.run_id, artifact_path="config.yaml", tracking_uri=tracking_uri
    )
    config = yaml.safe_load(Path(local).read_text())
    assert config["tracking"]["uri"] == tracking_uri and "text" in config["blocks"]


def test_params_tell_configurations_apart_and_reruns_together():
    """The leaderboard's identity over the params: every defining setting that differs from
    its default is a param, so runs of other settings never look like reruns."""
    from segbench.api import settings
    from segbench.tracking.params import run_params

    def key(*more: str) -> str:
        return identity(run_params(settings([*TOY, *more])))

    base = key()
    assert key("tracking.uri=sqlite:///elsewhere.db", "blas_threads=2") == base
    for changed in (
        "evaluation.stability.n_resamples=3",
        "fairness.proxy.cv=5",
        "analysis.personalisation.top_n=3",
        "privacy.min_cell_size=20",
        "algo.n_init=3",
        "extras=lean",
    ):
        assert key(changed) != base, changed


def test_a_run_is_numbered_from_the_newest_run_of_its_name(tracking_uri):
    from segbench.tracking.params import taken_names, unique_name

    client = MlflowClient(tracking_uri)
    experiment = client.create_experiment("naming")
    for name in ("kmeans · rfm", "kmeans · rfm #2", "kmeans · rfm · seed=3", "kmeans · rfm #7"):
        client.create_run(experiment, run_name=name)
    own = client.create_run(experiment, run_name="kmeans · rfm").info.run_id
    taken = taken_names(client, experiment, "kmeans · rfm", own)
    # the exact name and the newest numbered ones: a longer name is no clash, its own run none
    assert "kmeans · rfm" in taken and "kmeans · rfm #7" in taken
    assert "kmeans · rfm · seed=3" not in taken and len(taken) <= 3
    assert unique_name("kmeans · rfm", taken) == "kmeans · rfm #8"
    assert taken_names(client, experiment, "kmeans · rfm · seed=3", own) == [
        "kmeans · rfm · seed=3"
    ]
    assert taken_names(client, experiment, "gmm · rfm", own) == []


def test_run_names_say_what_differs_and_are_never_shared(tracking_uri):
    more = ["algo=kmeans", "features=rfm", "algo.n_clusters=4", "seed=3"]
    first = toy_run(tracking_uri, *more)
    again = toy_run(tracking_uri, *more)
    other = toy_run(tracking_uri, "algo=kmeans", "features=rfm", "preprocess=pca")
    client = MlflowClient(tracking_uri)
    names = [client.get_run(r.run_id).info.run_name for r in (first, again, other)]
    # the toy dataset's class is no difference worth a name; its size is
    assert names == [
        "kmeans · rfm · toy · n_customers=300 · n_clusters=4 · seed=3",
        "kmeans · rfm · toy · n_customers=300 · n_clusters=4 · seed=3 #2",
        "kmeans · rfm · toy · n_customers=300 · preprocess=pca",
    ]
    stored = client.get_run(first.run_id)
    tags = stored.data.tags
    assert tags["mlflow.source.name"] == "segbench"  # not __main__.py
    assert "algo.n_clusters=4" in tags["segbench.overrides"]
    assert tags["segbench.tuned"] == "false"
    description = tags["mlflow.note.content"]
    assert description.startswith("4 segments of 300 customers · silhouette")
    assert "silhouette" in description and "ARI" in description
    # the Dataset column: a generated dataset, named, fingerprinted, without any value
    (entry,) = stored.inputs.dataset_inputs
    assert entry.dataset.name == "toy"
    assert entry.dataset.digest == tags["segbench.dataset_fingerprint"]
    assert entry.dataset.source_type == "code" and "ToyDataset" in entry.dataset.source
    assert '"customers": 300' in entry.dataset.profile
    assert {t.key: t.value for t in entry.tags}["mlflow.data.context"] == "training"


@pytest.mark.realdata
def test_a_file_dataset_is_logged_with_its_file_as_source(tracking_uri):
    path = data_file(MALL)
    result = run(
        ["dataset=mall_customers", "features=demographics", f"tracking.uri={tracking_uri}", *LEAN]
    )
    (entry,) = MlflowClient(tracking_uri).get_run(result.run_id).inputs.dataset_inputs
    assert entry.dataset.name == "mall_customers" and entry.dataset.source_type == "local"
    assert str(path.resolve()) in entry.dataset.source
    assert entry.dataset.digest == result.data.meta.fingerprint


def test_a_tuned_run_is_marked_and_holds_the_refit_values(tracking_uri):
    result = toy_run(
        tracking_uri,
        "algo=kmeans",
        "features=demographics",
        "tune=optuna",
        "tune.n_trials=4",
        "tune.progress=none",
        "algo.search_space.n_clusters.high=5",
    )
    stored = MlflowClient(tracking_uri).get_run(result.run_id)
    params, tags = stored.data.params, stored.data.tags
    assert stored.info.run_name == (
        "kmeans · demographics · toy · n_customers=300 · search_space.n_clusters.high=5 · tuned ×4"
    )
    assert tags["segbench.tuned"] == "true"
    found = params["algo.n_clusters"]
    assert (
        found == str(int(result.metrics["n_segments"]))
        and params["baseline.algo.n_clusters"] == "6"
    )
    assert params["tune.objectives"] == "['silhouette:max']" and params["tune.sampler"] == "tpe"
    assert tags["mlflow.note.content"].count("Tuned: ") == 1
    assert (
        f"refit of trial {int(result.metrics['tune.best_trial'])}: n_clusters={found}"
        in (tags["mlflow.note.content"])
    )
    # the leaderboard reads a tuned run as configured: the found value gives way to the baseline
    assert configured(params)["algo.n_clusters"] == "6"
    rerun = {**params, "algo.n_clusters": "2"}  # the same setup finding another k
    assert identity(rerun) == identity(params)
    wider = {**params, "algo.search_space.n_clusters.high": "9"}
    assert identity(wider) != identity(params)


NOISE = ("Warning", "WARNING", "warn(", "INFO mlflow", "alembic", "Traceback", "[optuna]")


@pytest.mark.slow
def test_the_console_of_a_run_has_segbench_lines_only(tmp_path):
    """No warnings (their causes are fixed: the pyfunc model has type hints and an input
    example and is logged as code) and no library INFO chatter (a first run creates the
    store: MLflow's two database lines)."""
    done = segbench(tmp_path, *TOY, "algo=gmm", "features=rfm+text")
    assert done.returncode == 0, done.stderr[-3000:]
    console = done.stdout + done.stderr
    for word in NOISE:
        assert word not in console, (word, console[-3000:])
    assert "features: 300 customers" in console and "FINISHED in" in console
    (stored,) = all_runs(store(tmp_path))
    assert stored.data.tags["segbench.model_uri"].startswith("models:/")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model(stored.data.tags["segbench.model_uri"])
    example = model.input_example  # made up: no customer of the data
    assert set(example["customer_id"]) == {"example"}
    assert set(example["text"].dropna()) == {"example text"}
    assert set(example["description"].dropna()) == {"example product"}
    tuned = segbench(tmp_path, *TOY, "features=demographics", "tune=optuna", "tune.n_trials=3")
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    console = tuned.stdout + tuned.stderr
    for word in NOISE:
        assert word not in console, (word, console[-3000:])
    assert "trial 0 n_clusters=" in console  # each trial line shows its parameters


@pytest.mark.slow
def test_an_unknown_objective_fails_before_any_trial_without_a_traceback(tmp_path):
    typo = segbench(tmp_path, *TOY, "tune=optuna", "tune.objectives=[silhuette:max]")
    assert typo.returncode == 2
    assert "Did you mean silhouette" in typo.stderr and "Traceback" not in typo.stderr
    assert not (tmp_path / "mlflow.db").exists()  # refused at composition: no run at all
    attribute = segbench(
        tmp_path, *TOY, "tune=optuna", "tune.objectives=[fairness.religion.balance]"
    )
    assert attribute.returncode == 2
    console = attribute.stdout + attribute.stderr
    assert "needs the sensitive attribute 'religion'" in console
    assert "Traceback" not in console and "Trial 0" not in console and "trial 0" not in console
    (failed,) = all_runs(store(tmp_path))
    assert failed.info.status == "FAILED"
    assert "religion" in failed.data.tags["segbench.error"]
    children = store(tmp_path).search_runs(
        [failed.info.experiment_id], f"tags.mlflow.parentRunId = '{failed.info.run_id}'"
    )
    assert children == []  # no trial ran
