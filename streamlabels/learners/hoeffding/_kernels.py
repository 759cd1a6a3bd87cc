"""Compiled learn and predict steps of the multi-label Hoeffding tree (:mod:`.tree`).

The tree is a struct of arrays. ``nodes`` holds one row per node (``L`` outputs, column ``L`` of
``counts`` is the "empty label set" indicator)::

    feature (int64, -1 at a leaf), threshold, left, right, depth, slot (a leaf's slot, else -1),
    weight, counts (n_nodes, L + 1)

``weight`` and ``counts`` start from the split's estimate of the child's share (so a new leaf
predicts its side's label rates at once) and grow with every instance the leaf learns.

``slots`` holds one row per leaf (see :mod:`._leaves` and :mod:`._splitters`)::

    stat_weight, last_attempt, stat_counts (S, L + 1), g_all (S, D, 3), g_pos (S, D, L + 1, 3),
    g_min, g_max (S, D), hashes (S, H) uint64, table_weights (S, H), table_sets (S, H, L + 1) bool,
    table_meta (S, 2), win_x (S, W, D), win_y (S, W, L) bool, win_meta (S, 2), lr_w (S, L, D),
    lr_b (S, L)

``stat_weight`` and ``stat_counts`` count only what the leaf itself learned: they are the
split statistics' totals. ``scaler`` is ``(counts, means, m2s)`` over columns; ``meta`` is
``(n_nodes, n_instances, n_columns, free_top)`` and ``free`` a stack of unused slots. The Python
wrapper guarantees room for one split (two nodes, two free slots) and for the row's columns
before every call, so the kernels never allocate state.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from streamlabels.learners.hoeffding._leaves import (
    inverse_scale,
    knn_proba,
    linear_learn,
    linear_proba,
    scaler_learn,
    table_add,
    window_add,
)
from streamlabels.learners.hoeffding._splitters import (
    best_threshold,
    children_impurity,
    impurity,
    welford_add,
)

# meta
N_NODES = 0
N_INSTANCES = 1
N_COLUMNS = 2
FREE_TOP = 3

# params
GRACE = 0
DELTA = 1
TAU = 2
N_SPLITS = 3
MIN_BRANCH = 4
MAX_DEPTH = 5
MAX_NODES = 6
LR = 7
KNN_K = 8
CARDINALITY_TH = 9
ENTROPY_TH = 10
LEAF_MODEL = 11
N_PARAMS = 12

# leaf models
AUTO = 0
MAJORITY = 1
BR_LINEAR = 2
LP_KNN = 3


@njit(cache=True)
def _value(indices, values, j):
    """Value of column ``j`` in a sparse row (0.0 when absent); ``indices`` ascending."""
    p = np.searchsorted(indices, j)
    if p < indices.shape[0] and indices[p] == j:
        return values[p]
    return 0.0


@njit(cache=True)
def route(indices, values, nodes):
    """The leaf that a row reaches: ``x[feature] <= threshold`` goes left."""
    feature, threshold, left, right = nodes[0], nodes[1], nodes[2], nodes[3]
    n = 0
    while feature[n] >= 0:
        if _value(indices, values, feature[n]) <= threshold[n]:
            n = left[n]
        else:
            n = right[n]
    return n


@njit(cache=True)
def _scaled(indices, values, scaler, n_instances):
    """The row's non-zero entries divided by their column's running standard deviation."""
    counts, means, m2s = scaler
    cols = np.empty(indices.shape[0], dtype=np.int64)
    xs = np.empty(indices.shape[0])
    m = 0
    for p in range(indices.shape[0]):
        j = indices[p]
        if values[p] == 0.0 or j >= counts.shape[0]:
            continue
        cols[m] = j
        xs[m] = values[p] * inverse_scale(j, counts, means, m2s, n_instances)
        m += 1
    return cols[:m], xs[:m]


@njit(cache=True)
def reset_slot(c, slots):
    """Empty slot ``c`` so that a new leaf can own it."""
    (stat_weight, last_attempt, stat_counts, g_all, g_pos, g_min, g_max, hashes, table_weights,
     table_sets, table_meta, win_x, win_y, win_meta, lr_w, lr_b) = slots
    stat_weight[c] = 0.0
    last_attempt[c] = 0.0
    stat_counts[c] = 0.0
    g_all[c] = 0.0
    g_pos[c] = 0.0
    g_min[c] = np.inf
    g_max[c] = -np.inf
    hashes[c] = 0
    table_weights[c] = 0.0
    table_sets[c] = False
    table_meta[c, 0] = 0
    table_meta[c, 1] = -1
    win_x[c] = 0.0
    win_y[c] = False
    win_meta[c] = 0
    lr_w[c] = 0.0
    lr_b[c] = 0.0


@njit(cache=True)
def _new_leaf(parent, nodes, slots, meta, free):
    """Append a leaf below ``parent`` (-1 for the root) with an empty slot; returns its node id."""
    feature, threshold, left, right, depth, slot, weight, counts = nodes
    node = meta[N_NODES]
    meta[N_NODES] += 1
    meta[FREE_TOP] -= 1
    c = free[meta[FREE_TOP]]
    reset_slot(c, slots)
    feature[node] = -1
    threshold[node] = 0.0
    left[node] = -1
    right[node] = -1
    depth[node] = 0 if parent < 0 else depth[parent] + 1
    slot[node] = c
    weight[node] = 0.0
    counts[node] = 0.0
    return node


@njit(cache=True)
def init_root(nodes, slots, meta, free):
    """Create the root leaf of an empty tree."""
    _new_leaf(-1, nodes, slots, meta, free)


@njit(cache=True)
def _inherit(parent_slot, child, go_left, j, t, nodes, slots):
    """Warm-start a child leaf: parent regressions, parent window rows on the child's side."""
    hashes, table_weights, table_sets, table_meta = slots[7], slots[8], slots[9], slots[10]
    win_x, win_y, win_meta, lr_w, lr_b = slots[11], slots[12], slots[13], slots[14], slots[15]
    c = nodes[5][child]
    lr_w[c] = lr_w[parent_slot]
    lr_b[c] = lr_b[parent_slot]
    size = win_meta[parent_slot, 0]
    start = win_meta[parent_slot, 1] if size == win_x.shape[1] else 0
    n_out = win_y.shape[2]
    yy = np.empty(n_out + 1, dtype=np.bool_)
    for r in range(size):
        i = (start + r) % win_x.shape[1]
        if (win_x[parent_slot, i, j] <= t) != go_left:
            continue
        pos = win_meta[c, 1]
        win_x[c, pos] = win_x[parent_slot, i]
        win_y[c, pos] = win_y[parent_slot, i]
        win_meta[c, 1] = pos + 1
        win_meta[c, 0] = pos + 1
        empty = True
        for o in range(n_out):
            yy[o] = win_y[parent_slot, i, o]
            empty = empty and not yy[o]
        yy[n_out] = empty
        table_add(c, yy, 1.0, hashes, table_weights, table_sets, table_meta)
    win_meta[c, 1] = win_meta[c, 1] % win_x.shape[1]


