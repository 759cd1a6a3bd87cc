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
sum of squared deviations (dense only). A sparse window also keeps an inverted index, each
column's stored entries in a ring, oldest first: ``starts`` and ``counts`` (F,) int64,
``post_slots`` (F, W) int32 and ``post_values`` (F, W) float64; saved states leave it out
(:func:`indexed` rebuilds it), and past :data:`INDEX_BUDGET` entries it has no rows and queries
scan the window instead. Scratch (:func:`new_scratch`): ``query`` (F,) all-zero between calls,
``neighbours`` (k,) int64, ``similarities`` (k,) and ``dots`` (W,).

Through the index a sparse query's cost follows the window rows that share its columns, not the
window's size times its rows' length (tmc2007-500 at 400 rows: about 1,800 entries against
9,000; at the default 1,600, 9.4 µs a row against a 67.1 µs scan, benchmarks/README.md). A
column's entries leave the window oldest first, as rows do, so a ring per column needs no search.
Each row's dot product adds its terms in ascending column order either way, and the terms a scan
adds besides are exact zeros: both give the same similarities, bit for bit.
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

KnnWindow = namedtuple(
    "KnnWindow",
    ["meta", "ids", "values", "sizes", "labels", "stats", "starts", "counts", "post_slots",
     "post_values"],
)
KnnScratch = namedtuple("KnnScratch", ["query", "neighbours", "similarities", "dots"])
SAVED = KnnWindow._fields[:6]
"""The fields a saved state holds (:func:`used`); the index is rebuilt from them."""
INDEX_BUDGET = 1 << 22
"""Most index entries (columns x window rows, 12 bytes each: 48 MiB); a window over more
columns scans instead (default window: past 2,621 columns)."""


def new_window(n_labels: int, n_columns: int, k: int, window: int, dense: bool,
               capacity: int = 256) -> KnnWindow:
    """An empty window; dense rows are stored whole (``n_columns`` entries each)."""
    width = n_columns if dense else capacity
    meta = np.array([0, 0, 0, k, int(dense)], dtype=np.int64)
    return KnnWindow(
        meta, np.zeros((window, width), dtype=np.int64), np.zeros((window, width)),
        np.zeros(window, dtype=np.int64), np.zeros((window, n_labels), dtype=np.bool_),
        np.zeros((3, n_columns)), *_new_index(0 if dense else n_columns, window),
    )


def _new_index(n_columns: int, window: int) -> tuple:
    """An empty index over ``n_columns`` columns (no rows past :data:`INDEX_BUDGET`)."""
    rows = n_columns if n_columns * window <= INDEX_BUDGET else 0
    return (np.zeros(rows, dtype=np.int64), np.zeros(rows, dtype=np.int64),
            np.zeros((rows, window), dtype=np.int32), np.zeros((rows, window)))


@kernel
def new_scratch(window: KnnWindow) -> KnnScratch:
    """Scratch for queries on ``window`` (compiled, so that parallel kernels make their own)."""
    k = window.meta[K]
    return KnnScratch(np.zeros(window.stats.shape[1]), np.zeros(k, dtype=np.int64), np.zeros(k),
                      np.zeros(window.ids.shape[0]))


def grown(window: KnnWindow, n_columns: int) -> KnnWindow:
    """The window with room for ``n_columns`` feature columns (a copy; unchanged when it fits)."""
    have = window.stats.shape[1]
    if n_columns <= have:
        return window
    extra = max(n_columns, 2 * have) - have
    stats = np.pad(window.stats, ((0, 0), (0, extra)))
    if not window.meta[DENSE]:  # an index grows with the columns, or past the budget is gone
        index = _new_index(stats.shape[1] if _has_index(window) else 0, window.ids.shape[0])
        for new, old in zip(index, window[len(SAVED):]):
            if new.shape[0]:  # the rings keep their places
                new[: old.shape[0]] = old
        return window._replace(stats=stats, **dict(zip(KnnWindow._fields[len(SAVED):], index)))
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


def _has_index(window: KnnWindow) -> bool:
    """Whether the window keeps an index: one row per column (:func:`_uses_index` in the
    kernels)."""
    return window.starts.shape[0] > 0 and window.starts.shape[0] == window.stats.shape[1]


@kernel
def _uses_index(w):
    return w.starts.shape[0] > 0 and w.starts.shape[0] == w.stats.shape[1]


