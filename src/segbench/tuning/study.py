"""The Optuna study of a run: its storage, name, sampler and trial budget.

Storage
    ``tune.storage: null`` keeps the study in memory. An RDB URL (``sqlite:///study.db``,
    ``postgresql://user:pw@host/db``) makes it persistent: the same command resumes it, and
    several processes given the same storage and study name share it (Optuna's RDB storage
    assigns trial numbers in the database, so none is lost or duplicated). A relative SQLite
    path resolves against the launch directory. Two workers creating the schema of a fresh
    database at once race (``UNIQUE constraint failed: alembic_version``):
    :func:`open_storage` retries that, and the study is created with ``load_if_exists``.

Study name
    ``tune.study_name``, default ``<experiment>.<dataset>.<features>.<algo>.<hash>`` where the
    hash covers the setup the trials depend on (:attr:`StudySpec.setup`: the settings that
    define a run's result, :func:`segbench.settings.identity.defining`, including the search
    space, the objectives and the feasibility rules; without the analyses, the data file's
    path and the options of how the study is run, such as ``n_trials`` or the sampler). So
    the same command resumes its study, a larger ``n_trials`` continues it, and another
    search space (``algo.search_space.n_clusters.high=20``) starts a new one; the run says so
    when the storage holds studies of the same prefix. A persistent study remembers what it
    was created for (user attribute ``segbench.context``: dataset fingerprint, features,
    preprocessing, algorithm, objectives, search space); resuming it with other data or
    objectives is refused, because their trials are not comparable; a named study resumed
    with another search space is allowed (Optuna's define-by-run) and the run says so.

Budget
    ``tune.budget=study``: ``tune.n_trials`` is the number of evaluations the study should
    hold: finished trials, completed or pruned (infeasible); a re-run adds trials up to it.
    A failed trial does not count (it computed nothing), nor does a trial that drew the
    parameters of an evaluated one (it takes that result, :func:`repeated_trial`), nor a
    trial still running: each worker runs trials until the study holds the total, so workers
    that finish together may overshoot it by one trial each. ``tune.budget=run``: this run
    adds ``tune.n_trials`` evaluations. Either way a run stops early when every point of a
    finite search space has been evaluated, when the sampler proposed only evaluated points
    for :data:`REPEAT_LIMIT` (or ``n_trials``, if more) trials in a row, or when as many of
    its own trials failed as the budget.

Killed workers
    With an RDB storage, a trial records a heartbeat every ``tune.heartbeat_interval``
    seconds (Optuna's heartbeat). A trial whose worker was killed or lost stops beating;
    after ``tune.grace_period`` seconds any worker of the study fails it (Optuna's
    ``fail_stale_trials``, run before each trial), closes its MLflow run as KILLED and queues
    its parameters again (:class:`StaleTrials`, Optuna's
    ``RetryHeartbeatStaleTrialCallback``), so the resumed study completes the budget.

Sampler and seeds
    ``tpe`` (default), ``random``, ``grid`` (finite spaces only; the grid, shuffled by the seed,
    is walked until exhausted) and ``nsgaii``. For tpe/random/nsgaii the sampler used for
    trial ``n`` is seeded from ``(seed, n)`` (:class:`TrialSeededSampler`): the same config
    gives the same trials, a resumed study continues the sequence instead of repeating its
    first draws, and concurrent workers (which get different trial numbers) do not draw the
    same points.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.exceptions import ExperimentalWarning
from optuna.samplers import BaseSampler
from optuna.storages import BaseStorage
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from segbench.errors import ConfigError, SegbenchError
from segbench.tracking.mlflow_run import resolve_uri
from segbench.tuning.objectives import Objective
from segbench.tuning.reporting import REPEATS_ATTR, RUN_ATTR
from segbench.tuning.space import SearchSpace
from segbench.tuning.spec import StudySpec

log = logging.getLogger(__name__)

SAMPLERS = ("tpe", "random", "grid", "nsgaii")
BUDGETS = ("study", "run")
#: Trial states that count toward ``tune.n_trials``: finished trials that computed a result.
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)
#: A finite space larger than this is treated as unbounded (never exhausted).
MAX_GRID = 1_000_000
#: Repeats in a row after which a run stops: the sampler keeps proposing evaluated points.
REPEAT_LIMIT = 20
CONTEXT_ATTR = "segbench.context"
#: Context a resumed study may differ in (the run says so, and goes on).
INFORMATIVE = ("space",)
_TRANSIENT = ("alembic_version", "unique constraint", "already exists", "locked", "version_info")
_RETRIES = 12


def redact(url: str) -> str:
    """``url`` with any password hidden (safe to log)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a database URL
        return url


