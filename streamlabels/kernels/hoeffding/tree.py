"""Compiled learn and predict steps of the multi-label Hoeffding tree (:mod:`.tree`).

The tree is a struct of arrays. ``nodes`` holds one row per node (``L`` outputs, column ``L`` of
``counts`` is the "empty label set" indicator)::

    feature (int64, -1 at a leaf), threshold, left, right, depth, slot (a leaf's slot, else -1),
    weight, counts (n_nodes, L + 1), alt (root of the node's alternate subtree, else -1)

A free row has ``feature == slot == -1``; ``node_free`` is a stack of free rows, so rows of
discarded subtrees are reused. ``detectors`` holds one ADWIN per node row (:mod:`streamlabels.kernels.adwin`) over
the Hamming loss of the node's subtree.

``weight`` and ``counts`` start from the split's estimate of the child's share (so a new leaf
predicts its side's label rates at once) and grow with every instance the leaf learns.

``slots`` holds one row per leaf (see :mod:`.leaves` and :mod:`.splitters`)::

    stat_weight, last_attempt, stat_counts (S, L + 1), g_all (S, D, 3), g_pos (S, D, L + 1, 3),
    g_min, g_max (S, D), hashes (S, H) uint64, table_weights (S, H), table_sets (S, H, L + 1) bool,
    table_meta (S, 2), win_x (S, W, D), win_y (S, W, L) bool, win_meta (S, 2), lr_w (S, L, D),
    lr_b (S, L)

``stat_weight`` and ``stat_counts`` count only what the leaf itself learned: they are the
split statistics' totals. ``scaler`` is ``(counts, means, m2s)`` over columns; ``meta`` is
``(n_nodes, n_instances, n_columns, free_top, node_free_top, alternates created, switches,
pruned)`` (``n_nodes`` counts live nodes, alternates included) and ``free`` a stack of unused
slots. Before every call the Python wrapper makes room for the row's columns and for every node
and slot the call may create (:func:`visit_counts`), so the kernels never allocate state.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from streamlabels.kernels import adwin
from streamlabels.kernels.hoeffding.leaves import (
    inverse_scale,
    knn_proba,
    linear_learn,
    linear_proba,
    scaler_learn,
    table_add,
    window_add,
)
from streamlabels.kernels.hoeffding.splitters import (
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
NODE_FREE_TOP = 4
N_CREATED = 5
N_SWITCHES = 6
N_PRUNED = 7
N_META = 8

# params: the hyper-parameter vector, slot by slot, by the names of the tree's hyper-parameters
# (streamlabels.learners.hoeffding.params packs it by these names)
PARAM_NAMES = (
    "grace_period", "delta", "tau", "n_splits", "min_branch_fraction", "max_depth", "max_nodes",
    "lr", "knn_k", "cardinality_th", "entropy_th", "leaf_model", "drift_detection", "drift_delta",
    "switch_significance", "drift_window_threshold",
)
N_PARAMS = len(PARAM_NAMES)
(GRACE, DELTA, TAU, N_SPLITS, MIN_BRANCH, MAX_DEPTH, MAX_NODES, LR, KNN_K, CARDINALITY_TH,
 ENTROPY_TH, LEAF_MODEL, DRIFT, DRIFT_DELTA, SWITCH_SIGNIFICANCE, DRIFT_WINDOW) = range(N_PARAMS)

# ADWIN settings of every node's detector: river's defaults (HAT uses ``ADWIN()``)
ADWIN_CLOCK = 32
ADWIN_MIN_LENGTH = 5
ADWIN_GRACE = 10

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
def route(indices, values, nodes, start=0):
    """The leaf that a row reaches from node ``start``: ``x[feature] <= threshold`` goes left."""
    feature, threshold, left, right = nodes[0], nodes[1], nodes[2], nodes[3]
    n = start
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
def _new_leaf(node_depth, nodes, slots, detectors, meta, free, node_free):
    """A leaf at ``node_depth`` on a free row, with an empty slot and detector; returns its row."""
    feature, threshold, left, right, depth, slot, weight, counts, alt = nodes
    meta[NODE_FREE_TOP] -= 1
    node = node_free[meta[NODE_FREE_TOP]]
    meta[N_NODES] += 1
    meta[FREE_TOP] -= 1
    c = free[meta[FREE_TOP]]
    reset_slot(c, slots)
    feature[node] = -1
    threshold[node] = 0.0
    left[node] = -1
    right[node] = -1
    depth[node] = node_depth
    slot[node] = c
    weight[node] = 0.0
    counts[node] = 0.0
    alt[node] = -1
    adwin.reset(node, detectors)
    return node


@njit(cache=True)
def init_root(nodes, slots, detectors, meta, free, node_free):
    """Create the root leaf (row 0) of an empty tree."""
    _new_leaf(0, nodes, slots, detectors, meta, free, node_free)


@njit(cache=True)
def _free_subtree(root, nodes, meta, free, node_free):
    """Free the rows and slots of the subtree at ``root``; its alternates count as pruned."""
    feature, left, right, slot, alt = nodes[0], nodes[2], nodes[3], nodes[5], nodes[8]
    stack = np.empty(meta[N_NODES] + 1, dtype=np.int64)
    stack[0] = root
    top = 1
    while top > 0:
        top -= 1
        n = stack[top]
        if feature[n] >= 0:
            stack[top] = left[n]
            stack[top + 1] = right[n]
            top += 2
        else:
            free[meta[FREE_TOP]] = slot[n]
            meta[FREE_TOP] += 1
        if alt[n] >= 0:
            stack[top] = alt[n]
            top += 1
            meta[N_PRUNED] += 1
        feature[n] = -1
        slot[n] = -1
        left[n] = -1
        right[n] = -1
        alt[n] = -1
        node_free[meta[NODE_FREE_TOP]] = n
        meta[NODE_FREE_TOP] += 1
        meta[N_NODES] -= 1


@njit(cache=True)
def _swap_rows(a, b, nodes, detectors):
    """Exchange the contents of node rows ``a`` and ``b`` (detectors included)."""
    for x in (nodes[0], nodes[2], nodes[3], nodes[4], nodes[5], nodes[8]):
        x[a], x[b] = x[b], x[a]
    for x in (nodes[1], nodes[6]):
        x[a], x[b] = x[b], x[a]
    for x in (nodes[7], detectors[0]):
        tmp = x[a].copy()
        x[a] = x[b]
        x[b] = tmp
    for x in (detectors[1], detectors[2]):
        tmp = x[a].copy()
        x[a] = x[b]
        x[b] = tmp
    for x in (detectors[3], detectors[4]):
        tmp = x[a].copy()
        x[a] = x[b]
        x[b] = tmp


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
def _split(leaf, j, t, nodes, slots, detectors, meta, free, node_free):
    """Turn ``leaf`` into a test ``x[j] <= t`` with two new leaves; its slot is freed.

    The node keeps its row, so its detector and alternate carry over to the test.
    """
    feature, threshold, left, right, depth, slot, weight, counts = nodes[:8]
    stat_weight, stat_counts, g_all, g_pos = slots[0], slots[2], slots[3], slots[4]
    s = slot[leaf]
    w = stat_weight[s]
    n_out = stat_counts.shape[1]
    scratch = np.empty((2, n_out))
    _, left_w = children_impurity(g_all[s, j], g_pos[s, j], stat_counts[s], w, t, scratch[0],
                                  scratch[1])
    left_w = min(max(left_w, 0.0), w)
    a = _new_leaf(depth[leaf] + 1, nodes, slots, detectors, meta, free, node_free)
    b = _new_leaf(depth[leaf] + 1, nodes, slots, detectors, meta, free, node_free)
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
def _attempt_split(leaf, nodes, slots, detectors, meta, free, node_free, params):
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
        _split(leaf, best_j, best_t, nodes, slots, detectors, meta, free, node_free)


@njit(cache=True)
def _train_leaf(leaf, indices, values, y, w, nodes, slots, scaler, meta, params):
    """Add the row with weight ``w`` to the leaf's statistics and leaf models."""
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


