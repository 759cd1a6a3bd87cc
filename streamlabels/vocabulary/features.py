"""Feature names <-> column ids: the one place where dicts and tables become arrays.

River models take feature dicts; numba kernels take arrays. A :class:`FeatureSpace` maps each
feature name to a column once (new names get new columns as they appear), so a dict becomes a
:class:`Row` of sorted column ids and float values without any per-learner work.

Batch methods must give exactly what the ``_one`` methods give in order, so batches (pandas,
numpy, scipy.sparse, or a list of feature dicts, as a service polls them) go through one
conversion, :func:`feature_dicts`: a DataFrame row keeps its column names; a numpy row is named
by column position with every column present (as a dense ARFF row); a sparse row holds only its
stored entries (as a sparse ARFF row); a dict is itself.
:func:`dicts_to_csr` goes the other way without losing an entry, explicit zeros included, so a
stream of dicts can feed a batch method.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse

__all__ = ["FeatureSpace", "Row", "dicts_to_csr", "feature_dicts"]


@dataclass(frozen=True, slots=True)
class Row:
    """One instance: the original feature dict and its sparse array form."""

    x: dict
    indices: np.ndarray  # int64 column ids, ascending
    values: np.ndarray  # float64, same length as indices


class FeatureSpace:
    """Grows a name -> column mapping as features appear.

    A non-finite value (NaN, +-inf) would poison every learner it reaches, so rows never carry
    one: with ``nonfinite="skip"`` (the default) it is treated as missing, the feature left out
    of the row, and the values left out of learned rows are counted in :attr:`n_nonfinite`; with
    ``"raise"`` a learned row that holds one raises ``ValueError`` naming the feature. (Rows made
    for prediction only, ``grow=False``, always leave such values out.)

    >>> fs = FeatureSpace()
    >>> row = fs.row({"b": 2.0, "a": 1.0})
    >>> row.indices.tolist(), row.values.tolist()
    ([0, 1], [2.0, 1.0])
    >>> fs.row({"a": 3.0, "c": 0.0}).indices.tolist()
    [1, 2]
    >>> fs.names
    ['b', 'a', 'c']
    >>> fs.row({"a": 1.0, "new": 5.0}, grow=False).indices.tolist()
    [1]
    >>> fs.row({"a": float("nan"), "c": 2.0}).indices.tolist(), fs.n_nonfinite
    ([2], 1)
    """

    def __init__(self, names: list | None = None, nonfinite: str = "skip"):
        if nonfinite not in ("skip", "raise"):
            raise ValueError(f"nonfinite must be 'skip' or 'raise', got {nonfinite!r}")
        self._columns: dict = {}
        self.names: list = []
        self.nonfinite = nonfinite
        self.n_nonfinite = 0
        for name in names or []:
            self.column(name)

    def __len__(self) -> int:
        return len(self.names)

    def column(self, name) -> int:
        """The column of `name`, adding it when it is new."""
        col = self._columns.get(name)
        if col is None:
            col = len(self.names)
            self._columns[name] = col
            self.names.append(name)
        return col

    def get_state(self) -> dict:
        """The names in column order: all a restored space needs to map rows identically.

        >>> FeatureSpace.from_state(FeatureSpace(["b", "a"]).get_state()).row({"a": 1.0}).indices
        array([1])
        """
        return {"names": list(self.names), "n_nonfinite": self.n_nonfinite}

    @classmethod
    def from_state(cls, state: dict, nonfinite: str = "skip") -> FeatureSpace:
        """A space restored from :meth:`get_state`'s output."""
        space = cls(state["names"], nonfinite)
        space.n_nonfinite = int(state.get("n_nonfinite", 0))
        return space

    def _drop_nonfinite(self, names, finite: np.ndarray, learned: bool) -> None:
        """Count (or refuse) the non-finite values of a row or block about to be left out."""
        if not learned:
            return
        if self.nonfinite == "raise":
            bad = [name for name, ok in zip(names, finite.tolist()) if not ok]
            raise ValueError(
                f"non-finite value (NaN or inf) for feature(s) {bad[:5]}; pass "
                "nonfinite='skip' to treat such values as missing"
            )
        self.n_nonfinite += int(finite.size - np.count_nonzero(finite))

    def row(self, x: dict, grow: bool = True) -> Row:
        """`x` as a sparse row; features are columns in order of first appearance.

        With ``grow=False`` (prediction must not change a model) unknown features are left out.
        """
        values = np.fromiter(x.values(), dtype=np.float64, count=len(x))
        finite = np.isfinite(values)
        if not finite.all():
            self._drop_nonfinite(list(x), finite, grow)
            x = {name: v for name, v, ok in zip(x, x.values(), finite.tolist()) if ok}
            values = values[finite]
        get = self._columns.get
        columns = [get(name) for name in x]
        if None in columns:
            if not grow:
                known = np.array([c is not None for c in columns], dtype=bool)
                columns = [c for c in columns if c is not None]
                return Row(x, *self._arrays(columns, values[known]))
            columns = [self.column(name) for name in x]
        return Row(x, *self._arrays(columns, values))

    def csr(
        self, X, names: Sequence | None = None, grow: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows of ``X`` as CSR arrays ``(indptr, indices, values)`` over this space's columns.

        Row ``i`` equals ``row(x_i, grow)`` for the dicts ``x_i`` of
        :func:`feature_dicts` (a numpy or DataFrame row holds every column,
        a sparse row its stored entries), taken in order, the space growing as they would make
        it grow (with ``grow=False``, unknown features left out). ``names`` names the columns of
        ``X`` (default: a DataFrame's column names, else column positions).

        >>> fs = FeatureSpace(["b"])
        >>> X = scipy.sparse.csr_array([[0.0, 2.0, 0.0], [3.0, 0.0, 1.0]])
        >>> [a.tolist() for a in fs.csr(X, names=["c", "b", "d"], grow=False)]
        [[0, 1, 1], [0], [2.0]]
        >>> [a.tolist() for a in fs.csr(X, names=["a", "b", "c"])]
        [[0, 1, 3], [0, 1, 2], [2.0, 3.0, 1.0]]
        >>> fs.names
        ['b', 'a', 'c']
        >>> [a.tolist() for a in fs.csr([{"c": 1.0, "e": 2.0}, {"b": 3.0}], grow=False)]
        [[0, 1, 2], [2, 0], [1.0, 3.0]]
        """
        if isinstance(X, list):
            return self._dicts(X, grow)
        if isinstance(X, pd.DataFrame):
            names = list(X.columns) if names is None else names
            X = X.to_numpy(dtype=np.float64)
        if scipy.sparse.issparse(X):
            X = scipy.sparse.csr_array(X)
            X.sum_duplicates()
            n_rows, n_cols = X.shape
            indptr = X.indptr.astype(np.int64)
            cols = X.indices.astype(np.int64)
            values = X.data.astype(np.float64)
        else:
            X = np.asarray(X, dtype=np.float64)
            if X.ndim != 2:
                raise ValueError(f"X must be two-dimensional, got shape {X.shape}")
            n_rows, n_cols = X.shape
            indptr = np.arange(n_rows + 1, dtype=np.int64) * n_cols
            cols = np.tile(np.arange(n_cols, dtype=np.int64), n_rows)
            values = X.reshape(-1).copy()
        names = list(range(n_cols)) if names is None else list(names)
        if len(names) != n_cols or len(set(names)) != n_cols:
            raise ValueError(f"names must name the {n_cols} columns of X, each once")
        rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(indptr))
        keep = np.isfinite(values)
        if not keep.all():
            self._drop_nonfinite([names[j] for j in cols], keep, learned=grow)
        if grow:
            self._grow(names, cols[keep])
        # -1: a column of X the space does not know (without grow) or without a single entry
        column = np.array([self._columns.get(name, -1) for name in names], dtype=np.int64)
        indices = column[cols]
        keep &= indices >= 0
        if not keep.all():
            rows, indices, values = rows[keep], indices[keep], values[keep]
            indptr = np.zeros(n_rows + 1, dtype=np.int64)
            np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
        same_row = rows[1:] == rows[:-1]
        if np.any(indices[1:][same_row] <= indices[:-1][same_row]):
            order = np.lexsort((indices, rows))
            indices, values = indices[order], values[order]
        return indptr, indices, values

    def _dicts(self, xs: list[dict], grow: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`csr` of feature dicts: in one pass over the entries when every value is finite
        (a service's batches), else row by row, as :meth:`row` leaves such values out."""
        data = np.fromiter(itertools.chain.from_iterable(x.values() for x in xs), dtype=np.float64)
        indptr = np.zeros(len(xs) + 1, dtype=np.int64)
        if not np.isfinite(data).all():
            rows = [self.row(x, grow) for x in xs]
            np.cumsum([len(row.indices) for row in rows], out=indptr[1:])
            return (indptr, np.concatenate([r.indices for r in rows] + [indptr[:0]]),
                    np.concatenate([r.values for r in rows] + [data[:0]]))
        get = self._columns.get
        columns: list = []
        for x in xs:
            row = list(map(get, x))
            if None in row:
                row = [self.column(name) if grow else get(name, -1) for name in x]
            columns += row
        np.cumsum([len(x) for x in xs], out=indptr[1:])
        indices = np.array(columns, dtype=np.int64)
        rows = np.repeat(np.arange(len(xs), dtype=np.int64), np.diff(indptr))
        keep = indices >= 0
        if not keep.all():
            rows, indices, data = rows[keep], indices[keep], data[keep]
            np.cumsum(np.bincount(rows, minlength=len(xs)), out=indptr[1:])
        order = np.lexsort((indices, rows))
        return indptr, indices[order], data[order]

    def names_of(self, X, names: Sequence | None = None, fixed: bool = False) -> list | None:
        """The names of ``X``'s columns, checked against this space: ``names`` if given, a
        DataFrame's columns, else column positions (``None``).

        A bare array is matched by position only where this space's features are positions: a
        model that learned named features would silently read column ``j`` as whatever it
        learned ``j`` to be. With ``fixed`` (prediction: the space cannot grow), the array must
        also hold every column the space knows, and a space that knows exactly the columns
        ``0..n-1`` (it learned from dense arrays of width ``n``) takes only width ``n``.

        >>> fs = FeatureSpace(["age", "height"])
        >>> fs.names_of(np.zeros((1, 2)), ["height", "age"])
        ['height', 'age']
        >>> fs.names_of(np.zeros((1, 2)))
        Traceback (most recent call last):
        ...
        ValueError: X is an array without column names, but the model knows its features by name
        ('age', 'height'): pass feature_names=[...] naming X's columns, or a DataFrame
        >>> FeatureSpace([0, 1, 2]).names_of(np.zeros((1, 2)), fixed=True)
        Traceback (most recent call last):
        ...
        ValueError: X has 2 columns but the model learned 3 features by position: pass
        feature_names=[...] naming X's columns, or a DataFrame
        """
        if isinstance(X, list):  # feature dicts name their own features
            return None
        shape = X.shape if hasattr(X, "shape") else np.shape(X)
        width = shape[1] if len(shape) == 2 else None
        if names is not None:
            names = list(names)
            if width is not None and len(names) != width:
                raise ValueError(f"feature_names has {len(names)} names for {width} columns")
            return names
        if isinstance(X, pd.DataFrame) or not self.names or width is None:
            return None
        hint = "pass feature_names=[...] naming X's columns, or a DataFrame"
        if not all(_is_position(name) for name in self.names):
            shown = ", ".join(map(repr, self.names[:3])) + (", ..." if len(self) > 3 else "")
            raise ValueError(
                "X is an array without column names, but the model knows its features by name "
                f"({shown}): {hint}"
            )
        dense_width = len(self) if max(self.names) == len(self) - 1 else None
        if fixed and (max(self.names) >= width or dense_width not in (None, width)):
            raise ValueError(
                f"X has {width} columns but the model learned {len(self)} features by "
                f"position: {hint}"
            )
        return None

    def _grow(self, names: list, cols: np.ndarray) -> None:
        """Add the names of ``X``'s entries that are new, in the order the rows meet them."""
        new = np.array([name not in self._columns for name in names], dtype=bool)
        if not new.any():
            return
        n_entries = cols.shape[0]
        first = np.full(len(names), n_entries, dtype=np.int64)  # each column's first entry
        np.minimum.at(first, cols, np.arange(n_entries, dtype=np.int64))
        order = np.argsort(first, kind="stable")
        for j in order[new[order] & (first[order] < n_entries)]:
            self.column(names[j])

    @staticmethod
    def _arrays(columns: list, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = np.array(columns, dtype=np.int64)
        if len(indices) > 1 and np.any(indices[1:] < indices[:-1]):
            order = np.argsort(indices, kind="stable")
            indices, values = indices[order], values[order]
        return indices, values


def _is_position(name) -> bool:
    return isinstance(name, (int, np.integer)) and not isinstance(name, bool) and name >= 0


def feature_dicts(X, names: Sequence | None = None) -> Iterator[dict]:
    """One feature dict per row of ``X``; ``names`` renames the columns (default: a DataFrame's
    column names, else column positions).

    >>> import numpy as np, scipy.sparse
    >>> list(feature_dicts(np.array([[0.0, 2.0]])))
    [{0: 0.0, 1: 2.0}]
    >>> list(feature_dicts(scipy.sparse.csr_matrix([[0.0, 2.0]])))
    [{1: 2.0}]
    """
    if isinstance(X, list):
        yield from X
    elif isinstance(X, pd.DataFrame):
        columns = list(X.columns if names is None else names)
        for values in X.itertuples(index=False, name=None):
            yield dict(zip(columns, map(float, values)))
    elif scipy.sparse.issparse(X):
        X = scipy.sparse.csr_array(X)
        X.sum_duplicates()  # sorts the indices too
        indptr, indices, data = X.indptr, X.indices.tolist(), X.data.tolist()
        if names is not None:
            indices = [names[j] for j in indices]
        for i in range(X.shape[0]):
            start, stop = indptr[i], indptr[i + 1]
            yield dict(zip(indices[start:stop], data[start:stop]))
    else:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be two-dimensional, got shape {X.shape}")
        columns = range(X.shape[1]) if names is None else names
        for values in X.tolist():
            yield dict(zip(columns, values))


def dicts_to_csr(
    xs: Iterable[dict], columns: dict, grow: bool = True
) -> scipy.sparse.csr_array:
    """Feature dicts as one sparse matrix that :func:`feature_dicts` turns back into equal
    dicts (their keys in column order), given the names ``list(columns)``.

    ``columns`` maps names to column positions and grows as new names appear (positions in
    order of appearance), so one mapping serves a whole stream. With ``grow=False`` the mapping
    is fixed and unknown names are dropped, as prediction drops features a model never saw.

    >>> columns = {}
    >>> X = dicts_to_csr([{"b": 1.0}, {"a": 0.0, "b": 2.0}], columns)
    >>> list(feature_dicts(X, list(columns)))
    [{'b': 1.0}, {'b': 2.0, 'a': 0.0}]
    """
    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for x in xs:
        for name, value in x.items():
            column = columns.get(name)
            if column is None:
                if not grow:
                    continue
                column = columns[name] = len(columns)
            indices.append(column)
            values.append(value)
        indptr.append(len(indices))
    X = scipy.sparse.csr_array(
        (
            np.array(values, dtype=np.float64),
            np.array(indices, dtype=np.int64),
            np.array(indptr, dtype=np.int64),
        ),
        shape=(len(indptr) - 1, len(columns)),
    )
    X.sort_indices()
    return X
