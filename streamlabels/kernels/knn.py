"""A sliding-window multi-label k-nearest-neighbour learner over array state, compiled.

The window keeps the last ``W`` learnt rows (unit-normalised) with their label sets; a query's
score for a label is the share of its ``k`` most cosine-similar window rows that carry the label.
Sparse rows are stored by their non-zeros (at most ``C`` of them, the first ones, so memory is
fixed); dense streams are standardised by running per-feature statistics (zeros included) and
stored whole. Cost per query: O(W x stored entries), independent of the stream's length.

Columns that the window has never learned (at or past ``meta[NCOLS]``) play no part, so a row
scores the same whether or not features the model has not learned yet are listed in it: the
one-at-a-time and batch paths agree bit for bit.

State (:func:`new_window`): ``meta`` int64 [next slot, rows held, columns learned, k, dense];
``ids`` (W, C) int64 and ``values`` (W, C) float64, the stored entries of each row; ``sizes``
(W,) their count; ``labels`` (W, L) bool; ``stats`` (3, F) float64, per-feature count, mean and
sum of squared deviations (dense only). Scratch (:func:`new_scratch`): ``query`` (F,) all-zero
between calls, ``neighbours`` (k,) int64 and ``similarities`` (k,).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from streamlabels.kernels.jit import kernel

POS = 0
FILL = 1
NCOLS = 2
K = 3
DENSE = 4

KnnWindow = namedtuple("KnnWindow", ["meta", "ids", "values", "sizes", "labels", "stats"])
KnnScratch = namedtuple("KnnScratch", ["query", "neighbours", "similarities"])


def new_window(n_labels: int, n_columns: int, k: int, window: int, dense: bool,
               capacity: int = 256) -> KnnWindow:
    """An empty window; dense rows are stored whole (``n_columns`` entries each)."""
    width = n_columns if dense else capacity
    meta = np.array([0, 0, 0, k, int(dense)], dtype=np.int64)
    return KnnWindow(
        meta, np.zeros((window, width), dtype=np.int64), np.zeros((window, width)),
        np.zeros(window, dtype=np.int64), np.zeros((window, n_labels), dtype=np.bool_),
        np.zeros((3, n_columns)),
    )


@kernel
def new_scratch(window: KnnWindow) -> KnnScratch:
    """Scratch for queries on ``window`` (compiled, so that parallel kernels make their own)."""
    k = window.meta[K]
    return KnnScratch(np.zeros(window.stats.shape[1]), np.zeros(k, dtype=np.int64), np.zeros(k))


def grown(window: KnnWindow, n_columns: int) -> KnnWindow:
    """The window with room for ``n_columns`` feature columns (a copy; unchanged when it fits)."""
    have = window.stats.shape[1]
    if n_columns <= have:
        return window
    extra = max(n_columns, 2 * have) - have
    stats = np.pad(window.stats, ((0, 0), (0, extra)))
    if not window.meta[DENSE]:
        return window._replace(stats=stats)
    return window._replace(
        ids=np.pad(window.ids, ((0, 0), (0, extra))),
        values=np.pad(window.values, ((0, 0), (0, extra))), stats=stats,
    )


def used(window: KnnWindow) -> dict:
    """The window's arrays as a dict of copies cut to what the kernels read: feature columns only
    as far as the window has learned them, and a sparse window's rows only as wide as its
    longest, with the entries past each row's size (left by the rows its slot held before)
    zeroed. So the copy depends neither on how the room grew nor on what is never read."""
    ncols = int(window.meta[NCOLS])
    dense = bool(window.meta[DENSE])
    width = ncols if dense else int(window.sizes.max(initial=0))
    ids, values = window.ids[:, :width].copy(), window.values[:, :width].copy()
    if not dense:
        unused = np.arange(width) >= window.sizes[:, None]
        ids[unused], values[unused] = 0, 0.0
    return {
        "meta": window.meta.copy(), "ids": ids, "values": values, "sizes": window.sizes.copy(),
        "labels": window.labels.copy(), "stats": window.stats[:, :ncols].copy(),
    }


@kernel
def _load(xi, xv, w, query):
    """Scatter the row into ``query`` over the learned columns (standardised when dense);
    returns its squared norm."""
    ncols = w.meta[NCOLS]
    norm2 = 0.0
    if w.meta[DENSE]:
        stats = w.stats
        for j in range(ncols):
            query[j] = -stats[1, j]
        for t in range(xi.shape[0]):
            if xi[t] < ncols:
                query[xi[t]] += xv[t]
        for j in range(ncols):
            var = stats[2, j] / stats[0, j] if stats[0, j] > 1.0 else 0.0
            query[j] = query[j] / math.sqrt(var) if var > 1e-12 else 0.0
            norm2 += query[j] * query[j]
    else:  # a row's column ids are distinct and ascending
        for t in range(xi.shape[0]):
            if xi[t] < ncols:
                query[xi[t]] = xv[t]
                norm2 += xv[t] * xv[t]
    return norm2


@kernel
def _clear(xi, w, query):
    if w.meta[DENSE]:
        query[: w.meta[NCOLS]] = 0.0
    else:
        for t in range(xi.shape[0]):
            if xi[t] < query.shape[0]:
                query[xi[t]] = 0.0


@kernel
def scores(xi, xv, w, scratch, out):
    """Write each label's share among the ``k`` nearest window rows into ``out`` (zeros while
    the window is empty). Ties go to the older slot."""
    out[:] = 0.0
    fill = w.meta[FILL]
    if fill == 0:
        return
    query, nb, nbs = scratch.query, scratch.neighbours, scratch.similarities
    norm2 = _load(xi, xv, w, query)
    inv = 1.0 / math.sqrt(norm2) if norm2 > 0.0 else 0.0
    k = min(nb.shape[0], fill)
    found = 0
    for s in range(fill):
        d = 0.0
        for t in range(w.sizes[s]):
            d += query[w.ids[s, t]] * w.values[s, t]
        d *= inv
        if found < k:
            pos = found
            found += 1
        elif d > nbs[k - 1]:
            pos = k - 1
        else:
            continue
        while pos > 0 and nbs[pos - 1] < d:
            nbs[pos] = nbs[pos - 1]
            nb[pos] = nb[pos - 1]
            pos -= 1
        nbs[pos] = d
        nb[pos] = s
    _clear(xi, w, query)
    for r in range(found):
        s = nb[r]
        for l in range(out.shape[0]):
            if w.labels[s, l]:
                out[l] += 1.0
    for l in range(out.shape[0]):
        out[l] /= found


@kernel
def insert(y, xi, xv, w, scratch):
    """Store a learnt row (unit norm) and its labels in place of the oldest."""
    query = scratch.query
    for t in range(xi.shape[0]):
        w.meta[NCOLS] = max(w.meta[NCOLS], xi[t] + 1)
    ncols = w.meta[NCOLS]
    if w.meta[DENSE]:  # running statistics of every learned column, zeros included
        for t in range(xi.shape[0]):
            if xi[t] < ncols:
                query[xi[t]] += xv[t]
        stats = w.stats
        for j in range(ncols):
            stats[0, j] += 1.0
            delta = query[j] - stats[1, j]
            stats[1, j] += delta / stats[0, j]
            stats[2, j] += delta * (query[j] - stats[1, j])
        query[:ncols] = 0.0
    s = w.meta[POS]
    norm2 = _load(xi, xv, w, query)
    inv = 1.0 / math.sqrt(norm2) if norm2 > 0.0 else 0.0
    c = 0
    if w.meta[DENSE]:
        for j in range(ncols):
            w.ids[s, c] = j
            w.values[s, c] = query[j] * inv
            c += 1
    else:
        for t in range(xi.shape[0]):
            j = xi[t]
            if c < w.ids.shape[1] and j < ncols and query[j] != 0.0:
                w.ids[s, c] = j
                w.values[s, c] = query[j] * inv
                c += 1
    _clear(xi, w, query)
    w.sizes[s] = c
    for l in range(y.shape[0]):
        w.labels[s, l] = y[l]
    w.meta[POS] = (s + 1) % w.ids.shape[0]
    if w.meta[FILL] < w.ids.shape[0]:
        w.meta[FILL] += 1
