"""Figures drawn beside the run: a second process draws them while the run goes on.

A run's figures (eight by default: the projection, sizes, silhouette and profile heatmap of
:mod:`segbench.reporting.plots`, one group mix per audited attribute, the choice of k) cost
about as much CPU as the rest of its logging, plus half a second to import matplotlib, and no
later stage needs them. So a figure is handed over as a :class:`Sketch` (a module-level
function and the arguments that draw it) to a :class:`Drawer`: a process forked when the run
starts, at the lowest priority, which has everything the run had imported, imports matplotlib
while the run goes on, and draws each sketch to PNG as it arrives, into a private folder. The
run logs the PNGs when it is done with its other work (:meth:`Drawer.collect`), in the order
they were sketched. On a core the run leaves idle the drawing then costs it nothing.

The run never waits for more than one figure: when it collects, it draws itself every sketch
the process has not started (each sketch is claimed by one side, by an exclusive file create),
and it waits at most :data:`PATIENCE_SECONDS` for the one being drawn. Nothing depends on the
second process: where fork is not available (only Linux uses it), the process cannot be
started, a sketch cannot be pickled, or the process fails on a sketch or dies, the sketch is
drawn in the run's process by the same function, giving the same bytes; an error of a drawing
function is then raised there, as it would be without the drawer. The process ends when the
run closes it, or within :data:`POLL_SECONDS` of the run's process ending by any means (it
watches its parent).

>>> import numpy as np
>>> from segbench.reporting.plots import segment_sizes
>>> with Drawer(aside=False) as drawer:
...     drawer.submit("plots/segment_sizes.png", Sketch(segment_sizes, (np.array([0, 0, 1]), "t")))
...     [(path, data[:4]) for path, data in drawer.collect()]
[('plots/segment_sizes.png', b'\\x89PNG')]
"""

from __future__ import annotations

import contextlib
import io
import logging
import multiprocessing
import os
import pickle
import queue
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segbench.parallel.side_by_side import can_fork

log = logging.getLogger(__name__)

#: How a figure is saved: PNG at zlib level 1 (the same pixels as the default level, files a
#: few per cent larger, encoding about a sixth of the figure's saving time cheaper).
PNG_SAVE: dict[str, Any] = {"format": "png", "pil_kwargs": {"compress_level": 1}}
#: How often the drawing process checks that the run's process is still there (seconds).
POLL_SECONDS = 0.5
#: How long the run waits for a figure the drawing process is drawing before it draws it
#: itself (seconds; a figure takes well under one, unless the machine's cores are all busy and
#: the process, at the lowest priority, gets none).
PATIENCE_SECONDS = 2.0


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (files, no display), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@dataclass(frozen=True)
class Sketch:
    """A figure not drawn yet: ``draw(*args, **kwargs)`` returns a matplotlib figure (or
    ``None``: nothing to draw). ``draw`` is a module-level function, so the sketch can be
    pickled to the drawing process."""

    draw: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def png(self) -> bytes | None:
        """The figure drawn and saved as PNG (``None`` when there is nothing to draw)."""
        fig = self.draw(*self.args, **self.kwargs)
        return None if fig is None else png(fig)


def png(fig: Any) -> bytes:
    """``fig`` saved as PNG bytes (:data:`PNG_SAVE`), then closed.

    A figure laid out once (``fig.tight_layout()``) keeps a placeholder layout engine, and
    matplotlib lays such a figure out again (an extra draw pass) when saving it; its layout
    is done, so the engine is dropped first: the same pixels, one pass fewer.
    """
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    plt = pyplot()
    try:
        if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
            fig.set_layout_engine(None)
        buffer = io.BytesIO()
        fig.savefig(buffer, **PNG_SAVE)
        return buffer.getvalue()
    finally:
        plt.close(fig)


