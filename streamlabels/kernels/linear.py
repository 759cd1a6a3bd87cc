"""Compiled hot loops of :class:`~streamlabels.learners.linear.LinearLearner`.

The kernels are plain functions over the learner's state arrays, so one compiled version serves
every instance, every scaling mode and the batch paths (fewer specialisations, shorter compile).
The batch kernels call the one-row kernels row by row, which is what makes ``learn_many`` equal a
loop of ``learn_one`` bit for bit.

State layout, shared by all modes (``cap`` is the column capacity):

- ``weights`` (cap, n_outputs) and ``intercepts`` (n_outputs,), float64: a column's weights for
  every output side by side, so that a row's few columns are read and updated as whole rows of
  ``weights`` (contiguous, over every output at once) rather than gathered per output. Each
  output's raw score still adds its terms in the row's column order, so the figures are those of
  one dot product per output, bit for bit; saved states keep the outputs x columns orientation.
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

from streamlabels.kernels.jit import kernel
from streamlabels.kernels.rows import row_of
from streamlabels.kernels.scaling import sparse_variance, welford_add

NONE = 0
SPARSE = 1
STANDARD = 2

SGD = namedtuple("SGD", ["mode", "lr", "l2", "intercept_lr"])
"""How linear learners learn: the scaling mode and the SGD rates (one set for a whole bank)."""

LinearState = namedtuple(
    "LinearState", ["weights", "intercepts", "counts", "stat1", "stat2", "meta"]
)
"""One learner's arrays (layout in the module docstring)."""

LinearBank = namedtuple(
    "LinearBank", ["rows", "weights", "intercepts", "counts", "stat1", "stat2", "meta"]
)
"""The state of several learners stacked at one column capacity: learner ``j`` owns outputs
``rows[j]:rows[j + 1]``, the columns of ``weights`` (capacity x outputs) and the entries of
``intercepts`` between them, and row ``j`` of ``counts``, ``stat1``, ``stat2`` (learners x
capacity) and ``meta`` (learners x 2)."""

COLUMN_LOOP = 8
"""From this many outputs on, :func:`_raw` walks the row's columns over every output at once
(contiguous, vectorised); below it, each output's columns (too few outputs to fill a vector)."""

# river's LogisticRegression default ``clip_gradient``: the loss gradient is clamped to +/- this.
CLIP_GRADIENT = 1e12


@kernel
def sigmoid(z):
    """Logistic function with river's saturation at |z| > 30 (exact 0 and 1 there)."""
    if z < -30.0:
        return 0.0
    if z > 30.0:
        return 1.0
    return 1.0 / (1.0 + math.exp(-z))


@kernel
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


@kernel(inline=True)
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
        xs[m] = (v - means[j]) / math.sqrt(var) if var != 0.0 else 0.0
        m += 1
    return m


@kernel(inline=True)
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


@kernel(inline=True)
def _scaled(indices, values, counts, stat1, stat2, meta, mode, learn, cols, xs):
    """Write the row as scaled ``(cols, xs)`` pairs and return how many; when ``learn``, the
    scaler learns the row first. ``cols`` and ``xs`` need room for the learner's column
    capacity (no allocation here, so the GPU can run it too)."""
    nnz = indices.shape[0]
    if learn:
        meta[0] += 1
        if nnz > 0 and indices[nnz - 1] + 1 > meta[1]:
            meta[1] = indices[nnz - 1] + 1
    if mode == STANDARD:
        return _standard_columns(indices, values, counts, stat1, stat2, meta[1], learn, cols, xs)
    return _sparse_columns(indices, values, counts, stat1, stat2, meta[0], meta[1], mode, learn,
                           cols, xs)


@kernel(inline=True)
def _raw(weights, cols, xs, m, out):
    """Each output's raw score, the sum over ``t < m`` of ``weights[cols[t], k] * xs[t]``, added
    from 0.0 in ``t`` order whichever way the loops run, into ``out``."""
    n = weights.shape[1]
    if n < COLUMN_LOOP:
        for k in range(n):
            raw = 0.0
            for t in range(m):
                raw += weights[cols[t], k] * xs[t]
            out[k] = raw
        return
    for k in range(n):
        out[k] = 0.0
    for t in range(m):
        row = weights[cols[t]]
        x = xs[t]
        for k in range(n):
            out[k] += row[k] * x


