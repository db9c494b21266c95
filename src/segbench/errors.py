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
"""

from __future__ import annotations


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
