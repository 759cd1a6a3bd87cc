"""Dense data rows: ``v1,v2,...``, one value per attribute, in declaration order.

One line is split by :func:`split_dense`; a block of plain lines (no quote, no comment) by
:func:`dense_entries` at once, which leaves anything unusual to the line reader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streamlabels.streams.arff.errors import ArffError, Fallback
from streamlabels.streams.arff.text import is_plain, scan_value

__all__ = ["dense_entries", "split_dense"]


def split_dense(s: str, n_attr: int, path: Path, lineno: int) -> list[str]:
    """The values of the dense row ``s`` (stripped), which must be ``n_attr``."""
    values = [v.strip() for v in s.split(",")] if is_plain(s) else _split_quoted(s, path, lineno)
    if len(values) != n_attr:
        raise ArffError(path, lineno, f"expected {n_attr} values in a dense row, got {len(values)}")
    return values


def _split_quoted(s: str, path: Path, lineno: int) -> list[str]:
    """Split a dense row that may hold quoted values or a trailing ``%`` comment."""
    values = []
    i = 0
    while True:
        value, i = scan_value(s, i, ",%", path, lineno)
        values.append(value)
        if i >= len(s) or s[i] == "%":
            return values
        if s[i] != ",":
            raise ArffError(
                path, lineno, f"expected ',' after value {value!r} at column {i + 1}, got {s[i]!r}"
            )
        i += 1


def dense_entries(rows: list[str], n_attr: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Row, attribute and raw text of every value of plain dense ``rows``.

    Raises :class:`Fallback` when a row has the wrong number of values: the line reader then
    names the line.
    """
    if any(s.count(",") != n_attr - 1 for s in rows):
        raise Fallback
    n = len(rows)
    tokens = ",".join(rows).split(",")
    row_of = np.repeat(np.arange(n, dtype=np.int64), n_attr)
    col_of = np.tile(np.arange(n_attr, dtype=np.int64), n)
    return row_of, col_of, tokens
