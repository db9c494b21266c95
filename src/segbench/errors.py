"""The one exception type for expected user errors.

A :class:`SegbenchError` is a mistake in the input (a config name, a data file, a parameter)
that the user can fix. The command-line entry point prints its message as one paragraph and
exits non-zero, without a traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SegbenchError(Exception):
    """An expected, user-fixable error; the message says what was expected and what was found."""


class ConfigError(SegbenchError):
    """A configuration value names something that does not exist or cannot work."""


class DataError(SegbenchError):
    """A dataset is missing, empty, malformed or lacks a part that was asked for."""
