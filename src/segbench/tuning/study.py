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
    define a run's result, :func:`segbench.settings.identity.defining`, without the tuning
    and analysis options and the data file's path, plus the objectives; so a widened space
    or a larger ``n_trials`` resumes the same study). A persistent
    study remembers what it was created for (user attribute ``segbench.context``: dataset
    fingerprint, features, preprocessing, algorithm, objectives); resuming it with a different
    one is refused, because trials on other data or objectives are not comparable.

Budget
    ``tune.budget=study``: ``tune.n_trials`` is the study's total; a re-run adds trials up to
    it (trials of every state count, including those other workers are running; two workers
    started together may overshoot by at most one trial each, since a count and the start of a
    trial are not one transaction). ``tune.budget=run``: this run adds ``tune.n_trials`` trials.

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
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.storages import BaseStorage
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from segbench.errors import ConfigError, SegbenchError
from segbench.tracking.mlflow_run import resolve_uri
from segbench.tuning.objectives import Objective
from segbench.tuning.space import SearchSpace
from segbench.tuning.spec import StudySpec

SAMPLERS = ("tpe", "random", "grid", "nsgaii")
BUDGETS = ("study", "run")
#: Trial states that count toward ``tune.n_trials`` (every trial started, whatever became of it).
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
CONTEXT_ATTR = "segbench.context"
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


def open_storage(url: str | None) -> BaseStorage | None:
    """The RDB storage at ``url`` (created if new), or ``None`` for in-memory."""
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

    def make() -> BaseStorage:
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except ImportError as err:
            raise ConfigError(
                f"tune.storage={redact(url)}: the database driver is not installed ({err}); "
                "for PostgreSQL: pip install psycopg2-binary"
            ) from err

    return _retry(make, f"cannot open tune.storage={redact(url)}")


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
    found = [d.name.lower() for d in study.directions]
    stored = study.user_attrs.get(CONTEXT_ATTR)
    if stored is None:
        _retry(lambda: study.set_user_attr(CONTEXT_ATTR, dict(context)), "cannot tag study")
        stored = dict(context)
    wanted = {**context}
    different = {k: (stored.get(k), v) for k, v in wanted.items() if stored.get(k) != v}
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


def counted_trials(study: Study) -> int:
    """Trials that count toward the study's total (see :data:`COUNTED`)."""
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def trials_to_run(study: Study, n_trials: int, budget: str) -> int:
    """How many trials this run starts (see "Budget" in the module docstring)."""
    if budget not in BUDGETS:
        raise ConfigError(f"tune.budget={budget!r}; expected one of {list(BUDGETS)}")
    if n_trials < 0:
        raise ConfigError(f"tune.n_trials={n_trials}; expected a number >= 0")
    if budget == "run":
        return n_trials
    return max(0, n_trials - counted_trials(study))


class StopAtTotal:
    """Callback: stop the study once it holds ``n_trials`` counted trials (all workers)."""

    def __init__(self, n_trials: int) -> None:
        self.n_trials = n_trials

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        if counted_trials(study) >= self.n_trials:
            study.stop()
