"""An in-process sweep keeps no job's configs: its memory does not grow with its jobs.

``benchmarks/bench_sweep_memory.py`` measures the peak after 5 and after 50 jobs; these check
the two rules that keep it flat.
"""

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from segbench.tracking.sweep import IN_PROCESS_BATCH, JobOutcome, _batch_size, _outcome, _release


def test_the_basic_launcher_gets_batches_other_launchers_the_whole_sweep():
    assert _batch_size(BasicLauncher(), 50) == IN_PROCESS_BATCH
    assert _batch_size(BasicLauncher(), 3) == 3
    assert _batch_size(object(), 50) == 50  # a pool or a cluster runs its batch in parallel


def test_a_finished_job_keeps_its_outcome_and_drops_its_configs():
    outcome = JobOutcome(4, "abc", "FINISHED", {"silhouette": 0.5})
    result = JobReturn(
        overrides=["seed=4"],
        cfg=OmegaConf.create({"seed": 4}),
        hydra_cfg=OmegaConf.create({"hydra": {"job": {"num": 4}}}),
        status=JobStatus.COMPLETED,
        _return_value=outcome,
    )
    assert _outcome(4, result) == outcome
    _release(result)
    assert result.cfg is None and result.hydra_cfg is None
    assert _outcome(4, result) == outcome and result.overrides == ["seed=4"]
