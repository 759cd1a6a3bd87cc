"""Compiled hot loops of :class:`~streamlabels.learners.linear.LinearLearner`.

The kernels are plain functions over the learner's state arrays, so one compiled version serves
every instance, every scaling mode and the batch paths (fewer specialisations, shorter compile).
The batch kernels call the one-row kernels row by row, which is what makes ``learn_many`` equal a
loop of ``learn_one`` bit for bit.

State layout, shared by all modes (``cap`` is the column capacity):

- ``weights`` (n_outputs, cap) and ``intercepts`` (n_outputs,), float64.
- ``counts`` (cap,) int64, ``stat1`` and ``stat2`` (cap,) float64: the scaler. ``STANDARD``: how
  many instances updated the column, its running mean and its running (population) variance, as
  river's ``StandardScaler`` keeps them. ``SPARSE``: how many explicit entries the column had,
  their mean and their sum of squared deviations (Welford), merged with the implicit zeros on use.
- ``meta`` (2,) int64: instances learned, and one past the highest column learned from.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit

from streamlabels.kernels.scaling import sparse_variance, welford_add

NONE = 0
SPARSE = 1
STANDARD = 2

SGD = namedtuple("SGD", ["mode", "lr", "l2", "intercept_lr"])
"""How linear learners learn: the scaling mode and the SGD rates (one set for a whole bank)."""

LinearBank = namedtuple(
    "LinearBank", ["rows", "weights", "intercepts", "counts", "stat1", "stat2", "meta"]
)
"""The state of several learners stacked at one column capacity: learner ``j`` owns rows
``rows[j]:rows[j + 1]`` of ``weights`` (outputs x capacity) and ``intercepts``, and row ``j`` of
``counts``, ``stat1``, ``stat2`` (learners x capacity) and ``meta`` (learners x 2)."""

# river's LogisticRegression default ``clip_gradient``: the loss gradient is clamped to +/- this.
CLIP_GRADIENT = 1e12


@njit(cache=True)
def sigmoid(z):
    """Logistic function with river's saturation at |z| > 30 (exact 0 and 1 there)."""
    if z < -30.0:
        return 0.0
    if z > 30.0:
        return 1.0
    return 1.0 / (1.0 + math.exp(-z))


@njit(cache=True)
def log_loss_gradient(raw, positive):
    """d(log loss)/d(raw score), with river's branches at |z| > 18 and its clipping."""
    sign = 1.0 if positive else -1.0
    z = raw * sign
    if z > 18.0:
        g = math.exp(-z) * -sign
    elif z < -18.0:
        g = -sign
    else:
        g = -sign / (math.exp(z) + 1.0)
    return max(min(g, CLIP_GRADIENT), -CLIP_GRADIENT)


@njit(cache=True)
def _standard_columns(indices, values, counts, means, variances, n_cols, learn, cols, xs):
    """Densify the row over the columns seen so far, update the scaler if ``learn``, scale.

    Absent columns that were seen before count as 0.0, as in a densified river dict. Returns how
    many ``(cols, xs)`` pairs were written.
    """
    m = 0
    p = 0
    nnz = indices.shape[0]
    for j in range(n_cols):
        if p < nnz and indices[p] == j:
            v = values[p]
            p += 1
        elif counts[j] > 0:
            v = 0.0
        else:
            continue
        if learn:
            c = counts[j] + 1
            counts[j] = c
            old_mean = means[j]
            means[j] = old_mean + (v - old_mean) / c
            variances[j] += ((v - old_mean) * (v - means[j]) - variances[j]) / c
        var = variances[j]
        cols[m] = j
        xs[m] = (v - means[j]) / var**0.5 if var != 0.0 else 0.0
        m += 1
    return m


