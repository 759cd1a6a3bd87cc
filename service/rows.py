"""A polled batch's feature dicts as one CSR matrix, built once for scoring and learning.

The service turns each batch into sparse rows once (:class:`Columns`): the labelled rows of that
matrix go to ``learn_many`` under the service's own column names, and :func:`for_snapshot`
re-indexes the same entries onto a snapshot's columns for the batch scorer, dropping features the
model never saw (as ``predict_one`` does). Per message only C-level work is left in Python: one
``map`` of the names to columns and one ``extend`` of the values.

>>> columns = Columns()
>>> X = columns.csr([{"b": 1.0, "a": 2.0}, {"c": 3.0}])
>>> columns.names, X.toarray().tolist()
(['b', 'a', 'c'], [[1.0, 2.0, 0.0], [0.0, 0.0, 3.0]])
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

__all__ = ["Columns", "for_snapshot"]


class Columns:
    """Feature name -> column, new names taking the next column as they appear."""

    def __init__(self):
        self.index: dict = {}
        self.names: list = []

    def csr(self, xs: list[dict]) -> scipy.sparse.csr_array:
        """The dicts as rows over these columns (growing them), entries sorted within rows."""
        get = self.index.get
        indices: list = []
        values: list = []
        indptr = [0]
        for x in xs:
            cols = list(map(get, x))
            if None in cols:
                cols = [self._column(name) for name in x]
            indices += cols
            values += x.values()
            indptr.append(len(indices))
        X = scipy.sparse.csr_array(
            (
                np.array(values, dtype=np.float64),
                np.array(indices, dtype=np.int64),
                np.array(indptr, dtype=np.int64),
            ),
            shape=(len(xs), len(self.names)),
        )
        X.sort_indices()
        return X

    def _column(self, name) -> int:
        column = self.index.get(name)
        if column is None:
            column = self.index[name] = len(self.names)
            self.names.append(name)
        return column


def for_snapshot(X: scipy.sparse.csr_array, names: list, feature_names: list):
    """``X`` (columns named ``names``) on the columns ``feature_names`` of a snapshot; entries
    of features it does not know are dropped.

    >>> X = Columns().csr([{"new": 1.0, "u": 2.0}, {"new": 3.0}])
    >>> for_snapshot(X, ["new", "u"], ["v", "u"]).toarray().tolist()
    [[0.0, 2.0], [0.0, 0.0]]
    """
    position = {name: j for j, name in enumerate(feature_names)}
    target = np.array([position.get(name, -1) for name in names], dtype=np.int64)
    cols = target[X.indices] if len(target) else np.full(X.nnz, -1, dtype=np.int64)
    keep = cols >= 0
    n_rows = X.shape[0]
    rows = np.repeat(np.arange(n_rows), np.diff(X.indptr))
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[keep], minlength=n_rows), out=indptr[1:])
    out = scipy.sparse.csr_array(
        (X.data[keep], cols[keep], indptr), shape=(n_rows, len(feature_names))
    )
    out.sort_indices()
    return out
