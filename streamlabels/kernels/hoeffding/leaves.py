"""Compiled leaf models of the multi-label Hoeffding tree (docs/algorithm.md §2.2, "Leaf models").

Every leaf owns a *slot*: one row in each per-slot array. A slot holds, besides the split
statistics of :mod:`._splitters`:

- a label-set table: open-addressing hash table of the distinct label sets seen at the leaf, with
  their weights and the sets themselves (``H`` entries; once full, new sets are not counted). It
  gives the majority label set and the number of distinct sets (the Hoeffding bound's range).
- a sliding window of the last ``W`` instances (dense rows, label vectors) for label-powerset k-NN.
- a logistic regression per output (binary relevance), SGD on features divided by their running
  standard deviation (zeros stay zeros, so a row costs O(nnz) per output).

The feature scaler is shared by the whole tree: ``(count, mean, M2)`` of each column's non-zero
values and the number of instances, merged with the implicit zeros on use.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from streamlabels.kernels.linear import log_loss_gradient, sigmoid
from streamlabels.kernels.scaling import sparse_variance, welford_add

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@njit(cache=True)
def scaler_learn(indices, values, counts, means, m2s):
    """Add the row's non-zero values to the column statistics."""
    for p in range(indices.shape[0]):
        v = values[p]
        if v == 0.0:
            continue
        welford_add(indices[p], v, counts, means, m2s)


@njit(cache=True)
def inverse_scale(j, counts, means, m2s, n):
    """1 / (standard deviation of column ``j`` over all ``n`` instances); 0 if constant."""
    if counts[j] == 0:
        return 0.0
    var = sparse_variance(m2s[j], means[j], counts[j], n)
    return 1.0 / math.sqrt(var) if var > 0.0 else 0.0


@njit(cache=True)
def labelset_hash(y):
    """FNV-1a over the positive positions of ``y``; never 0 (0 marks a free table entry)."""
    h = _FNV_OFFSET
    for k in range(y.shape[0]):
        if y[k]:
            h = (h ^ np.uint64(k + 1)) * _FNV_PRIME
    if h == np.uint64(0):
        h = np.uint64(1)
    return h


@njit(cache=True)
def table_add(s, y, w, hashes, weights, sets, table_meta):
    """Add label set ``y`` (outputs plus the empty indicator) with weight ``w`` to slot ``s``.

    ``table_meta[s]`` is ``(distinct sets, index of the heaviest)``. A full table ignores new sets.
    """
    cap = hashes.shape[1]
    h = labelset_hash(y)
    e = np.int64(h % np.uint64(cap))
    found = False
    for _ in range(cap):
        if hashes[s, e] == h:
            found = True
            break
        if hashes[s, e] == np.uint64(0):
            hashes[s, e] = h
            sets[s, e, :] = y
            table_meta[s, 0] += 1
            found = True
            break
        e = (e + 1) % cap
    if not found:
        return
    weights[s, e] += w
    best = table_meta[s, 1]
    if best < 0 or weights[s, e] > weights[s, best]:
        table_meta[s, 1] = e


@njit(cache=True)
def window_add(s, indices, values, y, win_x, win_y, win_meta):
    """Put the row and its outputs in slot ``s``'s ring buffer; ``win_meta[s] = (size, next)``."""
    pos = win_meta[s, 1]
    win_x[s, pos, :] = 0.0
    for p in range(indices.shape[0]):
        win_x[s, pos, indices[p]] = values[p]
    win_y[s, pos, :] = y
    win_meta[s, 1] = (pos + 1) % win_x.shape[1]
    win_meta[s, 0] = min(win_meta[s, 0] + 1, win_x.shape[1])


@njit(cache=True)
def knn_proba(s, indices, values, k, win_x, win_y, win_meta, inv_scale, out):
    """Label-powerset k-NN: each output's share among the label sets of the ``k`` nearest rows.

    Distances are Euclidean over the scaled features. Ties go to the older window entry.
    """
    size = win_meta[s, 0]
    d = inv_scale.shape[0]
    query = np.zeros(d)
    for p in range(indices.shape[0]):
        if indices[p] < d:
            query[indices[p]] = values[p]
    dist = np.empty(size)
    for i in range(size):
        total = 0.0
        for j in range(d):
            diff = (query[j] - win_x[s, i, j]) * inv_scale[j]
            total += diff * diff
        dist[i] = total
    order = np.argsort(dist, kind="mergesort")
    m = min(k, size)
    out[:] = 0.0
    for r in range(m):
        i = order[r]
        for o in range(out.shape[0]):
            if win_y[s, i, o]:
                out[o] += 1.0
    for o in range(out.shape[0]):
        out[o] /= m


@njit(cache=True)
def linear_learn(s, cols, xs, y, w, lr, lr_w, lr_b):
    """One SGD step of every output's logistic regression, its gradient scaled by weight ``w``."""
    for k in range(lr_w.shape[1]):
        raw = lr_b[s, k]
        for t in range(cols.shape[0]):
            raw += lr_w[s, k, cols[t]] * xs[t]
        g = log_loss_gradient(raw, y[k]) * w
        lr_b[s, k] -= lr * g
        for t in range(cols.shape[0]):
            lr_w[s, k, cols[t]] -= lr * g * xs[t]


@njit(cache=True)
def linear_proba(s, cols, xs, lr_w, lr_b, out):
    """P(output = 1) of every output by slot ``s``'s logistic regressions."""
    for k in range(lr_w.shape[1]):
        raw = lr_b[s, k]
        for t in range(cols.shape[0]):
            raw += lr_w[s, k, cols[t]] * xs[t]
        out[k] = sigmoid(raw)
