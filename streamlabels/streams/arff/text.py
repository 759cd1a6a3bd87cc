"""An ARFF file's text: opened whatever its compression, read line by line, and cut into quoted
or bare values. The header, dense rows and sparse rows all read through here, so a file is
decompressed, and a quote or escape is understood, the same way everywhere."""

from __future__ import annotations

import bz2
import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path

from streamlabels.streams.arff.errors import ArffError

__all__ = [
    "QUOTES",
    "READ_ERRORS",
    "data_lines",
    "is_plain",
    "open_text",
    "scan_quoted",
    "scan_value",
    "skip_blank",
]

READ_ERRORS = (EOFError, OSError, zlib.error)
"""What a truncated or corrupt file (plain, gzip or bzip2) raises while being read."""

QUOTES = "'\""
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_BLANK = " \t"


def open_text(path: Path) -> io.TextIOWrapper:
    """Open ``path`` for reading text, decompressing gzip or bzip2 by magic number.

    Sniffing the content rather than trusting the suffix lets a cached or renamed
    file be read whatever it is called.
    """
    with open(path, "rb") as f:
        magic = f.read(3)
    if magic[:2] == b"\x1f\x8b":
        raw = gzip.open(path, "rb")
    elif magic == b"BZh":
        raw = bz2.open(path, "rb")
    else:
        raw = open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace")


def data_lines(path: Path, data_line: int) -> Iterator[tuple[int, str]]:
    """``(line number, stripped line)`` of every data line after line ``data_line`` (``@data``);
    blank and comment lines are skipped."""
    lineno = data_line
    try:
        with open_text(path) as f:
            for _ in range(lineno):
                f.readline()
            for line in f:
                lineno += 1
                s = line.strip()
                if s and s[0] != "%":
                    yield lineno, s
    except READ_ERRORS as exc:
        raise ArffError(
            path, lineno + 1, f"cannot read the file (truncated or corrupt?): {exc}"
        ) from exc


def is_plain(s: str) -> bool:
    """Whether a data line holds no quote and no comment, so that splitting at commas (and, in
    a sparse row, at blanks) reads it exactly."""
    return "'" not in s and '"' not in s and "%" not in s


def skip_blank(s: str, i: int) -> int:
    while i < len(s) and s[i] in _BLANK:
        i += 1
    return i


def scan_quoted(s: str, i: int, path: Path, lineno: int) -> tuple[str, int]:
    """Read the quoted string starting at ``s[i]``; backslash escapes the next char."""
    quote = s[i]
    out = []
    j = i + 1
    while j < len(s):
        c = s[j]
        if c == "\\" and j + 1 < len(s):
            out.append(_ESCAPES.get(s[j + 1], s[j + 1]))
            j += 2
        elif c == quote:
            return "".join(out), j + 1
        else:
            out.append(c)
            j += 1
    raise ArffError(path, lineno, f"unterminated quoted string starting at column {i + 1}")


def scan_value(s: str, i: int, stops: str, path: Path, lineno: int) -> tuple[str, int]:
    """Read one quoted or bare value from ``s[i:]``; a bare value ends at a char of ``stops``.

    Returns the value and the position of the next non-blank character.
    """
    i = skip_blank(s, i)
    if i < len(s) and s[i] in QUOTES:
        value, i = scan_quoted(s, i, path, lineno)
        return value, skip_blank(s, i)
    j = i
    while i < len(s) and s[i] not in stops:
        i += 1
    return s[j:i].strip(), i