def _transient(err: BaseException) -> bool:
    text = str(err).lower()
    return any(marker in text for marker in _TRANSIENT)


def _retry(fn: Callable[[], Any], what: str) -> Any:
    """Call ``fn``, retrying the schema-creation race and 'database is locked'."""
    for attempt in range(_RETRIES):
        try:
            return fn()
        except SegbenchError:
            raise
        except Exception as err:
            if not _transient(err) or attempt == _RETRIES - 1:
                raise SegbenchError(f"{what}: {type(err).__name__}: {err}") from err
            time.sleep(min(0.05 * 2**attempt, 2.0) * (1 + np.random.random()))
    raise AssertionError("unreachable")


def open_storage(
    url: str | None,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    max_retries: int | None = 3,
) -> BaseStorage | None:
    """The RDB storage at ``url`` (created if new), or ``None`` for in-memory.

    ``heartbeat_interval`` (seconds, or ``None`` for none) turns on Optuna's heartbeat, with
    trials of lost workers failed after ``grace_period`` and retried up to ``max_retries``
    times (:class:`StaleTrials`; see "Killed workers" in the module docstring).
    """
    if not url:
        return None
    url = resolve_uri(str(url))
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        from pathlib import Path

        folder = Path(url[len("sqlite:///") :]).parent
        if not folder.is_dir():
            raise ConfigError(f"tune.storage={url}: the folder {folder} does not exist")
        kwargs = {"connect_args": {"timeout": 60}}
    heartbeat: dict[str, Any] = {}
    if heartbeat_interval:
        heartbeat = {
            "heartbeat_interval": int(heartbeat_interval),
            "grace_period": grace_period,
            "heartbeat_stale_trial_callback": StaleTrials(max_retries),
        }

    def make() -> BaseStorage:
        try:
            with warnings.catch_warnings():  # the heartbeat is experimental in Optuna 5
                warnings.simplefilter("ignore", ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, **heartbeat)
        except ImportError as err:
            raise ConfigError(
                f"tune.storage={redact(url)}: the database driver is not installed ({err}); "
                "for PostgreSQL: pip install psycopg2-binary"
            ) from err

    return _retry(make, f"cannot open tune.storage={redact(url)}")


class StaleTrials:
    """Heartbeat callback: a trial of a lost worker was failed; close its MLflow run as
    KILLED and queue its parameters again (Optuna's ``RetryHeartbeatStaleTrialCallback``,
    up to ``max_retries`` times per trial).

    ``close_run`` (set once the run's trial runs exist) is called with the trial's MLflow
    run id and the reason.
    """

    def __init__(self, max_retries: int | None = 3) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            self.retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retries)
        self.close_run: Callable[[str, str], None] | None = None
        self.failed: list[int] = []

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        reason = "its worker stopped sending heartbeats (killed or lost); retried"
        self.failed.append(trial.number)
        log.info("trial %d: %s", trial.number, reason)
        run_id = trial.user_attrs.get(RUN_ATTR)
        if run_id and self.close_run is not None:
            try:
                self.close_run(run_id, reason)
            except Exception as err:  # the trial's retry matters more than its record
                log.warning("trial %d: its MLflow run %s not closed: %s", trial.number, run_id, err)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            self.retry(study, trial)


