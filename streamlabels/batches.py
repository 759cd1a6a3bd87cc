"""Batches (pandas, numpy, scipy.sparse) as the per-instance dicts the ``_one`` methods take,
and back.

Batch methods must give exactly what the ``_one`` methods give in order, so they go through this
one conversion: a DataFrame row keeps its column names; a numpy row is named by column position
with every column present (as a dense ARFF row); a sparse row holds only its stored entries (as a
sparse ARFF row). :func:`dicts_to_csr` goes the other way without losing an entry, explicit
zeros included, so a stream of dicts can feed a batch method.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import scipy.sparse

__all__ = ["dicts_to_csr", "feature_dicts", "label_dicts"]


def feature_dicts(X, names: Sequence | None = None) -> Iterator[dict]:
    """One feature dict per row of ``X``; ``names`` renames the columns (default: a DataFrame's
    column names, else column positions).

    >>> import numpy as np, scipy.sparse
    >>> list(feature_dicts(np.array([[0.0, 2.0]])))
    [{0: 0.0, 1: 2.0}]
    >>> list(feature_dicts(scipy.sparse.csr_matrix([[0.0, 2.0]])))
    [{1: 2.0}]
    """
    if isinstance(X, pd.DataFrame):
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


def label_dicts(Y, labels: Sequence | None) -> Iterator[dict]:
    """One ``{label: bool}`` dict per row of ``Y`` (a DataFrame, or an array in ``labels`` order)."""
    if isinstance(Y, pd.DataFrame):
        columns = list(Y.columns)
        for values in Y.itertuples(index=False, name=None):
            yield {label: bool(v) for label, v in zip(columns, values)}
        return
    if scipy.sparse.issparse(Y):
        Y = Y.toarray()
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise ValueError(f"Y must be two-dimensional, got shape {Y.shape}")
    if labels is None:
        labels = range(Y.shape[1])
    if len(labels) != Y.shape[1]:
        raise ValueError(f"Y has {Y.shape[1]} columns but the model knows {len(labels)} labels")
    for values in Y.astype(bool).tolist():
        yield dict(zip(labels, values))


def dicts_to_csr(xs: Sequence[dict], columns: dict) -> scipy.sparse.csr_array:
    """Feature dicts as one sparse matrix that :func:`feature_dicts` turns back into equal
    dicts (their keys in column order), given the names ``list(columns)``.

    ``columns`` maps names to column positions and grows as new names appear (positions in
    order of appearance), so one mapping serves a whole stream.

    >>> columns = {}
    >>> X = dicts_to_csr([{"b": 1.0}, {"a": 0.0, "b": 2.0}], columns)
    >>> list(feature_dicts(X, list(columns)))
    [{'b': 1.0}, {'b': 2.0, 'a': 0.0}]
    """
    indptr = np.zeros(len(xs) + 1, dtype=np.int64)
    indices: list[int] = []
    values: list[float] = []
    for i, x in enumerate(xs):
        for name, value in x.items():
            column = columns.get(name)
            if column is None:
                column = columns[name] = len(columns)
            indices.append(column)
            values.append(value)
        indptr[i + 1] = len(indices)
    X = scipy.sparse.csr_array(
        (np.array(values, dtype=np.float64), np.array(indices, dtype=np.int64), indptr),
        shape=(len(xs), len(columns)),
    )
    X.sort_indices()
    return X
