"""Units of segbench.tuning without a run: search-space specs, objectives, the trade-off rule,
per-trial seeding and storage creation."""

from __future__ import annotations

import threading

import optuna
import pytest

from segbench.errors import ConfigError
from segbench.tuning.objectives import Objective, infeasibility, parse_objectives, select_trial
from segbench.tuning.space import Param
from segbench.tuning.study import TrialSeededSampler, open_storage


def test_param_specs_are_validated_with_the_path_in_the_message():
    assert Param.from_spec("algo.k", {"type": "int", "low": 2, "high": 5}).grid_values() == [
        2,
        3,
        4,
        5,
    ]
    eps = Param.from_spec("algo.eps", {"type": "float", "low": 0.1, "high": 0.5, "step": 0.1})
    assert eps.finite and eps.grid_values() == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert not Param.from_spec("algo.eps", {"type": "float", "low": 0.1, "high": 1}).finite
    bad = [
        ({"type": "integer", "low": 1, "high": 2}, "type must be one of"),
        ({"type": "int", "low": 5, "high": 2}, "low \\(5\\) is above high"),
        ({"type": "int", "low": 1, "high": 9, "lo": 1}, "unknown key"),
        ({"type": "float", "low": 0, "high": 1, "log": True}, "log range needs low > 0"),
        ({"type": "float", "low": 1, "high": 2, "log": True, "step": 0.5}, "cannot be combined"),
        ({"type": "int", "low": 1.5, "high": 3}, "low must be an int"),
        ({"type": "categorical", "choices": []}, "non-empty list"),
        ({"type": "categorical", "choices": [[1, 2]]}, "strings, numbers"),
    ]
    for spec, message in bad:
        with pytest.raises(ConfigError, match=f"'algo.x'.*{message}"):
            Param.from_spec("algo.x", spec)


def test_objectives_parse_names_with_dots_and_default_directions():
    objectives = parse_objectives(["silhouette:max", "fairness.gender.balance:max", "inertia"])
    assert [o.label for o in objectives] == [
        "silhouette:max",
        "fairness.gender.balance:max",
        "inertia:min",
    ]
    with pytest.raises(ConfigError, match="must be max or min"):
        parse_objectives(["silhouette:up"])
    with pytest.raises(ConfigError, match="names a metric twice"):
        parse_objectives("silhouette,silhouette:max")


def test_infeasibility_names_the_reason():
    objectives = [Objective("silhouette", "max")]
    assert "found 1 segment" in infeasibility({"n_segments": 1}, {}, objectives)
    noisy = {"n_segments": 3, "noise_fraction": 0.6, "silhouette": 0.5}
    assert "noise fraction 0.600" in infeasibility(noisy, {}, objectives, 2, 0.5)
    assert infeasibility(noisy, {}, objectives, 2, 0.7) is None
    assert "silhouette not computed" in infeasibility({"n_segments": 2}, {}, objectives)


def front() -> list[optuna.trial.FrozenTrial]:
    trials = []
    for number, values in enumerate([(0.6, 1.2), (0.5, 0.6), (0.3, 0.4)]):
        trial = optuna.trial.create_trial(values=list(values))
        trial.number = number
        trials.append(trial)
    return trials


def test_the_trade_off_rules_on_a_hand_computed_front():
    """Normalised over the front (1 = best): silhouette u = (1, 2/3, 0), davies_bouldin
    u = (0, 0.75, 1). Distances to (1, 1): 1, 0.417, 1 → knee = trial 1. Weighted 0.2/0.8:
    0.2, 0.733, 0.8 → trial 2; 0.8/0.2: 0.8, 0.683, 0.2 → trial 0. First objective: trial 0."""
    objectives = [Objective("silhouette", "max"), Objective("davies_bouldin", "min")]
    assert select_trial(front(), objectives, "knee").number == 1
    assert select_trial(front(), objectives, "first").number == 0
    assert select_trial(front(), objectives, "weighted", [0.2, 0.8]).number == 2
    assert select_trial(front(), objectives, "weighted", [0.8, 0.2]).number == 0
    with pytest.raises(ConfigError, match="expected 2 non-negative weights"):
        select_trial(front(), objectives, "weighted", [1.0])


def draws(storage: optuna.storages.BaseStorage, n: int, seed: int) -> list[float]:
    sampler = TrialSeededSampler(lambda s: optuna.samplers.TPESampler(seed=s), seed)
    study = optuna.load_study(study_name="s", storage=storage, sampler=sampler)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=n)
    return [t.params["x"] for t in study.trials]


def test_per_trial_seeds_repeat_a_study_and_continue_a_resumed_one():
    def fresh() -> optuna.storages.BaseStorage:
        storage = optuna.storages.InMemoryStorage()
        optuna.create_study(study_name="s", storage=storage)
        return storage

    whole = draws(fresh(), 5, seed=7)
    assert draws(fresh(), 5, seed=7) == whole  # same seed, same trials
    assert draws(fresh(), 5, seed=8) != whole
    storage = fresh()
    draws(storage, 3, seed=7)
    resumed = draws(storage, 2, seed=7)  # a new process on the same storage
    assert resumed == whole  # the same five trials as one uninterrupted study
    # plain seeding would repeat the first draws when resumed
    plain = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=7))
    plain.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    again = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=7))
    again.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert again.trials[0].params == plain.trials[0].params


def test_storage_creation_survives_concurrent_creators(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    errors: list[BaseException] = []

    def create() -> None:
        try:
            open_storage(url)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with pytest.raises(ConfigError, match="does not exist"):
        open_storage(f"sqlite:///{tmp_path / 'missing' / 'study.db'}")


def test_objectives_take_their_default_direction_from_the_one_registry():
    from segbench.evaluation.registry import direction

    for name in ("fairness.gender.dp_difference", "davies_bouldin", "noise_fraction"):
        (objective,) = parse_objectives(name)
        assert objective.direction == direction(name)


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        ("silhuette:max", r"'silhuette' is not a metric segbench scores\. Did you mean silhouette"),
        ("weird_metric", r"'weird_metric' is not a metric segbench scores\. A trial scores: sil"),
        ("stability:max", r"'stability' is a stability metric, computed once for the run"),
        ("proxy.age_band.score", r"is a fairness metric, computed once for the run after the"),
        ("assign.agreement", r"is a assign metric, computed once"),
    ],
)
def test_objectives_a_trial_does_not_score_are_refused_by_name(objective, expected):
    with pytest.raises(ConfigError, match=expected):
        parse_objectives(objective)