class Drawer:
    """Draws sketches in a forked process (module docstring); a context manager that closes
    it. ``aside=False`` draws every sketch in this process, when it is collected."""

    def __init__(self, aside: bool = True) -> None:
        self._pending: list[tuple[int, str, Sketch]] = []
        self._sent: set[int] = set()  # the sketches the process was given
        self._count = 0
        self._process: Any = None
        self._queue: Any = None
        self._folder: Path | None = None
        if aside and can_fork():
            self._start()

    def _start(self) -> None:
        try:
            context = multiprocessing.get_context("fork")
            self._folder = Path(tempfile.mkdtemp(prefix="segbench-figures-"))
            self._queue = context.Queue()
            self._process = context.Process(
                target=_draw_aside,
                args=(self._queue, str(self._folder), os.getpid()),
                name="segbench-figures",
                daemon=True,
            )
            self._process.start()
        except Exception as err:  # drawn here instead
            log.debug("figures are drawn in the run's process: %s", err)
            self.close()

    @property
    def aside(self) -> bool:
        """Whether a drawing process is running."""
        return self._process is not None and self._process.is_alive()

    def submit(self, path: str, sketch: Sketch) -> None:
        """Draw ``sketch`` (the artifact ``path``): aside if a process runs, else when it is
        collected."""
        index = self._count
        self._count += 1
        self._pending.append((index, path, sketch))
        if self.aside:
            try:  # pickled now: the arguments may change after this call
                self._queue.put((index, pickle.dumps(sketch, protocol=pickle.HIGHEST_PROTOCOL)))
                self._sent.add(index)
            except Exception as err:
                log.debug("sketch %s is drawn in the run's process: %s", path, err)

    def collect(self) -> Iterator[tuple[str, bytes]]:
        """``(path, PNG bytes)`` of every sketch submitted since the last collection, in the
        order they were submitted (a sketch with nothing to draw is left out)."""
        pending, self._pending = self._pending, []
        for index, path, sketch in pending:
            data = self._drawn(index)
            if data is None:
                data = sketch.png()
            elif data == b"":
                continue  # nothing to draw
            if data is not None:
                yield path, data

    def _drawn(self, index: int) -> bytes | None:
        """The PNG the process drew for sketch ``index`` (``b""``: nothing to draw); ``None``
        when the run is to draw it: the process had not started it (the run claims it), failed
        on it, died, or took longer than :data:`PATIENCE_SECONDS` to finish it."""
        if self._folder is None or index not in self._sent:
            return None
        self._sent.discard(index)
        done, empty, failed = (self._folder / f"{index}{s}" for s in (".png", ".none", ".failed"))
        if not (done.exists() or empty.exists() or failed.exists()) and _claim(self._folder, index):
            return None  # not started yet: the run draws it rather than wait
        deadline = time.monotonic() + PATIENCE_SECONDS
        while True:
            if done.exists():
                return done.read_bytes()
            if empty.exists():
                return b""
            if failed.exists() or not self.aside or time.monotonic() > deadline:
                return None
            time.sleep(0.005)

    def close(self) -> None:
        """Stop the drawing process and remove its folder (sketches not collected are lost)."""
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(Exception):
                self._queue.put(None)
                process.join(timeout=1.0)
            if process.is_alive():
                process.kill()
                process.join(timeout=5.0)
        if self._queue is not None:
            with contextlib.suppress(Exception):  # never wait on a process that is gone
                self._queue.cancel_join_thread()
                self._queue.close()
            self._queue = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> Drawer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _claim(folder: Path, index: int) -> bool:
    """Claim sketch ``index`` for the process that calls this: ``False`` when the other one
    (the run or the drawing process) has claimed it (an exclusive create is atomic)."""
    try:
        os.close(os.open(folder / f"{index}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _draw_aside(sketches: Any, folder: str, parent: int) -> None:
    """The drawing process: draw each ``(index, pickled sketch)`` the run has not claimed
    into ``folder`` as ``<index>.png`` (``.none`` when there is nothing to draw, ``.failed``
    when drawing raised: the run draws it itself and sees the error); end on ``None`` or when
    the run's process ``parent`` is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the run's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # the lowest priority: it uses a core the run leaves idle, never slows the run's own
    # threads (an OpenMP fit spinning on both cores would wait for a preempted thread)
    with contextlib.suppress(OSError):
        os.nice(19)
    pyplot()  # imported while the run goes on
    out = Path(folder)
    while True:
        try:
            item = sketches.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if os.getppid() != parent:
                return
            continue
        if item is None:
            return
        index, payload = item
        if not _claim(out, index):
            continue  # the run draws it
        try:
            data = pickle.loads(payload).png()
        except Exception:
            (out / f"{index}.failed").touch()
            continue
        if data is None:
            (out / f"{index}.none").touch()
            continue
        partial = out / f"{index}.part"
        partial.write_bytes(data)
        os.replace(partial, out / f"{index}.png")


__all__ = ["PNG_SAVE", "Drawer", "Sketch", "png", "pyplot"]