def fail_stale_trials(study: Study) -> None:
    """Fail (and retry) the trials of lost workers now (Optuna's ``fail_stale_trials``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def stale_callback(study: Study) -> StaleTrials | None:
    """The :class:`StaleTrials` of the study's storage, if its heartbeat is on."""
    storage = study._storage  # Optuna wraps an RDB storage in a cache that delegates
    getter = getattr(storage, "get_heartbeat_stale_trial_callback", None)
    callback = getter() if callable(getter) else None
    return callback if isinstance(callback, StaleTrials) else None


def study_name(spec: StudySpec, objectives: Sequence[Objective]) -> str:
    """``tune.study_name``, or ``<prefix>.<hash of the setup and the objectives>``.

    The hash (8 hex digits) keeps studies of different setups apart — e.g. the jobs of a
    multirun over seeds or preprocessing on one storage — while the same command always gets
    the same name, so it resumes its study.
    """
    if spec.tune.study_name:
        return spec.tune.study_name
    setup = {**spec.setup, "objectives": [o.label for o in objectives]}
    text = json.dumps(setup, sort_keys=True, default=str)
    return f"{spec.prefix}.{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def make_sampler(
    name: str, seed: int, space: SearchSpace, n_objectives: int, options: Mapping[str, Any]
) -> BaseSampler:
    """The sampler ``tune.sampler`` names, seeded (see the module docstring)."""
    if name not in SAMPLERS:
        raise ConfigError(f"tune.sampler={name!r}; expected one of {list(SAMPLERS)}")
    options = dict(options or {})
    if name == "grid":
        grid = space.grid()  # refuses a continuous space
        return _build(optuna.samplers.GridSampler, options, grid, seed=seed)
    factory: Callable[[int], BaseSampler]
    if name == "tpe":
        factory = lambda s: _build(optuna.samplers.TPESampler, options, seed=s)  # noqa: E731
    elif name == "random":
        factory = lambda s: _build(optuna.samplers.RandomSampler, options, seed=s)  # noqa: E731
    else:
        factory = lambda s: _build(optuna.samplers.NSGAIISampler, options, seed=s)  # noqa: E731
    factory(seed)  # fail now on bad options
    return TrialSeededSampler(factory, seed)


def _build(cls: type, options: Mapping[str, Any], *args: Any, **kwargs: Any) -> BaseSampler:
    try:
        return cls(*args, **kwargs, **options)
    except TypeError as err:
        raise ConfigError(
            f"tune.sampler_options={dict(options)} for {cls.__name__}: {err}"
        ) from err


