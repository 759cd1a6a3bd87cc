"""The public readers: :class:`ArffStream` (``(x, y)`` pairs, or array blocks) and
:func:`load_arff` (a whole file as arrays).

They put the package's parts together: the header (:mod:`.header`), which attributes are labels
(:mod:`.labels`), dense and sparse rows (:mod:`.dense`, :mod:`.sparse`) and the conversion of
each value (:mod:`.columns`). Arrays are read in bulk where the text allows and otherwise line by
line, so that errors read the same as when streaming.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse as sp

from streamlabels.streams.arff.columns import MISSING_BITS, Columns
from streamlabels.streams.arff.dense import dense_entries, split_dense
from streamlabels.streams.arff.errors import ArffError, Fallback
from streamlabels.streams.arff.header import parse_header
from streamlabels.streams.arff.labels import LabelSpec, check_label_kinds, label_indices
from streamlabels.streams.arff.sparse import sparse_entries, split_sparse
from streamlabels.streams.arff.text import READ_ERRORS, data_lines, is_plain, open_text

__all__ = ["ArffData", "ArffStream", "load_arff"]


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
        with open_text(self.path) as f:
            self.header = parse_header(f, self.path)
            self.sparse = self._peek_sparse(f)
        label_idx = label_indices(self.header, self.path, labels)
        check_label_kinds(self.header, self.path, label_idx)
        self._columns = Columns(self.header.attributes, label_idx, self.path)
        self.label_names = [self.header.attributes[i].name for i in label_idx]
        self.feature_names = [self.header.attributes[i].name for i in self._columns.feature_idx]
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
        except READ_ERRORS as exc:
            raise ArffError(self.path, lineno, f"cannot read the file: {exc}") from exc
        return False

    def _lines(self) -> Iterator[tuple[int, str]]:
        return data_lines(self.path, self.header.data_line)

    def _split(self, s: str, lineno: int) -> tuple[list[int] | None, list[str]]:
        """Split a stripped data line into (attribute indices or None if dense, values)."""
        n_attr = self._columns.n_attr
        if s[0] == "{":
            return split_sparse(s, n_attr, self.path, lineno)
        return None, split_dense(s, n_attr, self.path, lineno)

    def _raise_value(self, indices, values, lineno: int):
        for i, v in zip(indices, values):
            problem = self._columns.problem(i, v)
            if problem:
                raise ArffError(self.path, lineno, problem)
        raise ArffError(self.path, lineno, "unreadable row")

    def __iter__(self) -> Iterator[tuple[dict[str, float], dict[str, bool]]]:
        columns = self._columns
        feature_of, label_of, convert = columns.feature_of, columns.label_of, columns.convert
        for lineno, s in self._lines():
            indices, values = self._split(s, lineno)
            x: dict[str, float] = {}
            try:
                if indices is None:
                    y = {}
                    for i, name, conv in columns.features:
                        v = values[i]
                        if v != "?":
                            x[name] = conv(v)
                    for i, name, conv in columns.labels:
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
                self._raise_value(indices or range(columns.n_attr), values, lineno)
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
        except Fallback:
            n, rows, cols, values = self._triplets_slow(numbered)
        present = values.view(np.int64) != MISSING_BITS
        Y, rows, fcols, values = self._columns.split_labels(n, rows, cols, values, present)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        return sp.csr_array((values, fcols, indptr), shape=(n, self.n_features)), Y

    def _triplets_slow(self, numbered=None) -> tuple[np.ndarray, ...]:
        """Row, attribute and value of every entry, read line by line (any text); ``numbered``:
        ``(line number, stripped line)`` pairs (default: the whole file)."""
        columns = self._columns
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        n = 0
        dense_cols = list(range(columns.n_attr))
        for lineno, s in self._lines() if numbered is None else numbered:
            indices, values = self._split(s, lineno)
            indices = dense_cols if indices is None else indices
            for i, v in zip(indices, values):
                problem = columns.problem(i, v)
                if problem:
                    raise ArffError(self.path, lineno, problem)
                vals.append(columns.value(i, v))
            rows.extend([n] * len(indices))
            cols.extend(indices)
            n += 1
        return (
            n,
            np.asarray(rows, dtype=np.int64),
            np.asarray(cols, dtype=np.int64),
            np.asarray(vals, dtype=np.float64),
        )

    def _triplets_fast(self) -> tuple[np.ndarray, ...]:
        """Vectorised :meth:`_triplets_slow` for unquoted, uncommented, unmixed data."""
        with open_text(self.path) as f:
            for _ in range(self.header.data_line):
                f.readline()
            try:
                text = f.read()
            except READ_ERRORS as exc:
                raise Fallback from exc
        rows = [s for s in (line.strip() for line in text.split("\n")) if s and s[0] != "%"]
        del text
        return self._triplets_of(rows)

    def _triplets_of(self, rows: list[str]) -> tuple[np.ndarray, ...]:
        """:meth:`_triplets_fast` on stripped data lines: all dense or all sparse, plain."""
        if not all(map(is_plain, rows)):
            raise Fallback
        n_sparse = sum(s[0] == "{" for s in rows)
        if n_sparse == 0:
            row_of, col_of, tokens = dense_entries(rows, self._columns.n_attr)
        elif n_sparse == len(rows):
            row_of, col_of, tokens = sparse_entries(rows, self._columns.n_attr)
        else:
            raise Fallback
        return len(rows), row_of, col_of, self._columns.values(tokens, col_of)

    def _arrays(self, sparse: bool | None) -> ArffData:
        try:
            n, rows, cols, values = self._triplets_fast()
        except Fallback:
            n, rows, cols, values = self._triplets_slow()
        Y, rows, fcols, values = self._columns.split_labels(n, rows, cols, values, values != 0.0)
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