@njit(cache=True)
def _hamming(indices, values, y, leaf, nodes, slots, scaler, meta, params, out):
    """Share of the outputs that the leaf's prediction (``P >= 0.5``) gets wrong."""
    leaf_proba(leaf, indices, values, nodes, slots, scaler, meta, params, out)
    wrong = 0
    for k in range(y.shape[0]):
        if (out[k] >= 0.5) != y[k]:
            wrong += 1
    return wrong / y.shape[0]


@njit(cache=True)
def _monitor(n, loss, nodes, slots, detectors, meta, free, node_free, params):
    """Feed ``loss`` to node ``n``'s detector and start, swap in or prune its alternate (HAT).

    An increase of the error at a test node starts a fresh alternate leaf (replacing any older
    alternate). A leaf only monitors, as in HAT: its k-NN window and regressions follow a drift
    themselves, and its detector carries over when it splits. Once both detectors hold more than
    ``DRIFT_WINDOW`` values, the alternate replaces the subtree when its error is lower by more
    than ``sqrt(2 e (1 - e) ln(2 / significance) (1/n_alt + 1/n))``, ``e`` the subtree's error,
    and is pruned when it is higher by as much. Returns True when the
    alternate was swapped in: row ``n`` then holds it, and the old subtree is freed.
    """
    feature, depth, alt = nodes[0], nodes[4], nodes[8]
    old = adwin.estimation(n, detectors)
    change = adwin.update(n, loss, detectors, params[DRIFT_DELTA], ADWIN_CLOCK, ADWIN_MIN_LENGTH,
                          ADWIN_GRACE)
    a = alt[n]
    if change and feature[n] >= 0 and adwin.estimation(n, detectors) >= old:
        if a >= 0:
            _free_subtree(a, nodes, meta, free, node_free)
            alt[n] = -1
            meta[N_PRUNED] += 1
        if meta[N_NODES] + 1 <= params[MAX_NODES]:
            alt[n] = _new_leaf(depth[n], nodes, slots, detectors, meta, free, node_free)
            meta[N_CREATED] += 1
        return False
    widths = detectors[0]
    if (a < 0 or widths[n, adwin.WIDTH] <= params[DRIFT_WINDOW]
            or widths[a, adwin.WIDTH] <= params[DRIFT_WINDOW]):
        return False
    e_old = adwin.estimation(n, detectors)
    e_alt = adwin.estimation(a, detectors)
    size = 1.0 / widths[a, adwin.WIDTH] + 1.0 / widths[n, adwin.WIDTH]
    bound = math.sqrt(2.0 * e_old * (1.0 - e_old) * math.log(2.0 / params[SWITCH_SIGNIFICANCE])
                      * size)
    if bound < e_old - e_alt:
        _swap_rows(n, a, nodes, detectors)
        alt[a] = -1  # row a now holds the old subtree, whose alternate was row a itself
        _free_subtree(a, nodes, meta, free, node_free)
        meta[N_SWITCHES] += 1
        return True
    if bound < e_alt - e_old:
        _free_subtree(a, nodes, meta, free, node_free)
        alt[n] = -1
        meta[N_PRUNED] += 1
    return False


