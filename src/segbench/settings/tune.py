"""Settings of hyperparameter tuning with Optuna (config group ``tune``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from segbench.settings.base import Section


class TuneSettings(Section):
    """A study of trials inside one run; the selected trial is refit and logged as the run's
    result (:mod:`segbench.tuning`). The algorithm's own search space is
    ``algo.search_space``; ``search_space`` here adds feature and preprocessing values."""

    name: Literal["none", "optuna"] = "none"
    """``none``: fit the algorithm once with its configured hyperparameters."""
    n_trials: int = Field(30, ge=1)
    """Finished trials (completed or infeasible) of the study in total (``budget=study``: a
    re-run on a persistent storage adds trials up to this number; failed trials do not count)
    or trials this run adds (``budget=run``). A finite search space stops the study once
    every point is evaluated."""
    budget: Literal["study", "run"] = "study"
    timeout: float | None = Field(None, gt=0)
    """Seconds; stop starting new trials after this long (null: no time limit)."""
    objectives: list[str] = Field(default_factory=lambda: ["silhouette:max"], min_length=1)
    """``metric:direction``, any metric the run scores; the direction may be left out for
    metrics with a known one (:mod:`segbench.evaluation.registry`)."""
    sampler: Literal["tpe", "random", "grid", "nsgaii"] = "tpe"
    """``grid`` needs a finite space; ``nsgaii`` suits several objectives."""
    sampler_options: dict[str, Any] = Field(default_factory=dict)
    """Extra keyword arguments of the sampler, e.g. ``{n_startup_trials: 5}``."""
    select: Literal["knee", "first", "weighted"] = "knee"
    """Several objectives: which Pareto-optimal trial is refit (knee: closest to the ideal
    point after normalising each objective over the front; first: best on the first
    objective; weighted: largest weighted sum of the normalised objectives)."""
    weights: list[float] | None = None
    """Weights of ``select=weighted`` (null: equal)."""
    min_segments: int = Field(2, ge=1)
    """A trial that finds fewer segments is infeasible (pruned, ``tune.n_infeasible``)."""
    max_noise_fraction: float = Field(0.5, ge=0.0, le=1.0)
    """A trial that labels more of the customers as noise is infeasible."""
    storage: str | None = None
    """null: in memory; ``sqlite:///study.db`` (relative to the launch directory) or
    ``postgresql://…`` to resume the study and share it between workers."""
    study_name: str | None = None
    """null: ``<experiment>.<dataset>.<features>.<algo>.<hash of what the trials depend
    on>`` (the setup, the search space, the objectives), so the same command resumes the
    same study and another search space starts another."""
    search_space: dict[str, Any] = Field(default_factory=dict)
    """Feature and preprocessing values to tune, by config path, e.g.
    ``{blocks: {text: {pca_components: {type: int, low: 4, high: 32}}}}``."""
    feature_cache_size: int = Field(4, ge=0)
    """Feature matrices kept in memory while tuning feature values."""
    log_trials: bool = True
    """One nested MLflow run per trial."""
    baseline: bool = True
    """Score the untuned config first (``baseline.<metric>``)."""
    refit_only: bool = False
    """Run no trial: open the stored study (``storage``, ``study_name``) and refit the trial
    it selects, at this run's seed — how a protocol evaluates a configuration another run
    chose (``conf/condition/tuned.yaml``). A study without a finished trial is refused."""
    start_at_configured: bool = True
    """Queue the configured hyperparameters (and tuned feature values) as the study's first
    trial (Optuna's ``enqueue_trial``), when each lies in the search space, so the selected
    trial is never worse on a single objective than the configuration it tunes. Not with
    ``sampler=grid`` (the grid holds them already)."""
    progress: Literal["line", "bar", "none"] = "line"
    """A log line per trial (its parameters, result and the best so far), a tqdm bar, or
    nothing."""
    heartbeat_interval: int | None = Field(60, ge=1)
    """RDB storage: seconds between a running trial's heartbeats (Optuna's heartbeat); a
    trial whose worker was killed is failed after ``grace_period`` and run again. null: off."""
    grace_period: int | None = Field(None, ge=1)
    """Seconds without a heartbeat after which a running trial counts as lost (null: twice
    ``heartbeat_interval``)."""
    max_retries: int = Field(3, ge=0)
    """How many times the parameters of a lost trial are queued again."""

    @property
    def enabled(self) -> bool:
        return self.name != "none"
