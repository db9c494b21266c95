"""Independent small fits run side by side on the machine's cores, with the results of one
after another.

A run's extras refit its estimator many times on small samples: the choice of k once per k
(nine fits of 2,000 customers by default), stability once per resample (five). Each fit is
single-threaded at that size (the run caps the BLAS threads; OpenMP is capped here), so one
after another they leave the second core idle. Threads do not help: a fit of 2,000 rows is
mostly short numpy calls that hold the GIL (measured: a Gaussian mixture's choice of k took
1.42 s one after another and 1.49 s in two threads). So :func:`fit_side_by_side` forks: each
extra worker is a child process, forked with everything the run holds. The run and its children
each take the next item whenever they are free (the items' numbers wait in a pipe), so a costly
item does not leave a core idle while the other waits; the children send their results back
through a pipe.

The results are the same as one after another, bit for bit: each fit is a fresh clone with its
own seed (nothing is shared between fits, no fit draws from another's random state), and each
runs with one OpenMP and one BLAS thread either way. (A fit with two OpenMP threads can differ
in the last digit: scikit-learn's k-means sums its inertia by thread.) An error raised by a fit
is raised here. The children ignore Ctrl-C (the run handles it and stops them) and end when
no item is left; where fork is not available (only Linux uses it) the fits run one after
another.

>>> from sklearn.cluster import KMeans
>>> from sklearn.datasets import make_blobs
>>> X, _ = make_blobs(400, centers=3, random_state=0)
>>> def inertia(k):
...     return KMeans(k, n_init=2, random_state=0).fit(X).inertia_
>>> side = fit_side_by_side(inertia, [2, 3, 4], workers=2)
>>> side == fit_side_by_side(inertia, [2, 3, 4], workers=1)
True
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

from threadpoolctl import threadpool_limits

T = TypeVar("T")
R = TypeVar("R")


def cores() -> int:
    """Cores this process may use: its CPU affinity and its container's CPU quota, as
    :func:`joblib.cpu_count` reads them."""
    from joblib import cpu_count  # imports numpy: not at start-up

    return max(1, int(cpu_count()))


def can_fork() -> bool:
    """Whether fits can be forked here (Linux; macOS's system frameworks are not safe to
    fork, Windows cannot)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


#: Most items :func:`fit_side_by_side` shares out (their numbers fill one pipe buffer, 64 KiB);
#: more are fitted one after another.
MAX_ITEMS = 16_384
_NUMBER = struct.Struct("=I")


def fit_side_by_side(
    fit: Callable[[T], R], items: Iterable[T], workers: int | None = None
) -> list[R]:
    """``[fit(item) for item in items]``, on ``workers`` cores (``None``: the cores this
    process may use, :func:`cores`), each library capped at one thread meanwhile (module
    docstring). Each process takes the next item as soon as it is free, in the order given:
    put the costliest items first."""
    items = list(items)
    workers = min(len(items), workers or cores())
    with threadpool_limits(limits=1):
        if workers <= 1 or not can_fork() or len(items) > MAX_ITEMS:
            return [fit(item) for item in items]
        return _forked(fit, items, workers)


