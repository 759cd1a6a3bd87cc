"""Sparse data rows: ``{index value, ...}``, indices increasing; an attribute a row leaves out
has its first declared value (0 for numbers and for ``{0,1}``).

One line is split by :func:`split_sparse`; a block of plain lines (no quote, no comment) by
:func:`sparse_entries` at once, which leaves anything unusual to the line reader.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from streamlabels.streams.arff.errors import ArffError, Fallback
from streamlabels.streams.arff.text import QUOTES, is_plain, scan_value, skip_blank

__all__ = ["sparse_entries", "split_sparse"]

_INDEX = re.compile(r"\s*(\S+?)\s+")
_PLAIN_ROW = re.compile(r"\{\s*(?:[0-9]+\s+[^\s,{}]+\s*(?:,\s*[0-9]+\s+[^\s,{}]+\s*)*)?\}")


def split_sparse(s: str, n_attr: int, path: Path, lineno: int) -> tuple[list[int], list[str]]:
    """The attribute indices and values of the sparse row ``s`` (stripped, starting with
    ``{``); indices must be integers in ``[0, n_attr)``, increasing."""
    if is_plain(s):
        raw_indices, values = _split_plain(s, path, lineno)
    else:
        raw_indices, values = _split_quoted(s, path, lineno)
    indices = []
    previous = -1
    for r in raw_indices:
        try:
            k = int(r)
        except ValueError:
            raise ArffError(
                path, lineno, f"sparse index {r!r} is not a non-negative integer"
            ) from None
        if not 0 <= k < n_attr:
            raise ArffError(
                path,
                lineno,
                f"sparse index {k} out of range: the file declares {n_attr} "
                f"attributes (indices 0..{n_attr - 1})",
            )
        if k <= previous:
            raise ArffError(
                path, lineno, f"sparse indices must increase, but {k} follows {previous}"
            )
        previous = k
        indices.append(k)
    return indices, values


def _split_plain(s: str, path: Path, lineno: int) -> tuple[list[str], list[str]]:
    if s[-1] != "}":
        raise ArffError(path, lineno, "unterminated sparse row: expected '}' at the end")
    raw_indices, values = [], []
    inner = s[1:-1]
    if inner.strip():
        for entry in inner.split(","):
            parts = entry.split()
            if len(parts) != 2:
                raise ArffError(
                    path,
                    lineno,
                    f"malformed sparse entry {entry.strip()!r}: expected 'index value'",
                )
            raw_indices.append(parts[0])
            values.append(parts[1])
    return raw_indices, values


def _split_quoted(s: str, path: Path, lineno: int) -> tuple[list[str], list[str]]:
    """Split a sparse row that may hold quoted values or comments."""
    indices: list[str] = []
    values: list[str] = []
    i = skip_blank(s, 1)
    if i < len(s) and s[i] == "}":
        i += 1
    else:
        while True:
            m = _INDEX.match(s, i)
            if m is None or m.group(1)[0] in "}," + QUOTES:
                raise ArffError(
                    path,
                    lineno,
                    f"malformed sparse entry at column {i + 1}: expected 'index value'",
                )
            value, i = scan_value(s, m.end(), ",}%", path, lineno)
            indices.append(m.group(1))
            values.append(value)
            if i >= len(s) or s[i] == "%":
                raise ArffError(path, lineno, "unterminated sparse row: expected '}' to close it")
            if s[i] not in ",}":
                raise ArffError(
                    path, lineno, f"expected ',' or '}}' after value {value!r} at column {i + 1}"
                )
            i += 1
            if s[i - 1] == "}":
                break
    rest = s[i:].strip()
    if rest and rest[0] != "%":
        raise ArffError(path, lineno, f"unexpected text {rest[:30]!r} after the closing '}}'")
    return indices, values


def sparse_entries(rows: list[str], n_attr: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Row, attribute and raw text of every value of plain sparse ``rows``.

    Raises :class:`Fallback` on a malformed row, an index out of range or out of order: the
    line reader then names the line.
    """
    match = _PLAIN_ROW.fullmatch
    if not all(match(s) for s in rows):
        raise Fallback
    n = len(rows)
    inner = [s[1:-1] for s in rows]
    counts = np.fromiter(
        (s.count(",") + 1 if s.strip() else 0 for s in inner), dtype=np.int64, count=n
    )
    flat = " ".join(inner).replace(",", " ").split()
    tokens = flat[1::2]
    try:
        col_of = np.array(flat[0::2], dtype=np.int64) if flat else np.zeros(0, np.int64)
    except OverflowError:  # an index beyond int64: the line reader reports it
        raise Fallback from None
    row_of = np.repeat(np.arange(n, dtype=np.int64), counts)
    if col_of.size:
        if col_of.max() >= n_attr:
            raise Fallback
        same_row = row_of[1:] == row_of[:-1]
        if np.any(col_of[1:][same_row] <= col_of[:-1][same_row]):
            raise Fallback
    return row_of, col_of, tokens