@njit(cache=True)
def _split(leaf, j, t, nodes, slots, meta, free):
    """Turn ``leaf`` into a test ``x[j] <= t`` with two new leaves; its slot is freed."""
    feature, threshold, left, right, depth, slot, weight, counts = nodes
    stat_weight, stat_counts, g_all, g_pos = slots[0], slots[2], slots[3], slots[4]
    s = slot[leaf]
    w = stat_weight[s]
    n_out = stat_counts.shape[1]
    scratch = np.empty((2, n_out))
    _, left_w = children_impurity(g_all[s, j], g_pos[s, j], stat_counts[s], w, t, scratch[0],
                                  scratch[1])
    left_w = min(max(left_w, 0.0), w)
    a = _new_leaf(leaf, nodes, slots, meta, free)
    b = _new_leaf(leaf, nodes, slots, meta, free)
    weight[a] = left_w
    weight[b] = w - left_w
    for k in range(n_out):
        lt = min(max(scratch[1, k], 0.0), w)
        lp = min(max(scratch[0, k], 0.0), lt)
        rt = w - lt
        rp = min(max(stat_counts[s, k] - lp, 0.0), rt)
        counts[a, k] = left_w * lp / lt if lt > 0.0 else 0.0
        counts[b, k] = (w - left_w) * rp / rt if rt > 0.0 else 0.0
    _inherit(s, a, True, j, t, nodes, slots)
    _inherit(s, b, False, j, t, nodes, slots)
    feature[leaf] = j
    threshold[leaf] = t
    left[leaf] = a
    right[leaf] = b
    slot[leaf] = -1
    free[meta[FREE_TOP]] = s
    meta[FREE_TOP] += 1


@njit(cache=True)
def _attempt_split(leaf, nodes, slots, meta, free, params):
    """Split ``leaf`` when the Hoeffding test allows it (grace period, depth and size permitting).

    Merit is compared with the second-best feature and with not splitting (merit 0). The bound
    uses R = log2(distinct label sets at the leaf), at least 1.
    """
    depth, slot = nodes[4], nodes[5]
    stat_weight, last_attempt, stat_counts, g_all, g_pos, g_min, g_max = slots[:7]
    table_meta = slots[10]
    s = slot[leaf]
    w = stat_weight[s]
    if w - last_attempt[s] < params[GRACE]:
        return
    last_attempt[s] = w
    if depth[leaf] >= params[MAX_DEPTH] or meta[N_NODES] + 2 > params[MAX_NODES]:
        return
    if table_meta[s, 0] <= 1:
        return
    scratch = np.empty((2, stat_counts.shape[1]))
    best = 0.0
    second = 0.0
    best_j = -1
    best_t = 0.0
    n_splits = int(params[N_SPLITS])
    for j in range(meta[N_COLUMNS]):
        merit, t = best_threshold(g_all[s, j], g_pos[s, j], g_min[s, j], g_max[s, j],
                                  stat_counts[s], w, n_splits, params[MIN_BRANCH], scratch)
        if merit > best:
            second = best
            best = merit
            best_j = j
            best_t = t
        elif merit > second:
            second = merit
    if best_j < 0:
        return
    r = math.log2(max(2.0, float(table_meta[s, 0])))
    eps = math.sqrt(r * r * math.log(1.0 / params[DELTA]) / (2.0 * w))
    if best - second > eps or eps < params[TAU]:
        _split(leaf, best_j, best_t, nodes, slots, meta, free)