@njit(cache=True)
def _sparse_columns(indices, values, counts, means, m2s, n, n_cols, mode, learn, cols, xs):
    """Scale the row's own entries (``SPARSE``) or take them raw (``NONE``).

    In ``SPARSE`` mode a column's variance over all ``n`` instances comes from
    :mod:`streamlabels.kernels.scaling`. Columns never learned are dropped.
    """
    m = 0
    for p in range(indices.shape[0]):
        j = indices[p]
        if j >= n_cols:
            continue
        v = values[p]
        if mode == SPARSE:
            if learn:
                welford_add(j, v, counts, means, m2s)
            var = sparse_variance(m2s[j], means[j], counts[j], n)
            v = v / math.sqrt(var) if var > 0.0 else 0.0
        cols[m] = j
        xs[m] = v
        m += 1
    return m


@njit(cache=True)
def _scaled_row(indices, values, mode, counts, stat1, stat2, meta, learn):
    """The row as scaled ``(cols, xs)``; when ``learn``, the scaler learns the row first."""
    nnz = indices.shape[0]
    if learn:
        meta[0] += 1
        if nnz > 0 and indices[nnz - 1] + 1 > meta[1]:
            meta[1] = indices[nnz - 1] + 1
    n_cols = meta[1]
    size = n_cols if mode == STANDARD else nnz
    cols = np.empty(size, dtype=np.int64)
    xs = np.empty(size, dtype=np.float64)
    if mode == STANDARD:
        m = _standard_columns(indices, values, counts, stat1, stat2, n_cols, learn, cols, xs)
    else:
        m = _sparse_columns(
            indices, values, counts, stat1, stat2, meta[0], n_cols, mode, learn, cols, xs
        )
    return cols[:m], xs[:m]


@njit(cache=True)
def predict_row(indices, values, mode, weights, intercepts, counts, stat1, stat2, meta, out):
    """Write P(output = 1) of every output for one row into ``out``; the state is not touched."""
    cols, xs = _scaled_row(indices, values, mode, counts, stat1, stat2, meta, False)
    for k in range(weights.shape[0]):
        raw = 0.0
        for t in range(cols.shape[0]):
            raw += weights[k, cols[t]] * xs[t]
        out[k] = sigmoid(raw + intercepts[k])


@njit(cache=True)
def learn_row(
    indices, values, y, mode, weights, intercepts, counts, stat1, stat2, meta, lr, l2, intercept_lr
):
    """One SGD step on the log loss of every output, after the scaler learned the row.

    Per output, the order is river's: raw score, clipped loss gradient, intercept step, then the
    weight step ``w -= lr * (x * g + l2 * w)`` on the row's (scaled) columns only.
    """
    cols, xs = _scaled_row(indices, values, mode, counts, stat1, stat2, meta, True)
    m = cols.shape[0]
    for k in range(weights.shape[0]):
        raw = 0.0
        for t in range(m):
            raw += weights[k, cols[t]] * xs[t]
        g = log_loss_gradient(raw + intercepts[k], y[k])
        intercepts[k] -= intercept_lr * g
        if l2 != 0.0:
            for t in range(m):
                j = cols[t]
                weights[k, j] -= lr * (xs[t] * g + weights[k, j] * l2)
        else:
            for t in range(m):
                weights[k, cols[t]] -= lr * (xs[t] * g)


@njit(cache=True)
def learn_batch(
    indptr, indices, values, Y, mode, weights, intercepts, counts, stat1, stat2, meta, lr, l2,
    intercept_lr,
):
    """``learn_row`` over the CSR rows in order."""
    for i in range(indptr.shape[0] - 1):
        a = indptr[i]
        b = indptr[i + 1]
        learn_row(
            indices[a:b], values[a:b], Y[i], mode, weights, intercepts, counts, stat1, stat2,
            meta, lr, l2, intercept_lr,
        )


@njit(cache=True)
def predict_batch(indptr, indices, values, mode, weights, intercepts, counts, stat1, stat2, meta):
    """``predict_row`` over the CSR rows; returns an (n_rows, n_outputs) array."""
    n = indptr.shape[0] - 1
    out = np.empty((n, weights.shape[0]), dtype=np.float64)
    for i in range(n):
        a = indptr[i]
        b = indptr[i + 1]
        predict_row(
            indices[a:b], values[a:b], mode, weights, intercepts, counts, stat1, stat2, meta,
            out[i],
        )
    return out
