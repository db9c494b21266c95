"""Judging a segmentation: its metrics, their definitions, stability, matching of segments.

- :mod:`.registry` — every metric's direction, family and valid range (one registry, read by
  tuning and the leaderboard too);
- :mod:`.metrics` — internal, external and model-specific indices;
- :mod:`.stability` — agreement of refits on resamples;
- :mod:`.matching` — pairing the segment ids of two segmentations;
- :mod:`.suite` — :class:`~segbench.evaluation.suite.Scorer`, every configured metric of a
  segmentation (fairness included), for runs and tuning trials alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from segbench.evaluation.metrics import evaluate


def __getattr__(name: str) -> Any:
    # on first use: reading the registry (the leaderboard, tuning) must not import scikit-learn
    if name == "evaluate":
        from segbench.evaluation.metrics import evaluate

        return evaluate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["evaluate"]