def trial_seed(seed: int, number: int) -> int:
    """The seed of trial ``number``'s sampler: a hash of ``(seed, number)``."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, number]).generate_state(1)[0])


class TrialSeededSampler(BaseSampler):
    """Delegates each trial to a fresh sampler seeded from ``(seed, trial number)``.

    The wrapped samplers (TPE, random, NSGA-II) keep no state between trials besides their
    random generator (history comes from the storage), so this changes only the seeding.
    """

    def __init__(self, factory: Callable[[int], BaseSampler], seed: int) -> None:
        self._factory = factory
        self._seed = seed
        self._number: int | None = None
        self._current = factory(seed)

    def _for(self, trial: FrozenTrial) -> BaseSampler:
        if trial.number != self._number:
            self._number = trial.number
            self._current = self._factory(trial_seed(self._seed, trial.number))
        return self._current

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._for(trial).before_trial(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._for(trial).after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:  # seeds are derived per trial; nothing to reseed
        return None


def open_study(
    storage: BaseStorage | None,
    name: str,
    objectives: Sequence[Objective],
    sampler: BaseSampler,
    context: Mapping[str, str],
) -> Study:
    """Create or load the study; refuse to resume one made for other data or objectives."""
    directions = [o.optuna_direction for o in objectives]

    def create() -> Study:
        return optuna.create_study(
            storage=storage,
            sampler=sampler,
            study_name=name,
            directions=directions,
            load_if_exists=True,
        )

    study = _retry(create, f"cannot create or load study '{name}'")
    names = [o.metric for o in objectives]
    if study.metric_names != names:  # how Optuna's plots and optuna-dashboard label them

        def name_metrics() -> None:
            with warnings.catch_warnings():  # experimental in Optuna 5
                warnings.simplefilter("ignore", ExperimentalWarning)
                study.set_metric_names(names)

        if study.metric_names is None:
            _retry(name_metrics, "cannot name the study's metrics")
    found = [d.name.lower() for d in study.directions]
    stored = study.user_attrs.get(CONTEXT_ATTR)
    if stored is None:
        _retry(lambda: study.set_user_attr(CONTEXT_ATTR, dict(context)), "cannot tag study")
        stored = dict(context)
    wanted = {k: v for k, v in context.items() if k not in INFORMATIVE}
    different = {k: (stored.get(k), v) for k, v in wanted.items() if stored.get(k) != v}
    for key in INFORMATIVE:
        if key in stored and key in context and stored[key] != context[key]:
            log.info(
                "study '%s' was created with %s %s; this run has %s",
                name,
                key,
                stored[key],
                context[key],
            )
    if found != directions and "objectives" not in different:
        different["directions"] = (found, directions)
    if different:
        detail = "; ".join(
            f"{k}: study has {a!r}, this run {b!r}" for k, (a, b) in different.items()
        )
        raise ConfigError(
            f"study '{name}' in {redact(str(getattr(storage, 'url', 'memory')))} was made for "
            f"another setup ({detail}); its trials are not comparable. Use another "
            "tune.study_name (or another tune.storage) for this setup."
        )
    return study


def counts(trial: FrozenTrial) -> bool:
    """Whether ``trial`` counts toward the budget: finished (:data:`COUNTED`) and not a repeat
    of an evaluated point (:func:`repeated_trial`)."""
    return trial.state in COUNTED and REPEATS_ATTR not in trial.user_attrs


def counted_trials(study: Study) -> int:
    """Trials that count toward the study's total (:func:`counts`)."""
    return sum(counts(t) for t in study.get_trials(deepcopy=False, states=COUNTED))


def trials_to_run(study: Study, n_trials: int, budget: str) -> int:
    """How many more trials this run would start now (see "Budget" in the module docstring)."""
    if budget not in BUDGETS:
        raise ConfigError(f"tune.budget={budget!r}; expected one of {list(BUDGETS)}")
    if n_trials < 0:
        raise ConfigError(f"tune.n_trials={n_trials}; expected a number >= 0")
    if budget == "run":
        return n_trials
    return max(0, n_trials - counted_trials(study))


def evaluated_points(study: Study) -> set[tuple[tuple[str, str], ...]]:
    """The distinct parameter sets of the study's finished (counted) trials."""
    return {
        tuple(sorted((k, repr(v)) for k, v in t.params.items()))
        for t in study.get_trials(deepcopy=False, states=COUNTED)
    }


def space_size(space: SearchSpace) -> int | None:
    """The number of points of a finite search space (``None``: continuous or huge)."""
    if not space.finite:
        return None
    size = 1
    for param in space.params:
        size *= len(param.grid_values())
        if size > MAX_GRID:
            return None
    return size


def exhausted(study: Study, space: SearchSpace) -> bool:
    """Whether every point of a finite ``space`` has a finished trial in the study."""
    size = space_size(space)
    return size is not None and len(evaluated_points(study)) >= size


def repeated_trial(trial: optuna.Trial) -> FrozenTrial | None:
    """The earliest finished trial of the study with ``trial``'s parameters, if any.

    Optuna's own idiom for not evaluating a point twice (its FAQ, "How can I ignore
    duplicated samples?"): the new trial takes the earlier one's result instead.
    """
    for other in trial.study.get_trials(deepcopy=False, states=COUNTED):
        if other.number != trial.number and other.params == trial.params:
            return other
    return None
