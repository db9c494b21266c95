"""Judging a segmentation: its metrics, their definitions, stability, matching of segments.

- :mod:`.registry` — every metric's direction, family and valid range (one registry, read by
  tuning and the leaderboard too);
- :mod:`.metrics` — internal, external and model-specific indices;
- :mod:`.stability` — agreement of refits on resamples;
- :mod:`.matching` — pairing the segment ids of two segmentations;
- :mod:`.suite` — :class:`~segbench.evaluation.suite.Scorer`, every configured metric of a
  segmentation (fairness included), for runs and tuning trials alike.
"""

from segbench.evaluation.metrics import evaluate

__all__ = ["evaluate"]