@njit(cache=True)
def learn_row(indices, values, y, w, nodes, slots, scaler, meta, free, params):
    """Learn one row with bootstrap weight ``w`` (0: only the feature scaler learns it)."""
    meta[N_INSTANCES] += 1
    if indices.shape[0] and indices[-1] + 1 > meta[N_COLUMNS]:
        meta[N_COLUMNS] = indices[-1] + 1
    scaler_learn(indices, values, scaler[0], scaler[1], scaler[2])
    if w <= 0.0:
        return
    (stat_weight, _, stat_counts, g_all, g_pos, g_min, g_max, hashes, table_weights, table_sets,
     table_meta, win_x, win_y, win_meta, lr_w, lr_b) = slots
    n_out = y.shape[0]
    yy = np.empty(n_out + 1, dtype=np.bool_)
    positives = np.empty(n_out + 1, dtype=np.int64)
    n_pos = 0
    for k in range(n_out):
        yy[k] = y[k]
        if y[k]:
            positives[n_pos] = k
            n_pos += 1
    yy[n_out] = n_pos == 0
    if n_pos == 0:
        positives[0] = n_out
        n_pos = 1

    leaf = route(indices, values, nodes)
    weight, counts = nodes[6], nodes[7]
    s = nodes[5][leaf]
    weight[leaf] += w
    stat_weight[s] += w
    for r in range(n_pos):
        counts[leaf, positives[r]] += w
        stat_counts[s, positives[r]] += w
    for p in range(indices.shape[0]):
        v = values[p]
        if v == 0.0:
            continue
        j = indices[p]
        welford_add(g_all[s, j], v, w)
        g_min[s, j] = min(g_min[s, j], v)
        g_max[s, j] = max(g_max[s, j], v)
        for r in range(n_pos):
            welford_add(g_pos[s, j, positives[r]], v, w)
    table_add(s, yy, w, hashes, table_weights, table_sets, table_meta)
    window_add(s, indices, values, y, win_x, win_y, win_meta)
    cols, xs = _scaled(indices, values, scaler, meta[N_INSTANCES])
    linear_learn(s, cols, xs, y, w, params[LR], lr_w, lr_b)
    _attempt_split(leaf, nodes, slots, meta, free, params)


@njit(cache=True)
def predict_row(indices, values, nodes, slots, scaler, meta, params, out):
    """Write P(output = 1) of every output into ``out`` by the leaf the row reaches.

    ``AUTO`` follows ALGORITHM.md §2.2: a leaf that has seen one label set predicts it; a leaf
    lighter than the cardinality threshold or purer than the entropy threshold uses k-NN; else
    the logistic regressions. A leaf with nothing to go on predicts its label rates.
    """
    leaf = route(indices, values, nodes)
    weight, counts = nodes[6], nodes[7]
    s = nodes[5][leaf]
    table_sets, table_meta = slots[9], slots[10]
    win_x, win_y, win_meta, lr_w, lr_b = slots[11:]
    n_out = out.shape[0]
    mode = int(params[LEAF_MODEL])
    n_sets = table_meta[s, 0]
    if mode == AUTO:
        if n_sets == 1:
            mode = MAJORITY
        elif (weight[leaf] < params[CARDINALITY_TH]
              or impurity(counts[leaf], weight[leaf]) < params[ENTROPY_TH]):
            mode = LP_KNN
        else:
            mode = BR_LINEAR
    if mode == MAJORITY and n_sets > 0:
        best = table_meta[s, 1]
        for k in range(n_out):
            out[k] = 1.0 if table_sets[s, best, k] else 0.0
    elif mode == LP_KNN and win_meta[s, 0] > 0:
        d = meta[N_COLUMNS]
        inv = np.empty(d)
        for j in range(d):
            inv[j] = inverse_scale(j, scaler[0], scaler[1], scaler[2], meta[N_INSTANCES])
        knn_proba(s, indices, values, int(params[KNN_K]), win_x, win_y, win_meta, inv, out)
    elif mode == BR_LINEAR and weight[leaf] > 0.0:
        cols, xs = _scaled(indices, values, scaler, meta[N_INSTANCES])
        linear_proba(s, cols, xs, lr_w, lr_b, out)
    else:
        for k in range(n_out):
            out[k] = counts[leaf, k] / weight[leaf] if weight[leaf] > 0.0 else 0.0