@njit(cache=True)
def _learn_adaptive(indices, values, y, w, nodes, slots, detectors, scaler, meta, free,
                    node_free, params):
    """Learn one row with drift detection: every path of the main tree and of the alternates.

    A path starts at the root or at an alternate's root and runs to the leaf the row reaches;
    every node on it monitors the Hamming loss of that leaf's prediction. The leaf then learns
    the row (with weight ``w``, 0 for out-of-bag rows) and may split. After a swap the node's new
    subtree is walked as a path of its own, since it has not seen the row yet.
    """
    feature, threshold, left, right, alt = nodes[0], nodes[1], nodes[2], nodes[3], nodes[8]
    out = np.empty(y.shape[0])
    stack = np.empty(2 * int(params[MAX_NODES]) + 2, dtype=np.int64)
    stack[0] = 0
    top = 1
    while top > 0:
        top -= 1
        n = stack[top]
        leaf = route(indices, values, nodes, n)
        loss = _hamming(indices, values, y, leaf, nodes, slots, scaler, meta, params, out)
        swapped = False
        while True:
            if _monitor(n, loss, nodes, slots, detectors, meta, free, node_free, params):
                stack[top] = n
                top += 1
                swapped = True
                break
            if alt[n] >= 0:
                stack[top] = alt[n]
                top += 1
            if feature[n] < 0:
                break
            if _value(indices, values, feature[n]) <= threshold[n]:
                n = left[n]
            else:
                n = right[n]
        if not swapped and w > 0.0:
            _train_leaf(leaf, indices, values, y, w, nodes, slots, scaler, meta, params)
            _attempt_split(leaf, nodes, slots, detectors, meta, free, node_free, params)


