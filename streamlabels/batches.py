"""Batches (pandas, numpy, scipy.sparse) as the per-instance dicts the ``_one`` methods take.

Batch methods must give exactly what the ``_one`` methods give in order, so they go through this
one conversion: a DataFrame row keeps its column names; a numpy row is named by column position
with every column present (as a dense ARFF row); a sparse row holds only its stored entries (as a
sparse ARFF row).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import scipy.sparse

__all__ = ["feature_dicts", "label_dicts"]


def feature_dicts(X) -> Iterator[dict]:
    """One feature dict per row of ``X``.

    >>> import numpy as np, scipy.sparse
    >>> list(feature_dicts(np.array([[0.0, 2.0]])))
    [{0: 0.0, 1: 2.0}]
    >>> list(feature_dicts(scipy.sparse.csr_matrix([[0.0, 2.0]])))
    [{1: 2.0}]
    """
    if isinstance(X, pd.DataFrame):
        columns = list(X.columns)
        for values in X.itertuples(index=False, name=None):
            yield dict(zip(columns, map(float, values)))
    elif scipy.sparse.issparse(X):
        X = scipy.sparse.csr_array(X)
        X.sort_indices()
        indptr, indices, data = X.indptr, X.indices.tolist(), X.data.tolist()
        for i in range(X.shape[0]):
            start, stop = indptr[i], indptr[i + 1]
            yield dict(zip(indices[start:stop], data[start:stop]))
    else:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be two-dimensional, got shape {X.shape}")
        columns = range(X.shape[1])
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
