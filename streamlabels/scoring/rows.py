"""The rows a scorer takes, checked once: the CPU and GPU scorers index without bounds checks."""

from __future__ import annotations

import numpy as np
import scipy.sparse

from streamlabels.kernels.rows import Rows

__all__ = ["batch_rows"]


def batch_rows(X, n_features: int) -> Rows:
    """``X`` as the kernels' :class:`~streamlabels.kernels.rows.Rows`, checked against a
    snapshot's ``n_features`` columns.

    ``X`` is a 2-d array whose columns are the snapshot's ``feature_names`` (every column of a row
    is listed, as a dense row is read), or a scipy sparse matrix with those columns (any format;
    converted to CSR with sorted, summed entries). A non-finite value is read as 0.0, which for
    scoring is the same as missing: the model's own rows leave such values out
    (:class:`~streamlabels.vocabulary.FeatureSpace`).

    >>> batch_rows(np.array([[1.0, np.nan]]), 2)
    Rows(indptr=array([0, 2]), indices=array([0, 1]), values=array([1., 0.]))
    """
    if not scipy.sparse.issparse(X):
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != n_features:
            raise ValueError(
                f"X must have shape (n, {n_features}) (the snapshot's feature_names), "
                f"got {X.shape}"
            )
        n, d = X.shape
        return Rows(np.arange(n + 1, dtype=np.int64) * d, np.tile(np.arange(d, dtype=np.int64), n),
                    _finite(X.ravel()))
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(
            f"X must have {n_features} columns (the snapshot's feature_names), got shape {X.shape}"
        )
    X = scipy.sparse.csr_array(X)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return Rows(X.indptr.astype(np.int64), X.indices.astype(np.int64),
                _finite(X.data.astype(np.float64)))


def _finite(values: np.ndarray) -> np.ndarray:
    """``values`` with NaN and infinities as 0.0 (a copy only when there are any)."""
    finite = np.isfinite(values)
    return values if finite.all() else np.where(finite, values, 0.0)