def _forked(fit: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    # the items' numbers wait in a pipe; the run and its children each read the next one when
    # free (a read of 4 bytes from a pipe is atomic), until the pipe is empty
    queue = _queue(len(items))
    children: list[tuple[int, int]] = []
    try:
        children = [_start(fit, items, queue) for _ in range(workers - 1)]
        results = dict(_take_and_fit(fit, items, queue))
        while children:
            results.update(_collect(children[0]))
            children.pop(0)
    finally:  # an error or an interruption: the children still fitting are stopped
        os.close(queue)
        for child in children:
            _stop(child)
    return [results[i] for i in range(len(items))]


def _queue(n: int) -> int:
    """A pipe holding the numbers ``0 … n-1``, to read from (its writing end is closed)."""
    queue, filling = os.pipe()
    os.write(filling, b"".join(_NUMBER.pack(i) for i in range(n)))
    os.close(filling)
    return queue


def _start(fit: Callable[[T], Any], items: Sequence[T], queue: int) -> tuple[int, int]:
    """Fork a child that fits the items it takes from ``queue``; ``(pid, its result pipe)``."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read)
        _fit_share(fit, items, queue, write)
    os.close(write)
    return pid, read


def _collect(child: tuple[int, int]) -> list[tuple[int, Any]]:
    """Wait for ``child``; its ``(number, result)`` pairs, or its error raised here."""
    pid, read = child
    with os.fdopen(read, "rb") as pipe:
        payload = pipe.read()
    os.waitpid(pid, 0)
    ok, values = (
        pickle.loads(payload)
        if payload
        else (False, RuntimeError(f"the fitting process {pid} ended without a result"))
    )
    if not ok:
        raise values
    return values


def _stop(child: tuple[int, int]) -> None:
    """Stop ``child`` if it still runs (its result, if any, is dropped)."""
    pid, read = child
    with contextlib.suppress(OSError):
        os.close(read)
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


#: Priority of a :class:`Beside` child (``nice``): it yields to the run's own threads (an
#: OpenMP fit on both cores waits for a thread preempted by it), and takes a core they leave.
NICENESS = 10


class Beside:
    """``work(*args, **kwargs)`` computed in a forked child while the caller goes on, one thread per
    library (as :func:`fit_side_by_side`'s fits), at a lower priority (:data:`NICENESS`);
    :meth:`result` waits for it and returns it, or raises its error. A context manager:
    leaving the block stops a child still at work. Where fork is not available, or on one
    core, :meth:`result` computes it then.

    >>> with Beside(sum, [1, 2, 3]) as later:
    ...     mine = sum([4, 5])
    ...     theirs = later.result()
    >>> mine, theirs
    (9, 6)
    """

    def __init__(self, work: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._call = partial(work, *args, **kwargs)
        self._child: tuple[int, int] | None = None
        if can_fork() and cores() > 1:
            queue = _queue(1)
            try:
                with threadpool_limits(limits=1):
                    self._child = _start(_call, [self._call], queue)
                with contextlib.suppress(OSError):  # lower: it takes the core the run leaves
                    os.setpriority(os.PRIO_PROCESS, self._child[0], NICENESS)
            finally:
                os.close(queue)

    def result(self) -> Any:
        """The work's result (waits for the child), or its error raised here."""
        if self._child is None:
            return self._call()
        child, self._child = self._child, None
        try:
            ((_, value),) = _collect(child)
        except BaseException:
            _stop(child)
            raise
        return value

    def __enter__(self) -> Beside:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._child is not None:
            _stop(self._child)
            self._child = None


def _call(work: Callable[[], Any]) -> Any:
    return work()


def _take_and_fit(fit: Callable[[T], R], items: Sequence[T], queue: int) -> Iterator[tuple[int, R]]:
    """``(number, fit(item))`` for each item this process takes from ``queue``."""
    while number := os.read(queue, _NUMBER.size):
        (i,) = _NUMBER.unpack(number)
        yield i, fit(items[i])


def _fit_share(fit: Callable[[T], Any], items: Sequence[T], queue: int, write: int) -> None:
    """A forked child: fit the items it takes from ``queue``, write ``(True, [(number,
    result), …])`` or ``(False, error)`` to the pipe ``write``, and end without the
    interpreter's teardown (nothing of the run's, its exit handlers or its buffered output, is
    run or written twice)."""
    status = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the run's to handle
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            out: tuple[bool, Any] = (True, list(_take_and_fit(fit, items, queue)))
        except BaseException as err:
            out = (False, err)
        try:
            payload = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as err:  # an unpicklable result or error
            payload = pickle.dumps((False, RuntimeError(f"{type(err).__name__}: {err}")))
        with os.fdopen(write, "wb") as pipe:
            pipe.write(payload)
        status = 0
    finally:
        os._exit(status)


__all__ = ["Beside", "can_fork", "cores", "fit_side_by_side"]
