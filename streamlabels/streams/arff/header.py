"""The header of an ARFF file: the relation (where MEKA writes ``-C n``), the attributes and
their types, and the line of ``@data``."""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from streamlabels.streams.arff.errors import ArffError
from streamlabels.streams.arff.text import (
    QUOTES,
    READ_ERRORS,
    open_text,
    scan_quoted,
    scan_value,
    skip_blank,
)

__all__ = ["ArffHeader", "Attribute", "parse_header", "read_header"]

_KEYWORD = re.compile(r"@(\w+)\s*(.*)$", re.DOTALL)
_MEKA_C = re.compile(r"(?:^|[\s:])-C\s+(-?\d+)")
_NUMERIC_TYPES = {"numeric", "real", "integer"}


@dataclass(frozen=True)
class Attribute:
    """One ``@attribute`` declaration.

    ``kind`` is ``'numeric'`` (also for ``real`` / ``integer``), ``'nominal'``,
    ``'string'`` or ``'date'``; ``values`` holds the declared nominal values, in
    order, and is ``None`` for the other kinds. ``line`` is where it was declared.
    """

    name: str
    kind: str
    values: tuple[str, ...] | None = None
    line: int | None = field(default=None, compare=False)


@dataclass
class ArffHeader:
    """What an ARFF header declares; ``data_line`` is the line number of ``@data``.

    ``meka_labels`` is the ``n`` of a MEKA ``-C n`` option found in the relation
    name (negative when the labels are the last attributes), else ``None``.
    """

    relation: str
    attributes: list[Attribute]
    data_line: int
    meka_labels: int | None


def _parse_attribute(rest: str, path: Path, lineno: int) -> Attribute:
    if not rest:
        raise ArffError(path, lineno, "expected an attribute name and type after @attribute")
    if rest[0] in QUOTES:
        name, i = scan_quoted(rest, 0, path, lineno)
    else:
        m = re.match(r"[^\s{]+", rest)
        if m is None:
            raise ArffError(path, lineno, "expected an attribute name before the type")
        name, i = m.group(0), m.end()
    kind_text = rest[i:].strip()
    if kind_text.startswith("{"):
        values = []
        if kind_text[skip_blank(kind_text, 1) :][:1] != "}":
            j = 1
            while True:
                value, j = scan_value(kind_text, j, ",}", path, lineno)
                values.append(value)
                if j >= len(kind_text) or kind_text[j] not in ",}":
                    raise ArffError(
                        path,
                        lineno,
                        f"unterminated nominal value list of attribute {name!r}: expected '}}'",
                    )
                if kind_text[j] == "}":
                    break
                j += 1
        return Attribute(name, "nominal", tuple(values), lineno)
    word = kind_text.split(None, 1)[0].lower() if kind_text else ""
    if word in _NUMERIC_TYPES:
        return Attribute(name, "numeric", None, lineno)
    if word in ("string", "date"):
        return Attribute(name, word, None, lineno)
    raise ArffError(
        path,
        lineno,
        f"attribute {name!r} has type {kind_text or '(none)'!r}; expected numeric, real, "
        "integer, string, date or a nominal list {a,b,...}",
    )


def parse_header(f: io.TextIOWrapper, path: Path) -> ArffHeader:
    """Read the header from ``f``, which is left just after the ``@data`` line."""
    relation = ""
    attributes: list[Attribute] = []
    seen: set[str] = set()
    lineno = 0
    try:
        while True:
            line = f.readline()
            if not line:
                raise ArffError(
                    path,
                    None,
                    "no @data section: expected a line '@data' after the @attribute lines",
                )
            lineno += 1
            s = line.strip()
            if not s or s[0] == "%":
                continue
            m = _KEYWORD.match(s)
            keyword = m.group(1).lower() if m else None
            if keyword == "relation":
                rest = m.group(2)
                quoted = rest != "" and rest[0] in QUOTES
                relation = scan_quoted(rest, 0, path, lineno)[0] if quoted else rest
            elif keyword == "attribute":
                attribute = _parse_attribute(m.group(2), path, lineno)
                if attribute.name in seen:
                    raise ArffError(path, lineno, f"duplicate attribute name {attribute.name!r}")
                seen.add(attribute.name)
                attributes.append(attribute)
            elif keyword == "data":
                if not attributes:
                    raise ArffError(path, lineno, "@data before any @attribute declaration")
                break
            else:
                raise ArffError(
                    path, lineno, f"expected @relation, @attribute or @data, got {s[:40]!r}"
                )
    except READ_ERRORS as exc:
        raise ArffError(path, lineno or None, f"cannot read the file: {exc}") from exc
    meka = _MEKA_C.search(relation)
    return ArffHeader(relation, attributes, lineno, int(meka.group(1)) if meka else None)


def read_header(path: str | os.PathLike) -> ArffHeader:
    """Parse only the header of an ARFF file (plain, ``.gz`` or ``.bz2``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "h.arff"
    >>> _ = p.write_text("% demo\\n@RELATION 'r: -C -1'\\n@attribute 'a b' REAL\\n"
    ...                  "@attribute c {0,1}\\n@DATA\\n")
    >>> h = read_header(p)
    >>> h.relation, h.meka_labels, h.data_line
    ('r: -C -1', -1, 5)
    >>> [(a.name, a.kind, a.values) for a in h.attributes]
    [('a b', 'numeric', None), ('c', 'nominal', ('0', '1'))]
    """
    path = Path(path)
    with open_text(path) as f:
        return parse_header(f, path)
