"""Reading multi-label ARFF files (MULAN and MEKA conventions), dense or sparse.

The common ARFF readers either cannot read sparse rows (``scipy.io.arff``), leave
labels as the strings ``'0'``/``'1'``, or depend on one of several incompatible
third-party ``arff`` packages. This module is a small self-contained parser that
knows where multi-label files keep their labels:

* MULAN: label names are listed in a companion XML file (``emotions.xml`` beside
  ``emotions.arff``), or given by the caller;
* MEKA: the relation name holds ``-C n`` (the first ``n`` attributes are labels)
  or ``-C -n`` (the last ``n``).

Two ways of reading are offered. :class:`ArffStream` walks the file line by line
and yields river-style ``(x, y)`` pairs, so memory stays bounded whatever the file
size. :func:`load_arff` reads a whole file into numpy / scipy arrays with
vectorised parsing, for offline experiments and fast evaluation.

Value conventions
-----------------
* Numeric attributes (``numeric``, ``real``, ``integer``) become ``float``.
* Nominal *features* become the ``float`` position of the value in the declared
  list: with ``{red, green, blue}``, ``green`` is ``1.0``. For the ubiquitous
  ``{0,1}`` features this is the value itself, and it agrees with the sparse-row
  rule that an absent value is the first declared one.
* Labels (nominal ``{0,1}`` or numeric 0/1) become ``bool``; a label absent from
  a sparse row is ``False``.
* ``?`` marks a missing value: the feature is left out of ``x`` when streaming and
  is ``NaN`` in arrays. A missing label is an error, since ``y`` must be complete.

Examples
--------
>>> import pathlib, tempfile
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> _ = (tmp / "toy.arff").write_text(
...     "@relation 'toy: -C 2'\\n"
...     "@attribute sport {0,1}\\n@attribute art {0,1}\\n"
...     "@attribute length numeric\\n@attribute colour {red,green}\\n"
...     "@data\\n1,0,2.5,green\\n{1 1, 2 7}\\n")
>>> stream = ArffStream(tmp / "toy.arff")
>>> stream.label_names, stream.feature_names
(['sport', 'art'], ['length', 'colour'])
>>> for x, y in stream:
...     print(x, y)
{'length': 2.5, 'colour': 1.0} {'sport': True, 'art': False}
{'length': 7.0} {'sport': False, 'art': True}
>>> data = load_arff(tmp / "toy.arff")
>>> data.X
array([[2.5, 1. ],
       [7. , 0. ]])
>>> data.Y
array([[ True, False],
       [False,  True]])
"""

from __future__ import annotations

import bz2
import difflib
import gzip
import io
import os
import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse as sp

__all__ = [
    "ArffData",
    "ArffError",
    "ArffHeader",
    "ArffStream",
    "Attribute",
    "LabelSpecError",
    "load_arff",
    "read_header",
]

LabelSpec = Sequence[str] | int | str | os.PathLike | None


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


@dataclass
class ArffData:
    """A whole file as arrays: ``X`` (n, features) float64, ``Y`` (n, labels) bool.

    ``X`` is a ``numpy.ndarray`` or a ``scipy.sparse.csr_matrix``; missing values
    are ``NaN``.
    """

    X: np.ndarray | sp.csr_matrix
    Y: np.ndarray
    feature_names: list[str]
    label_names: list[str]


# --------------------------------------------------------------------------- files


def _open_text(path: Path) -> io.TextIOWrapper:
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


_READ_ERRORS = (EOFError, OSError, zlib.error)
# ``?`` (a missing value) inside the block parser: a NaN with a payload of its own, so that a
# value written as NaN in the file stays a value (the model's non-finite policy sees it) while
# ``?`` is left out, as dict iteration does.
_MISSING_BITS = np.int64(0x7FF8_DEAD_0000_0001)
_MISSING = np.array([_MISSING_BITS]).view(np.float64)[0]


