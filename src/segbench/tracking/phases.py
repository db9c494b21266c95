"""Where a run's time goes: its phases, timed end to end, logged as ``time.<phase>`` metrics.

A :class:`PhaseClock` is a lap timer: :meth:`~PhaseClock.mark` ends the phase that runs and
starts the next one, so the phases add up to the run's wall time. A phase that runs longer
than ``announce_after`` seconds (2 s) says so on the console while it runs, and its time
when it ends, so a long step is never silent.

>>> clock = PhaseClock(announce_after=None)
>>> clock.mark("load"); clock.mark("fit"); clock.stop()
>>> sorted(clock.metrics())
['time.fit', 'time.load']
>>> abs(sum(clock.metrics().values()) - clock.total) < 1e-9
True
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("segbench.experiment")

#: A phase longer than this (seconds) says so on the console.
ANNOUNCE_AFTER = 2.0


class PhaseClock:
    """Lap timer of a run's phases (see the module docstring)."""

    def __init__(self, announce_after: float | None = ANNOUNCE_AFTER) -> None:
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}
        self.announce_after = announce_after
        self._current: str | None = None
        self._since = self.started
        self._timer: threading.Timer | None = None
        self._stopped_at: float | None = None

    def mark(self, phase: str) -> None:
        """End the running phase (if any) and start ``phase`` (a phase may run again: its
        times add up). A termination signal whose exception was lost (see
        :func:`~segbench.tracking.mlflow_run.raise_pending_interruption`) stops the run here."""
        from segbench.tracking.mlflow_run import raise_pending_interruption

        raise_pending_interruption()
        now = self._lap()
        if self._current is None and not self.seconds:  # the first phase starts the clock
            self.started = now
        self._current, self._since = phase, now
        if self.announce_after is not None:
            self._timer = threading.Timer(self.announce_after, self._announce, (phase,))
            self._timer.daemon = True
            self._timer.start()

    def stop(self) -> None:
        """End the running phase; the clock's :attr:`total` is fixed from here (again: no-op)."""
        if self._stopped_at is not None:
            return
        self._stopped_at = self._lap()
        self._current = None

    def _lap(self) -> float:
        now = time.perf_counter()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._current is not None:
            spent = now - self._since
            self.seconds[self._current] = self.seconds.get(self._current, 0.0) + spent
            if self.announce_after is not None and spent >= self.announce_after:
                log.info("%s: done in %.1f s", self._current, spent)
        return now

    def _announce(self, phase: str) -> None:
        log.info("%s: running (over %.0f s so far) …", phase, self.announce_after)

    @property
    def total(self) -> float:
        """Seconds from the first phase's start to :meth:`stop` (or now): the sum of the
        phases."""
        return (self._stopped_at or time.perf_counter()) - self.started

    def metrics(self) -> dict[str, float]:
        """``time.<phase>`` → seconds, in the order the phases first ran."""
        return {f"time.{name}": spent for name, spent in self.seconds.items()}


__all__ = ["ANNOUNCE_AFTER", "PhaseClock"]
