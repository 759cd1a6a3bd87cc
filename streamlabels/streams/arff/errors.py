"""What reading an ARFF file can refuse: a malformed file, or labels that cannot be told apart."""

from __future__ import annotations

import os

__all__ = ["ArffError", "Fallback", "LabelSpecError"]


class ArffError(ValueError):
    """A malformed ARFF file, reported with the file, the line and what was expected.

    Parameters
    ----------
    path
        The file being read.
    line
        1-based line number of the offending line, or ``None`` for problems that
        concern the whole file (e.g. no ``@data`` section).
    reason
        What was wrong and what was expected.

    Examples
    --------
    >>> err = ArffError("data.arff", 7, "expected 4 values in a dense row, got 3")
    >>> str(err)
    'data.arff:7: expected 4 values in a dense row, got 3'
    >>> err.line
    7
    """

    def __init__(self, path: str | os.PathLike, line: int | None, reason: str):
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):
        return type(self), (self.path, self.line, self.reason)


class LabelSpecError(ValueError):
    """The label attributes of a file cannot be determined from what was given."""


class Fallback(Exception):
    """The vectorised reader met something it leaves to the line-by-line reader (quotes,
    comments, a mix of dense and sparse rows, or an error that must be reported by line)."""
