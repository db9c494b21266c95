"""Settings of a benchmark protocol (section ``protocol``): which condition a run belongs to.

A *protocol* study compares algorithms under labelled conditions (the reference study,
``conf/experiment/benchmark.yaml``):

- ``defaults``: every algorithm with the hyperparameters of its ``conf/algo`` file;
- ``select``: one tuned run per cell and algorithm at the selection seed, which runs the
  Optuna study (the same budget for every algorithm, its own search space, an internal
  criterion) and stores it;
- ``tuned``: the selected configuration evaluated over the evaluation seeds: each run resumes
  the stored study (no new trial: its budget is spent) and refits the selected trial with its
  own seed.

The leaderboard never ranks two conditions in one table
(:mod:`segbench.leaderboard.protocol`). A run outside a protocol keeps ``none``, and its
params do not mention the section (only settings that differ from their default are logged).
"""

from __future__ import annotations

from typing import Literal

from segbench.settings.base import Section

#: The conditions, in the order the leaderboard shows them.
CONDITIONS = ("tuned", "defaults")


class ProtocolSettings(Section):
    """The condition of a protocol study a run belongs to (see the module docstring)."""

    condition: Literal["none", "defaults", "select", "tuned"] = "none"
    """``none``: not part of a protocol; ``defaults``, ``select`` or ``tuned``: the
    condition (set by ``+condition=<name>``, ``conf/condition/``)."""

    @property
    def enabled(self) -> bool:
        return self.condition != "none"


__all__ = ["CONDITIONS", "ProtocolSettings"]
