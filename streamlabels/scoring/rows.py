"""The rows a scorer takes, checked once: the CPU and GPU scorers index without bounds checks."""

from __future__ import annotations

import numpy as np
import scipy.sparse

__all__ = ["Batch"]


class Batch:
    """Rows to score, checked against a snapshot's columns: a dense matrix or CSR arrays.

    ``X`` is a 2-d array whose columns are ``snapshot.feature_names``, or a scipy sparse matrix
    with those columns (any format; converted to CSR with sorted, summed entries). A non-finite
    value is read as missing, which for scoring is the same as 0.0: the model's own rows leave
    such values out (:class:`~streamlabels.features.FeatureSpace`).
    """

    def __init__(self, X, n_features: int):
        self.dense = not scipy.sparse.issparse(X)
        if self.dense:
            X = np.ascontiguousarray(X, dtype=np.float64)
            if X.ndim != 2 or X.shape[1] != n_features:
                raise ValueError(
                    f"X must have shape (n, {n_features}) (the snapshot's feature_names), "
                    f"got {X.shape}"
                )
            self.X = _finite(X)
            self.indptr = np.zeros(1, dtype=np.int64)
            self.indices = np.empty(0, dtype=np.int64)
            self.values = np.empty(0)
        else:
            if X.ndim != 2 or X.shape[1] != n_features:
                raise ValueError(
                    f"X must have {n_features} columns (the snapshot's feature_names), "
                    f"got shape {X.shape}"
                )
            X = scipy.sparse.csr_array(X)
            if not X.has_canonical_format:
                X = X.copy()
                X.sum_duplicates()
            self.X = np.empty((0, 0))
            self.indptr = X.indptr.astype(np.int64)
            self.indices = X.indices.astype(np.int64)
            self.values = _finite(X.data.astype(np.float64))
        self.n_rows = self.X.shape[0] if self.dense else self.indptr.shape[0] - 1


def _finite(values: np.ndarray) -> np.ndarray:
    """``values`` with NaN and infinities as 0.0 (a copy only when there are any)."""
    finite = np.isfinite(values)
    return values if finite.all() else np.where(finite, values, 0.0)