def _companion_xml(path: Path) -> Path:
    """MULAN's label file for ``path``: ``x.arff``, ``x.arff.gz`` -> ``x.xml``."""
    name = path.name
    for suffix in (".gz", ".bz2"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    if name.lower().endswith(".arff"):
        name = name[: -len(".arff")]
    return path.with_name(name + ".xml")


# ---------------------------------------------------------------------- tokenising

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_QUOTES = "'\""
_BLANK = " \t"


def _skip_blank(s: str, i: int) -> int:
    while i < len(s) and s[i] in _BLANK:
        i += 1
    return i


def _scan_quoted(s: str, i: int, path: Path, lineno: int) -> tuple[str, int]:
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


def _scan_value(s: str, i: int, stops: str, path: Path, lineno: int) -> tuple[str, int]:
    """Read one quoted or bare value from ``s[i:]``; a bare value ends at a char of ``stops``.

    Returns the value and the position of the next non-blank character.
    """
    i = _skip_blank(s, i)
    if i < len(s) and s[i] in _QUOTES:
        value, i = _scan_quoted(s, i, path, lineno)
        return value, _skip_blank(s, i)
    j = i
    while i < len(s) and s[i] not in stops:
        i += 1
    return s[j:i].strip(), i


def _split_dense_slow(s: str, path: Path, lineno: int) -> list[str]:
    """Split a dense row that may hold quoted values or a trailing ``%`` comment."""
    values = []
    i = 0
    while True:
        value, i = _scan_value(s, i, ",%", path, lineno)
        values.append(value)
        if i >= len(s) or s[i] == "%":
            return values
        if s[i] != ",":
            raise ArffError(
                path, lineno, f"expected ',' after value {value!r} at column {i + 1}, got {s[i]!r}"
            )
        i += 1


_SPARSE_INDEX = re.compile(r"\s*(\S+?)\s+")


def _split_sparse_slow(s: str, path: Path, lineno: int) -> tuple[list[str], list[str]]:
    """Split a sparse row ``{i v, ...}`` that may hold quoted values or comments."""
    indices: list[str] = []
    values: list[str] = []
    i = _skip_blank(s, 1)
    if i < len(s) and s[i] == "}":
        i += 1
    else:
        while True:
            m = _SPARSE_INDEX.match(s, i)
            if m is None or m.group(1)[0] in "}," + _QUOTES:
                raise ArffError(
                    path,
                    lineno,
                    f"malformed sparse entry at column {i + 1}: expected 'index value'",
                )
            value, i = _scan_value(s, m.end(), ",}%", path, lineno)
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


# -------------------------------------------------------------------------- header

_KEYWORD = re.compile(r"@(\w+)\s*(.*)$", re.DOTALL)
_MEKA_C = re.compile(r"(?:^|[\s:])-C\s+(-?\d+)")
_NUMERIC_TYPES = {"numeric", "real", "integer"}


def _parse_attribute(rest: str, path: Path, lineno: int) -> Attribute:
    if not rest:
        raise ArffError(path, lineno, "expected an attribute name and type after @attribute")
    if rest[0] in _QUOTES:
        name, i = _scan_quoted(rest, 0, path, lineno)
    else:
        m = re.match(r"[^\s{]+", rest)
        if m is None:
            raise ArffError(path, lineno, "expected an attribute name before the type")
        name, i = m.group(0), m.end()
    kind_text = rest[i:].strip()
    if kind_text.startswith("{"):
        values = []
        if kind_text[_skip_blank(kind_text, 1) :][:1] != "}":
            j = 1
            while True:
                value, j = _scan_value(kind_text, j, ",}", path, lineno)
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


def _parse_header(f: io.TextIOWrapper, path: Path) -> ArffHeader:
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
                quoted = rest != "" and rest[0] in _QUOTES
                relation = _scan_quoted(rest, 0, path, lineno)[0] if quoted else rest
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
    except _READ_ERRORS as exc:
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
    with _open_text(path) as f:
        return _parse_header(f, path)


# -------------------------------------------------------------------------- labels


def _xml_label_names(xml: Path) -> list[str]:
    """Label names of a MULAN XML file, in document order (nested labels included)."""
    try:
        root = ET.parse(xml).getroot()
    except (ET.ParseError, OSError) as exc:
        raise LabelSpecError(f"cannot read the MULAN label file {xml}: {exc}") from exc
    names = [e.get("name") for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "label"]
    if not names or None in names:
        raise LabelSpecError(f"{xml} holds no <label name=...> elements")
    return names


def _label_indices(header: ArffHeader, path: Path, labels: LabelSpec) -> list[int]:
    """Attribute positions of the labels, in label order, from any accepted spec."""
    names = [a.name for a in header.attributes]
    n_attr = len(names)
    hint = (
        "pass the label names (labels=[...], or --labels on the command line), their count "
        "(labels=n for the first n attributes, labels=-n for the last n), or a MULAN XML file"
    )
    if labels is None:
        xml = _companion_xml(path)
        if xml.exists():
            return _named(_xml_label_names(xml), names, f"the label file {xml}", path)
        if header.meka_labels is None:
            raise LabelSpecError(
                f"{path}: cannot tell which attributes are labels: no MEKA '-C n' in the "
                f"relation name and no MULAN label file {xml.name} beside it; {hint}"
            )
        labels = header.meka_labels
    if isinstance(labels, bool):
        raise LabelSpecError(f"labels={labels!r} is not a label specification; {hint}")
    if isinstance(labels, int):
        _check_declared_count(header, path, labels)
        if labels == 0 or abs(labels) >= n_attr:
            raise LabelSpecError(
                f"{path}: {labels} labels leaves no features among {n_attr} attributes; {hint}"
            )
        return list(range(labels)) if labels > 0 else list(range(n_attr + labels, n_attr))
    if isinstance(labels, (str, os.PathLike)):
        xml = Path(labels)
        if not xml.is_file():
            raise LabelSpecError(
                f"labels={str(labels)!r} is not an existing MULAN XML file; to name a single "
                f"label pass a list, labels=[{str(labels)!r}]"
            )
        return _named(_xml_label_names(xml), names, f"the label file {xml}", path)
    return _named(list(labels), names, "labels=", path)


def _check_declared_count(header: ArffHeader, path: Path, labels: int) -> None:
    """A label count that contradicts the file's own declaration (a MULAN XML beside it, or
    MEKA's ``-C n``) would silently turn labels into features or features into labels."""
    xml = _companion_xml(path)
    if xml.exists():
        declared, source = len(_xml_label_names(xml)), f"its label file {xml.name}"
    elif header.meka_labels is not None:
        declared, source = abs(header.meka_labels), "the MEKA '-C' option of its relation name"
    else:
        return
    if abs(labels) != declared:
        raise LabelSpecError(
            f"{path}: {source} declares {declared} labels, but labels={labels} asks for "
            f"{abs(labels)}"
        )


def _named(wanted: list[str], names: list[str], source: str, path: Path) -> list[int]:
    position = {name: i for i, name in enumerate(names)}
    missing = [w for w in wanted if w not in position]
    if missing:
        close = difflib.get_close_matches(str(missing[0]), names, n=1, cutoff=0.5)
        suggestion = f" (did you mean {close[0]!r}?)" if close else ""
        raise LabelSpecError(
            f"{path}: {len(missing)} label name(s) from {source} are not attributes of the "
            f"file: {missing[:5]}{suggestion}"
        )
    if len(set(wanted)) != len(wanted):
        raise LabelSpecError(f"{path}: label names from {source} repeat a name")
    if not wanted or len(wanted) == len(names):
        raise LabelSpecError(
            f"{path}: {source} must name at least one label and leave at least one feature"
        )
    return [position[w] for w in wanted]


# -------------------------------------------------------------------------- values


def _numeric_label(value: str) -> bool:
    number = float(value)
    if number not in (0.0, 1.0):
        raise ValueError(value)
    return number == 1.0


class _Fallback(Exception):
    """The vectorised reader met something it leaves to the line-by-line reader."""


class ArffStream:
    """A re-iterable stream of ``(x, y)`` pairs from a multi-label ARFF file.

    Parameters
    ----------
    path
        Plain, ``.gz`` or ``.bz2`` ARFF file (compression is detected from content).
    labels
        Which attributes are labels. ``None``: a MULAN XML file beside the data
        (``<stem>.xml``), else MEKA's ``-C n`` in the relation name. A list of
        attribute names; an ``int`` ``n`` (first ``n`` attributes, or the last
        ``|n|`` if negative); or the path of a MULAN XML file. ``y`` keeps the order
        given here, which need not be the order in the file.

    Notes
    -----
    Each pass re-opens the file and reads it line by line, so memory use does not
    grow with the file. ``x`` holds every feature of a dense row (minus ``?``
    values) and only the features present in a sparse row; ``y`` always holds every
    label.
    """

    def __init__(self, path: str | os.PathLike, labels: LabelSpec = None):
        self.path = Path(path)
        with _open_text(self.path) as f:
            self.header = _parse_header(f, self.path)
            self.sparse = self._peek_sparse(f)
        attributes = self.header.attributes
        label_idx = _label_indices(self.header, self.path, labels)
        for i in label_idx:
            a = attributes[i]
            if a.kind not in ("numeric", "nominal") or (
                a.kind == "nominal" and not set(a.values) <= {"0", "1"}
            ):
                declared = "{" + ",".join(a.values) + "}" if a.values is not None else a.kind
                raise LabelSpecError(
                    f"{self.path}: attribute {a.name!r} ({declared}) cannot be a label; labels "
                    "must be nominal {0,1} or numeric 0/1 — check the label specification"
                )
        is_label = set(label_idx)
        for i, a in enumerate(attributes):
            if a.kind in ("string", "date") and i not in is_label:
                raise ArffError(
                    self.path,
                    a.line,
                    f"attribute {a.name!r} has type {a.kind}; only numeric and nominal "
                    "features can be read",
                )
        self._label_idx = label_idx
        self._feature_idx = [i for i in range(len(attributes)) if i not in is_label]
        self.label_names = [attributes[i].name for i in label_idx]
        self.feature_names = [attributes[i].name for i in self._feature_idx]
        self._n_attr = len(attributes)
        self._convert = [self._converter(i, i in is_label) for i in range(self._n_attr)]
        self._feature_of = [None] * self._n_attr
        for i in self._feature_idx:
            self._feature_of[i] = attributes[i].name
        self._label_of = [None] * self._n_attr
        for i in label_idx:
            self._label_of[i] = attributes[i].name
        self._features = [(i, attributes[i].name, self._convert[i]) for i in self._feature_idx]
        self._labels = [(i, attributes[i].name, self._convert[i]) for i in label_idx]
        self._no_labels = dict.fromkeys(self.label_names, False)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_labels(self) -> int:
        return len(self.label_names)

    def __repr__(self) -> str:
        return (
            f"ArffStream({str(self.path)!r}, {self.n_features} features, "
            f"{self.n_labels} labels, {'sparse' if self.sparse else 'dense'})"
        )

    def _peek_sparse(self, f: io.TextIOWrapper) -> bool:
        lineno = self.header.data_line
        try:
            for line in f:
                lineno += 1
                s = line.lstrip()
                if s and s[0] != "%":
                    return s[0] == "{"
        except _READ_ERRORS as exc:
            raise ArffError(self.path, lineno, f"cannot read the file: {exc}") from exc
        return False

    def _converter(self, i: int, is_label: bool):
        a = self.header.attributes[i]
        if is_label:
            if a.kind == "numeric":
                return _numeric_label
            return {v: v == "1" for v in a.values}.__getitem__
        if a.kind == "numeric":
            return float
        return {v: float(k) for k, v in enumerate(a.values)}.__getitem__

    def _value_problem(self, i: int, value: str) -> str | None:
        """Why ``value`` is not acceptable for attribute ``i`` (``None`` if it is)."""
        a = self.header.attributes[i]
        if self._label_of[i] is not None:
            try:
                self._convert[i](value)
                return None
            except (KeyError, ValueError):
                if value == "?":
                    return f"label {a.name!r} is missing ('?'); every label must be 0 or 1"
                return f"label {a.name!r} has value {value!r}; expected 0 or 1"
        if value == "?":
            return None
        try:
            self._convert[i](value)
            return None
        except (KeyError, ValueError):
            if a.kind == "numeric":
                return f"attribute {a.name!r} is numeric but the value is {value!r}"
            shown = ",".join(a.values[:10]) + (",..." if len(a.values) > 10 else "")
            return f"value {value!r} of attribute {a.name!r} is not one of {{{shown}}}"

    def _raise_value(self, indices, values, lineno: int):
        for i, v in zip(indices, values):
            problem = self._value_problem(i, v)
            if problem:
                raise ArffError(self.path, lineno, problem)
        raise ArffError(self.path, lineno, "unreadable row")

    def _split(self, s: str, lineno: int) -> tuple[list[int] | None, list[str]]:
        """Split a stripped data line into (attribute indices or None if dense, values)."""
        plain = "'" not in s and '"' not in s and "%" not in s
        if s[0] != "{":
            values = [v.strip() for v in s.split(",")] if plain else _split_dense_slow(
                s, self.path, lineno
            )
            if len(values) != self._n_attr:
                raise ArffError(
                    self.path,
                    lineno,
                    f"expected {self._n_attr} values in a dense row, got {len(values)}",
                )
            return None, values
        if plain:
            if s[-1] != "}":
                raise ArffError(
                    self.path, lineno, "unterminated sparse row: expected '}' at the end"
                )
            raw_idx, values = [], []
            inner = s[1:-1]
            if inner.strip():
                for entry in inner.split(","):
                    parts = entry.split()
                    if len(parts) != 2:
                        raise ArffError(
                            self.path,
                            lineno,
                            f"malformed sparse entry {entry.strip()!r}: expected 'index value'",
                        )
                    raw_idx.append(parts[0])
                    values.append(parts[1])
        else:
            raw_idx, values = _split_sparse_slow(s, self.path, lineno)
        indices = []
        previous = -1
        for r in raw_idx:
            try:
                k = int(r)
            except ValueError:
                raise ArffError(
                    self.path, lineno, f"sparse index {r!r} is not a non-negative integer"
                ) from None
            if not 0 <= k < self._n_attr:
                raise ArffError(
                    self.path,
                    lineno,
                    f"sparse index {k} out of range: the file declares {self._n_attr} "
                    f"attributes (indices 0..{self._n_attr - 1})",
                )
            if k <= previous:
                raise ArffError(
                    self.path, lineno, f"sparse indices must increase, but {k} follows {previous}"
                )
            previous = k
            indices.append(k)
        return indices, values

    def _lines(self) -> Iterator[tuple[int, str]]:
        """Yield ``(line number, stripped line)`` for every data line."""
        lineno = self.header.data_line
        try:
            with _open_text(self.path) as f:
                for _ in range(lineno):
                    f.readline()
                for line in f:
                    lineno += 1
                    s = line.strip()
                    if s and s[0] != "%":
                        yield lineno, s
        except _READ_ERRORS as exc:
            raise ArffError(
                self.path, lineno + 1, f"cannot read the file (truncated or corrupt?): {exc}"
            ) from exc

    def __iter__(self) -> Iterator[tuple[dict[str, float], dict[str, bool]]]:
        feature_of, label_of, convert = self._feature_of, self._label_of, self._convert
        for lineno, s in self._lines():
            indices, values = self._split(s, lineno)
            x: dict[str, float] = {}
            try:
                if indices is None:
                    y = {}
                    for i, name, conv in self._features:
                        v = values[i]
                        if v != "?":
                            x[name] = conv(v)
                    for i, name, conv in self._labels:
                        y[name] = conv(values[i])
                else:
                    y = dict(self._no_labels)
                    for i, v in zip(indices, values):
                        name = feature_of[i]
                        if name is None:
                            y[label_of[i]] = convert[i](v)
                        elif v != "?":
                            x[name] = convert[i](v)
            except (KeyError, ValueError):
                self._raise_value(indices or range(self._n_attr), values, lineno)
            yield x, y

    # ------------------------------------------------------------------ arrays

    def batches(self, size: int = 1000) -> Iterator[tuple[sp.csr_array, np.ndarray]]:
        """The stream in blocks of ``size`` rows, as arrays: ``(X, Y)``.

        ``X`` (rows x features, CSR, columns in ``feature_names`` order) holds exactly the
        entries of the dicts that iteration yields: explicit zeros kept, ``?`` left out. ``Y``
        is bool, columns in ``label_names`` order. Blocks are parsed as :func:`load_arff`
        parses files (numpy where the text allows, else line by line, with the same errors),
        so memory holds one block at a time.
        """
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        block: list[tuple[int, str]] = []
        for numbered in self._lines():
            block.append(numbered)
            if len(block) == size:
                yield self._block(block)
                block = []
        if block:
            yield self._block(block)

    def _block(self, numbered: list[tuple[int, str]]) -> tuple[sp.csr_array, np.ndarray]:
        try:
            n, rows, cols, values = self._triplets_of([s for _, s in numbered])
        except _Fallback:
            n, rows, cols, values = self._triplets_slow(numbered)
        present = values.view(np.int64) != _MISSING_BITS
        Y, rows, fcols, values = self._split_labels(n, rows, cols, values, present)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        return sp.csr_array((values, fcols, indptr), shape=(n, self.n_features)), Y

    def _triplets_slow(self, numbered=None) -> tuple[np.ndarray, ...]:
        """Row, attribute and value of every entry, read line by line (any text); ``numbered``:
        ``(line number, stripped line)`` pairs (default: the whole file)."""
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        n = 0
        dense_cols = list(range(self._n_attr))
        for lineno, s in self._lines() if numbered is None else numbered:
            indices, values = self._split(s, lineno)
            indices = dense_cols if indices is None else indices
            for i, v in zip(indices, values):
                problem = self._value_problem(i, v)
                if problem:
                    raise ArffError(self.path, lineno, problem)
                vals.append(_MISSING if v == "?" else float(self._convert[i](v)))
            rows.extend([n] * len(indices))
            cols.extend(indices)
            n += 1
        return (
            n,
            np.asarray(rows, dtype=np.int64),
            np.asarray(cols, dtype=np.int64),
            np.asarray(vals, dtype=np.float64),
        )

    _SPARSE_ROW = re.compile(r"\{\s*(?:[0-9]+\s+[^\s,{}]+\s*(?:,\s*[0-9]+\s+[^\s,{}]+\s*)*)?\}")

    def _triplets_fast(self) -> tuple[np.ndarray, ...]:
        """Vectorised :meth:`_triplets_slow` for unquoted, uncommented, unmixed data."""
        with _open_text(self.path) as f:
            for _ in range(self.header.data_line):
                f.readline()
            try:
                text = f.read()
            except _READ_ERRORS as exc:
                raise _Fallback from exc
        rows = [s for s in (line.strip() for line in text.split("\n")) if s and s[0] != "%"]
        del text
        return self._triplets_of(rows)

    def _triplets_of(self, rows: list[str]) -> tuple[np.ndarray, ...]:
        """:meth:`_triplets_fast` on stripped data lines."""
        if any("%" in s or "'" in s or '"' in s for s in rows):
            raise _Fallback
        n = len(rows)
        n_attr = self._n_attr
        n_sparse = sum(s[0] == "{" for s in rows)
        if n_sparse == 0:
            if any(s.count(",") != n_attr - 1 for s in rows):
                raise _Fallback
            tokens = ",".join(rows).split(",")
            row_of = np.repeat(np.arange(n, dtype=np.int64), n_attr)
            col_of = np.tile(np.arange(n_attr, dtype=np.int64), n)
        elif n_sparse == n:
            match = self._SPARSE_ROW.fullmatch
            if not all(match(s) for s in rows):
                raise _Fallback
            inner = [s[1:-1] for s in rows]
            counts = np.fromiter(
                (s.count(",") + 1 if s.strip() else 0 for s in inner), dtype=np.int64, count=n
            )
            flat = " ".join(inner).replace(",", " ").split()
            tokens = flat[1::2]
            try:
                col_of = np.array(flat[0::2], dtype=np.int64) if flat else np.zeros(0, np.int64)
            except OverflowError:  # an index beyond int64: the line reader reports it
                raise _Fallback from None
            row_of = np.repeat(np.arange(n, dtype=np.int64), counts)
            if col_of.size:
                if col_of.max() >= n_attr:
                    raise _Fallback
                same_row = row_of[1:] == row_of[:-1]
                if np.any(col_of[1:][same_row] <= col_of[:-1][same_row]):
                    raise _Fallback
        else:
            raise _Fallback
        del rows
        tokens = np.array(tokens, dtype=object)
        values = np.empty(len(tokens), dtype=np.float64)
        groups: dict[object, list[int]] = {}
        for i, a in enumerate(self.header.attributes):
            key = (self._label_of[i] is not None, a.kind, a.values)
            groups.setdefault(key, []).append(i)
        group_of = np.empty(n_attr, dtype=np.int64)
        for g, members in enumerate(groups.values()):
            group_of[members] = g
        entry_group = group_of[col_of]
        for g, members in enumerate(groups.values()):
            mask = entry_group == g
            if mask.any():
                values[mask] = self._group_values(members[0], tokens[mask])
        return n, row_of, col_of, values

    def _split_labels(self, n, rows, cols, values, keep) -> tuple[np.ndarray, ...]:
        """Entries to ``Y`` (labels) and the feature entries where ``keep`` holds, as
        ``(Y, rows, feature columns, values)``."""
        position = np.full(self._n_attr, -1, dtype=np.int64)
        position[self._feature_idx] = np.arange(self.n_features)
        label_position = np.full(self._n_attr, -1, dtype=np.int64)
        label_position[self._label_idx] = np.arange(self.n_labels)
        Y = np.zeros((n, self.n_labels), dtype=bool)
        is_label = label_position[cols] >= 0
        Y[rows[is_label], label_position[cols[is_label]]] = values[is_label] == 1.0
        keep = ~is_label & keep
        return Y, rows[keep], position[cols[keep]], values[keep]

    def _group_values(self, i: int, tokens: np.ndarray) -> np.ndarray:
        """Values of raw ``tokens`` (object array) for attribute ``i`` and its look-alikes."""
        if self._feature_of[i] is not None and self.header.attributes[i].kind == "numeric":
            try:
                return tokens.astype(np.float64)
            except ValueError:
                pass
        vocabulary = dict.fromkeys(tokens.tolist())
        for k, token in enumerate(vocabulary):
            vocabulary[token] = k
        ids = np.fromiter(map(vocabulary.__getitem__, tokens), dtype=np.int64, count=len(tokens))
        return self._value_table(i, [w.strip() for w in vocabulary])[ids]

    def _value_table(self, i: int, words: list[str]) -> np.ndarray:
        """The values of ``words`` for attribute ``i`` (and its look-alikes), the missing-value
        NaN for ``?``."""
        missing = np.array([w == "?" for w in words], dtype=bool)
        if self._feature_of[i] is not None and self.header.attributes[i].kind == "numeric":
            try:
                out = np.array(["0" if w == "?" else w for w in words], dtype=np.float64)
            except ValueError:
                raise _Fallback from None
        else:
            if any(self._value_problem(i, w) for w in words):
                raise _Fallback
            convert = self._convert[i]
            out = np.array([0.0 if w == "?" else float(convert(w)) for w in words])
        out[missing] = _MISSING
        return out

    def _arrays(self, sparse: bool | None) -> ArffData:
        try:
            n, rows, cols, values = self._triplets_fast()
        except _Fallback:
            n, rows, cols, values = self._triplets_slow()
        Y, rows, fcols, values = self._split_labels(n, rows, cols, values, values != 0.0)
        if sparse is None:
            sparse = self.sparse
        if sparse:
            indptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
            X = sp.csr_matrix((values, fcols, indptr), shape=(n, self.n_features))
        else:
            X = np.zeros((n, self.n_features), dtype=np.float64)
            X[rows, fcols] = values
        return ArffData(X, Y, list(self.feature_names), list(self.label_names))


def load_arff(
    path: str | os.PathLike, labels: LabelSpec = None, sparse: bool | None = None
) -> ArffData:
    """Read a whole ARFF file into arrays.

    Parameters
    ----------
    path, labels
        As for :class:`ArffStream`.
    sparse
        ``True`` for a ``scipy.sparse.csr_matrix`` ``X``, ``False`` for a dense
        array, ``None`` for the same form as the file's rows.

    Notes
    -----
    Unquoted, comment-free data blocks are parsed with a few whole-block string
    operations and numpy; other files, and files with an error, go through the
    line-by-line reader, so errors read the same as when streaming.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.arff"
    >>> _ = p.write_text("@relation s\\n@attribute a numeric\\n@attribute b numeric\\n"
    ...                  "@attribute L {0,1}\\n@data\\n{0 3,2 1}\\n{1 ?}\\n")
    >>> d = load_arff(p, labels=["L"])
    >>> d.X.toarray()
    array([[ 3.,  0.],
           [ 0., nan]])
    >>> d.Y.ravel().tolist()
    [True, False]
    """
    return ArffStream(path, labels)._arrays(sparse)