@kernel
def _predict(indices, values, weights, intercepts, counts, stat1, stat2, meta, mode, cols, xs,
             out):
    """:func:`predict_row` over the learner's arrays one by one. The kernels that run many
    learners (:mod:`.hierarchy`) call it with a bank's slices: passing arrays singly spares the
    reference counting numba does each time it takes an array out of a tuple, which per learner
    and row adds up."""
    m = _scaled(indices, values, counts, stat1, stat2, meta, mode, False, cols, xs)
    _raw(weights, cols, xs, m, out)
    for k in range(weights.shape[1]):
        out[k] = sigmoid(out[k] + intercepts[k])


@kernel
def _step(weights, intercepts, y, sgd, cols, xs, m, grads):
    """One SGD step of every output on the row's ``m`` scaled columns ``(cols, xs)``: per output
    the raw score, the clipped loss gradient (kept in ``grads``, scratch with room for the
    outputs), the intercept's step, then the weights' over the row's columns (see
    :func:`_predict` for why the arrays come singly)."""
    _raw(weights, cols, xs, m, grads)
    for k in range(weights.shape[1]):
        g = log_loss_gradient(grads[k] + intercepts[k], y[k])
        intercepts[k] -= sgd.intercept_lr * g
        grads[k] = g
    lr, l2 = sgd.lr, sgd.l2
    for t in range(m):
        row = weights[cols[t]]
        x = xs[t]
        if l2 != 0.0:
            for k in range(weights.shape[1]):
                row[k] -= lr * (x * grads[k] + row[k] * l2)
        else:
            for k in range(weights.shape[1]):
                row[k] -= lr * (x * grads[k])


@kernel(background=True)
def predict_row(indices, values, state, mode, cols, xs, out):
    """Write P(output = 1) of every output for one row into ``out``; the state is not touched.
    ``cols`` and ``xs`` are scratch with room for the learner's column capacity (no allocation
    here, so the GPU can run it too); ``out`` holds the raw scores on the way."""
    _predict(indices, values, state.weights, state.intercepts, state.counts, state.stat1,
             state.stat2, state.meta, mode, cols, xs, out)


@kernel(background=True)
def learn_row(indices, values, y, state, sgd, cols, xs, grads):
    """One SGD step on the log loss of every output, after the scaler learned the row.

    Per output, the order is river's: raw score, clipped loss gradient, intercept step, then the
    weight step ``w -= lr * (x * g + l2 * w)`` on the row's (scaled) columns only (the outputs'
    raw scores all come before any weight moves, which changes nothing: each reads only its own
    weights). ``grads`` is scratch with room for the outputs.
    """
    m = _scaled(indices, values, state.counts, state.stat1, state.stat2, state.meta, sgd.mode,
                True, cols, xs)
    _step(state.weights, state.intercepts, y, sgd, cols, xs, m, grads)


@kernel(inline=True)
def bank_predict(indices, values, bank, j, mode, cols, xs, out):
    """:func:`predict_row` of learner ``j`` of a :class:`LinearBank`."""
    a = bank.rows[j]
    b = bank.rows[j + 1]
    _predict(indices, values, bank.weights[:, a:b], bank.intercepts[a:b], bank.counts[j],
             bank.stat1[j], bank.stat2[j], bank.meta[j], mode, cols, xs, out)


@kernel(inline=True)
def bank_learn(indices, values, y, bank, j, sgd, cols, xs, grads):
    """:func:`learn_row` of learner ``j`` of a :class:`LinearBank`."""
    a = bank.rows[j]
    b = bank.rows[j + 1]
    m = _scaled(indices, values, bank.counts[j], bank.stat1[j], bank.stat2[j], bank.meta[j],
                sgd.mode, True, cols, xs)
    _step(bank.weights[:, a:b], bank.intercepts[a:b], y, sgd, cols, xs, m, grads)


@kernel
def learn_batch(rows, Y, state, sgd):
    """``learn_row`` over the :class:`~streamlabels.kernels.rows.Rows` in order."""
    cols = np.empty(state.counts.shape[0], dtype=np.int64)
    xs = np.empty(state.counts.shape[0])
    grads = np.empty(state.weights.shape[1])
    for i in range(rows.indptr.shape[0] - 1):
        indices, values = row_of(rows, i)
        learn_row(indices, values, Y[i], state, sgd, cols, xs, grads)


@kernel
def predict_batch(rows, state, mode):
    """``predict_row`` over the rows; returns an (n_rows, n_outputs) array."""
    n = rows.indptr.shape[0] - 1
    out = np.empty((n, state.weights.shape[1]), dtype=np.float64)
    cols = np.empty(state.counts.shape[0], dtype=np.int64)
    xs = np.empty(state.counts.shape[0])
    for i in range(n):
        indices, values = row_of(rows, i)
        predict_row(indices, values, state, mode, cols, xs, out[i])
    return out