def indexed(arrays: dict) -> KnnWindow:
    """The window of the :data:`SAVED` arrays ``arrays`` (as :func:`used` gives them, or larger),
    its index rebuilt. Raises ``ValueError`` where the stored entries lie outside the window
    (the kernels index without bounds checks)."""
    dtypes = {"values": np.float64, "labels": np.bool_, "stats": np.float64}
    saved = {name: np.array(arrays[name], dtype=dtypes.get(name, np.int64)) for name in SAVED}
    meta, ids, sizes, stats = saved["meta"], saved["ids"], saved["sizes"], saved["stats"]
    if meta.shape != (5,) or ids.ndim != 2 or stats.ndim != 2:
        raise ValueError("kNN window state: meta, ids or stats has the wrong shape")
    rows, width = ids.shape
    if sizes.shape != (rows,) or not 0 <= meta[FILL] <= rows or not 0 <= meta[POS] < max(
        rows, 1
    ) or (rows and (sizes.min() < 0 or sizes.max() > width)) or ids[
        np.arange(width) < sizes[:, None]
    ].max(initial=0) >= max(stats.shape[1], 1):
        raise ValueError("kNN window state: its stored entries lie outside the window")
    index = _new_index(0 if meta[DENSE] else stats.shape[1], rows)
    window = KnnWindow(*(saved[name] for name in SAVED), *index)
    if _has_index(window):
        reindex(window)
    return window


@kernel
def reindex(w):
    """Fill the empty index with the stored entries of the filled slots, oldest row first."""
    rows = w.ids.shape[0]
    first = w.meta[POS] if w.meta[FILL] == rows else 0
    for r in range(w.meta[FILL]):
        s = (first + r) % rows
        for t in range(w.sizes[s]):
            _append(w, w.ids[s, t], s, w.values[s, t])


@kernel
def _append(w, j, s, value):
    """Add slot ``s``'s entry ``value`` as column ``j``'s newest."""
    rows = w.post_slots.shape[1]
    at = w.starts[j] + w.counts[j]
    if at >= rows:
        at -= rows
    w.post_slots[j, at] = s
    w.post_values[j, at] = value
    w.counts[j] += 1


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
def _indexed_dots(xi, w, query, dots):
    """Each filled slot's dot product with the loaded query, through the index: the query's
    columns ascending (as a row's are), each column's entries in its ring, walked as the one or
    two stretches of the row it fills (plain loops, without a wrap test per entry)."""
    rows = w.post_slots.shape[1]
    for s in range(w.meta[FILL]):
        dots[s] = 0.0
    ncols = w.meta[NCOLS]
    for t in range(xi.shape[0]):
        j = xi[t]
        if j < ncols:
            start = w.starts[j]
            end = start + w.counts[j]
            _add_entries(w.post_slots[j], w.post_values[j], start, min(end, rows), query[j], dots)
            if end > rows:
                _add_entries(w.post_slots[j], w.post_values[j], 0, end - rows, query[j], dots)


@kernel
def _add_entries(slots, values, start, stop, v, dots):
    for at in range(start, stop):
        dots[slots[at]] += v * values[at]


@kernel
def scores(xi, xv, w, scratch, out):
    """Write each label's share among the ``k`` nearest window rows into ``out`` (zeros while
    the window is empty). Ties go to the older slot."""
    out[:] = 0.0
    fill = w.meta[FILL]
    if fill == 0:
        return
    query, nb, nbs, dots = scratch.query, scratch.neighbours, scratch.similarities, scratch.dots
    norm2 = _load(xi, xv, w, query)
    inv = 1.0 / math.sqrt(norm2) if norm2 > 0.0 else 0.0
    k = min(nb.shape[0], fill)
    if _uses_index(w):
        _indexed_dots(xi, w, query, dots)
    else:
        for s in range(fill):
            d = 0.0
            for t in range(w.sizes[s]):
                d += query[w.ids[s, t]] * w.values[s, t]
            dots[s] = d
    found = 0
    for s in range(fill):
        d = dots[s] * inv
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
    index = _uses_index(w)
    if index and w.meta[FILL] == w.ids.shape[0]:  # the oldest row leaves: each of its columns'
        for t in range(w.sizes[s]):  # oldest entry
            j = w.ids[s, t]
            w.starts[j] = w.starts[j] + 1 if w.starts[j] + 1 < w.post_slots.shape[1] else 0
            w.counts[j] -= 1
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
                if index:
                    _append(w, j, s, w.values[s, c])
                c += 1
    _clear(xi, w, query)
    w.sizes[s] = c
    for l in range(y.shape[0]):
        w.labels[s, l] = y[l]
    w.meta[POS] = (s + 1) % w.ids.shape[0]
    if w.meta[FILL] < w.ids.shape[0]:
        w.meta[FILL] += 1
