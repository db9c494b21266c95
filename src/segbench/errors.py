"""The exception types for expected user errors.

A :class:`SegbenchError` is a mistake in the input (a config name, a data file, a parameter)
that the user can fix. The command-line entry point prints its message as one paragraph and
exits non-zero, without a traceback. Anything else is a bug and keeps its traceback.
:class:`ConfigError` and :class:`DataError` subclass :class:`ValueError`, as scikit-learn's
errors do, so code that catches ``ValueError`` around a segbench call keeps working.

The message of an error may show the user their own values (a duplicated customer id, a line
of their file). What a run records in the tracking store is :func:`store_message`: the error's
``public`` message when it has one, which must not carry raw customer identifiers or texts.

>>> err = DataError("customer_id must be unique; duplicated e.g. ['17850']",
...                 public="customer_id must be unique; 1 duplicated id")
>>> isinstance(err, ValueError), store_message(err)
(True, 'DataError: customer_id must be unique; 1 duplicated id')

:func:`store_traceback` is the traceback to record (``error.txt``): the same frames, with the
public message in place of the one shown on the console.

>>> "17850" in store_traceback(err), store_traceback(err).splitlines()[-1]
(False, 'segbench.errors.DataError: customer_id must be unique; 1 duplicated id')
"""

from __future__ import annotations

import copy
import traceback


class SegbenchError(Exception):
    """An expected, user-fixable error; the message says what was expected and what was found.

    ``public``: the message to record in the tracking store when ``message`` shows raw
    customer values (ids, texts); default: ``message`` itself.
    """

    def __init__(self, message: str = "", *, public: str | None = None) -> None:
        super().__init__(message)
        self.public = message if public is None else public


class ConfigError(SegbenchError, ValueError):
    """A configuration value names something that does not exist or cannot work."""


class DataError(SegbenchError, ValueError):
    """A dataset is missing, empty, malformed or lacks a part that was asked for."""


def store_message(err: BaseException) -> str:
    """The one-line record of ``err`` for the tracking store (``Type: message``)."""
    text = err.public if isinstance(err, SegbenchError) else str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def _public_copy(err: BaseException) -> BaseException:
    """``err`` with its message replaced by the public one (itself when it has none)."""
    if not isinstance(err, SegbenchError) or err.public == str(err):
        return err
    twin = copy.copy(err)
    twin.args = (err.public,)
    return twin


def store_traceback(err: BaseException) -> str:
    """The traceback of ``err`` for the tracking store: every message in the chain replaced
    by its public one (:func:`store_message`), so no raw customer value is recorded."""
    lines: list[str] = []
    seen: set[int] = set()
    chain: list[tuple[BaseException, str]] = []
    current: BaseException | None = err
    note = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, note))
        if current.__cause__ is not None:
            current, note = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, note = current.__context__, _CONTEXT
        else:
            current = None
    for exc, link in reversed(chain):
        twin = _public_copy(exc)
        frames = traceback.format_exception(type(twin), twin, exc.__traceback__, chain=False)
        lines += frames
        if link:
            lines.append(link)
    return "".join(lines)