@njit(cache=True)
def learn_row(indices, values, y, w, nodes, slots, detectors, scaler, meta, free, node_free,
              params):
    """Learn one row with bootstrap weight ``w`` (0: the tree only monitors its error on it)."""
    meta[N_INSTANCES] += 1
    if indices.shape[0] and indices[-1] + 1 > meta[N_COLUMNS]:
        meta[N_COLUMNS] = indices[-1] + 1
    scaler_learn(indices, values, scaler[0], scaler[1], scaler[2])
    if params[DRIFT] != 0.0:
        _learn_adaptive(indices, values, y, w, nodes, slots, detectors, scaler, meta, free,
                        node_free, params)
    elif w > 0.0:
        leaf = route(indices, values, nodes)
        _train_leaf(leaf, indices, values, y, w, nodes, slots, scaler, meta, params)
        _attempt_split(leaf, nodes, slots, detectors, meta, free, node_free, params)


@njit(cache=True)
def room_needed(indices, values, w, nodes, slots, detectors, params):
    """How many nodes (and slots) :func:`learn_row` may create for this row, at most.

    Only a test node whose detector tests its cuts on this row can start an alternate (one node
    and slot), and only a leaf past its grace period can split (two). Each node on the row's paths,
    in the main tree and in every alternate, is updated once; new alternates can do neither on
    their first row.
    """
    feature, threshold, left, right, slot, alt = (nodes[0], nodes[1], nodes[2], nodes[3],
                                                  nodes[5], nodes[8])
    stat_weight, last_attempt = slots[0], slots[1]
    floats, ints = detectors[0], detectors[1]
    drift = params[DRIFT] != 0.0
    stack = np.empty(feature.shape[0] + 1, dtype=np.int64)
    stack[0] = 0
    top = 1
    need = 0
    while top > 0:
        top -= 1
        n = stack[top]
        while True:
            if drift and feature[n] >= 0 and not ints[n, adwin.DETECTED]:
                tested = (ints[n, adwin.TICK] + 1) % ADWIN_CLOCK == 0
                if tested and floats[n, adwin.WIDTH] + 1.0 > ADWIN_GRACE:
                    need += 1
            if drift and alt[n] >= 0:
                stack[top] = alt[n]
                top += 1
            if feature[n] < 0:
                c = slot[n]
                if w > 0.0 and stat_weight[c] + w - last_attempt[c] >= params[GRACE]:
                    need += 2
                break
            if _value(indices, values, feature[n]) <= threshold[n]:
                n = left[n]
            else:
                n = right[n]
    return need


@njit(cache=True)
def leaf_proba(leaf, indices, values, nodes, slots, scaler, meta, params, out):
    """Write P(output = 1) of every output into ``out`` by ``leaf``'s model.

    ``AUTO`` follows docs/algorithm.md §2.2: a leaf that has seen one label set predicts it; a leaf
    lighter than the cardinality threshold or purer than the entropy threshold uses k-NN; else
    the logistic regressions. A leaf with nothing to go on predicts its label rates.
    """
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


@njit(cache=True)
def predict_row(indices, values, nodes, slots, scaler, meta, params, out):
    """Write P(output = 1) of every output into ``out`` by the main tree's leaf for the row."""
    leaf_proba(route(indices, values, nodes), indices, values, nodes, slots, scaler, meta, params,
               out)
