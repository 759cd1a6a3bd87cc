"""A polled batch's feature dicts as one CSR matrix, built once for scoring and learning.

The service turns each batch into sparse rows once (:class:`Columns`): the matrix is scored
(``IHOMER.score_many``, which leaves out features the model never saw, as ``predict_one`` does)
and its labelled rows go to ``learn_many``, both under the service's own column names. Per
message only C-level work is left in Python: one ``map`` of the names to columns and one
``extend`` of the values.

>>> columns = Columns()
>>> X = columns.csr([{"b": 1.0, "a": 2.0}, {"c": 3.0}])
>>> columns.names, X.toarray().tolist()
(['b', 'a', 'c'], [[1.0, 2.0, 0.0], [0.0, 0.0, 3.0]])
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

__all__ = ["Columns"]


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

