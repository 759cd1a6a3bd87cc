"""Compiled CPU scoring of a :class:`~streamlabels.scoring.Snapshot`, one batch row per task.

A row is scored in two steps over a vector ``s`` of *slots*: first every stacked learner writes
its outputs' probabilities into its slots (the constant slots after them hold the untrained
fallbacks), then :func:`gather_row` reads routing and label scores through the snapshot's slot
tables and :mod:`streamlabels.kernels.decision` applies iHOMER's decision rule. The float
operations of the first step are those of :func:`streamlabels.kernels.linear.predict_row`, in the
same order, so the batch scores equal ``predict_one``'s bit for bit. :func:`gather_row` allocates
nothing and calls nothing, so the GPU scorer compiles the very same source as a CUDA device
function.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit, prange

from streamlabels.kernels import experts, knn
from streamlabels.kernels.decision import decide, label_scores
from streamlabels.kernels.linear import SPARSE, STANDARD, sigmoid
from streamlabels.kernels.scaling import sparse_variance

SlotLearners = namedtuple(
    "SlotLearners",
    ["out_ptr", "n_cols", "weight_ptr", "col_ptr", "weights", "intercepts", "center", "scale",
     "absent", "constants"],
)
"""The stacked learners of a snapshot (layout in :class:`streamlabels.scoring.Snapshot`)."""

SlotTables = namedtuple(
    "SlotTables",
    ["route_ptr", "route_slots", "group_ptr", "group_labels", "label_slot", "label_gate"],
)
"""How a snapshot reads routing and label scores off the slots."""


@njit(cache=True)
def column_scales(mode, counts, stat1, stat2, n_seen, center, scale):
    """Write the ``(x - center) / scale`` of every column a learner's scaler implies.

    ``scale`` 0 means "the column contributes 0", as a zero variance does in the learner. The
    expressions are the learner's own (``var**0.5`` in standard mode,
    :func:`~streamlabels.kernels.scaling.sparse_variance` and ``math.sqrt`` in sparse mode), so the quotients round identically.
    """
    for j in range(counts.shape[0]):
        if mode == STANDARD:
            var = stat2[j]
            center[j] = stat1[j]
            scale[j] = var**0.5
        elif mode == SPARSE:
            var = sparse_variance(stat2[j], stat1[j], counts[j], n_seen)
            center[j] = 0.0
            scale[j] = math.sqrt(var) if var > 0.0 else 0.0
        else:
            center[j] = 0.0
            scale[j] = 1.0


@njit(cache=True)
def _dot4(weights, b0, b1, b2, b3, cols, xs, m, dense):
    """Four outputs' raw scores at once: four independent sums, each in the learner's order."""
    r0 = 0.0
    r1 = 0.0
    r2 = 0.0
    r3 = 0.0
    for t in range(m):
        j = t if dense else cols[t]
        x = xs[t]
        r0 += weights[b0 + j] * x
        r1 += weights[b1 + j] * x
        r2 += weights[b2 + j] * x
        r3 += weights[b3 + j] * x
    return r0, r1, r2, r3


@njit(cache=True)
def learner_scores(indices, values, walk_all, need, learners, cols, xs, s):
    """Write the P(output = 1) of the learners in ``need`` for one row (ascending ``indices``).

    With ``walk_all`` (standard scaling) every column below the learner's width counts, absent
    ones as 0.0 (scaled in advance: ``absent``); otherwise only the row's own entries do. Columns
    past a learner's width were never learned by it and are skipped. A column whose scale is 0
    adds ``w * 0.0``, which leaves the sum bit for bit unchanged, so including the columns the
    learner skips is harmless. Each output's sum runs over the columns in ascending order, as the
    learner's does; summing four outputs side by side only keeps the CPU's adders busy.
    """
    out_ptr, n_cols, weight_ptr, col_ptr = (
        learners.out_ptr, learners.n_cols, learners.weight_ptr, learners.col_ptr
    )
    weights, intercepts, center, scale, absent = (
        learners.weights, learners.intercepts, learners.center, learners.scale, learners.absent
    )
    nnz = indices.shape[0]
    for lid in range(n_cols.shape[0]):
        if not need[lid]:
            continue
        width = n_cols[lid]
        c0 = col_ptr[lid]
        m = 0
        if walk_all:
            p = 0
            for j in range(width):
                if p < nnz and indices[p] == j:
                    sd = scale[c0 + j]
                    xs[j] = (values[p] - center[c0 + j]) / sd if sd != 0.0 else 0.0
                    p += 1
                else:
                    xs[j] = absent[c0 + j]
            m = width
        else:
            for p in range(nnz):
                j = indices[p]
                if j >= width:
                    break
                sd = scale[c0 + j]
                cols[m] = j
                xs[m] = (values[p] - center[c0 + j]) / sd if sd != 0.0 else 0.0
                m += 1
        first = out_ptr[lid]
        end = out_ptr[lid + 1]
        base = weight_ptr[lid] - first * width  # output o's weights start at base + o * width
        o = first
        while o + 4 <= end:
            r0, r1, r2, r3 = _dot4(
                weights, base + o * width, base + (o + 1) * width, base + (o + 2) * width,
                base + (o + 3) * width, cols, xs, m, walk_all,
            )
            s[o] = sigmoid(r0 + intercepts[o])
            s[o + 1] = sigmoid(r1 + intercepts[o + 1])
            s[o + 2] = sigmoid(r2 + intercepts[o + 2])
            s[o + 3] = sigmoid(r3 + intercepts[o + 3])
            o += 4
        while o < end:
            r0, _, _, _ = _dot4(
                weights, base + o * width, base + o * width, base + o * width, base + o * width,
                cols, xs, m, walk_all,
            )
            s[o] = sigmoid(r0 + intercepts[o])
            o += 1


@njit(cache=True)
def gather_row(s, theta, route_ptr, route_slots, label_slot, label_gate, routing, local):
    """Read one row's routing scores (per group) and label scores (per label) off its slots.

    A group's routing score is the max over its route slots (one slot, or the old groups it maps
    to during a router warm-up). A label's local score is its slot, zeroed when its gate slot (the
    shadow router, during a group warm-up) is below ``theta``.
    """
    for k in range(route_ptr.shape[0] - 1):
        r = s[route_slots[route_ptr[k]]]
        for q in range(route_ptr[k] + 1, route_ptr[k + 1]):
            r = max(r, s[route_slots[q]])
        routing[k] = r
    for l in range(label_slot.shape[0]):
        gate = label_gate[l]
        local[l] = s[label_slot[l]] if gate < 0 or s[gate] >= theta else 0.0


@njit(cache=True)
def combine_row(s, rule, tables, routing, local, want_proba, proba, labels):
    """Turn one row's slot scores into iHOMER's scores (``want_proba``) and labels (when
    ``labels`` has room), by the decision rule of :mod:`streamlabels.kernels.decision`.
    ``routing`` and ``local`` are scratch of one entry per group and per label."""
    t = tables
    gather_row(s, rule.theta, t.route_ptr, t.route_slots, t.label_slot, t.label_gate, routing,
               local)
    if want_proba:
        label_scores(routing, local, t.group_ptr, t.group_labels, proba)
    if labels.shape[0] > 0:
        decide(routing, local, t.group_ptr, t.group_labels, rule.theta, rule.group_nonempty,
               rule.ensure_nonempty, labels)


@njit(cache=True)
def score_row(indices, values, walk_all, lazy, gating, label_learner, need, learners, tables,
              rule, cols, xs, s, routing, local, want_proba, proba, labels):
    """Score one row. When ``lazy`` (labels only), the group learners run only for routed groups.

    ``gating`` marks the learners routing and gates read, ``label_learner`` is the learner behind
    each label's slot (-1 for a constant). Slots of learners skipped for this row keep stale
    values, which :func:`combine_row` reads only for groups that are not routed and so not used.
    """
    t = tables
    if lazy:
        need[:] = gating
    else:
        need[:] = True
    learner_scores(indices, values, walk_all, need, learners, cols, xs, s)
    if lazy:
        need[:] = False
        for k in range(t.route_ptr.shape[0] - 1):
            r = s[t.route_slots[t.route_ptr[k]]]
            for q in range(t.route_ptr[k] + 1, t.route_ptr[k + 1]):
                r = max(r, s[t.route_slots[q]])
            if r >= rule.theta:
                for p in range(t.group_ptr[k], t.group_ptr[k + 1]):
                    lid = label_learner[t.group_labels[p]]
                    if lid >= 0 and not gating[lid]:
                        need[lid] = True
        learner_scores(indices, values, walk_all, need, learners, cols, xs, s)
    combine_row(s, rule, tables, routing, local, want_proba, proba, labels)


@njit(cache=True)
def _row(i, dense, X, indptr, indices, values, all_columns):
    """Row ``i``'s column ids and values: a dense block's whole row, or a CSR row's slice."""
    if dense:
        return all_columns, X[i]
    return indices[indptr[i] : indptr[i + 1]], values[indptr[i] : indptr[i + 1]]


@njit(cache=True)
def score_rows(start, stop, dense, X, indptr, indices, values, walk_all, gating, label_learner,
               learners, tables, rule, want_proba, proba, labels):
    """Score rows ``start:stop`` one after the other, with scratch of their own.

    Rows come from the dense ``X`` when ``dense``, else from the CSR arrays; the output not asked
    for may have zero columns.
    """
    n_outputs = learners.intercepts.shape[0]
    width = 1
    for lid in range(learners.n_cols.shape[0]):
        width = max(width, learners.n_cols[lid])
    s = np.zeros(n_outputs + learners.constants.shape[0])
    s[n_outputs:] = learners.constants
    cols = np.empty(width, dtype=np.int64)
    xs = np.empty(width)
    need = np.empty(learners.n_cols.shape[0], dtype=np.bool_)
    routing = np.empty(tables.route_ptr.shape[0] - 1)
    local = np.empty(tables.label_slot.shape[0])
    all_columns = np.arange(X.shape[1])
    lazy = not want_proba and not rule.ensure_nonempty
    for i in range(start, stop):
        row_indices, row_values = _row(i, dense, X, indptr, indices, values, all_columns)
        score_row(row_indices, row_values, walk_all, lazy, gating, label_learner, need, learners,
                  tables, rule, cols, xs, s, routing, local, want_proba, proba[i], labels[i])


@njit(cache=True, parallel=True)
def score_batch(n_rows, chunk, dense, X, indptr, indices, values, walk_all, gating, label_learner,
                learners, tables, rule, want_proba, proba, labels):
    """:func:`score_rows` over ``chunk``-row blocks of ``n_rows`` rows in parallel tasks."""
    for c in prange((n_rows + chunk - 1) // chunk):
        score_rows(c * chunk, min(n_rows, (c + 1) * chunk), dense, X, indptr, indices, values,
                   walk_all, gating, label_learner, learners, tables, rule, want_proba, proba,
                   labels)


@njit(cache=True)
def decide_rows(start, stop, model_scores, dense, X, indptr, indices, values, layer, labels,
                scores):
    """The decision layer's labels and scores for rows ``start .. stop - 1``, from the rows'
    model scores (:func:`streamlabels.kernels.experts.decide_row`, which only reads the layer),
    with scratch of its own."""
    scratch = experts.new_scratch(layer)
    all_columns = np.arange(X.shape[1])
    for i in range(start, stop):
        xi, xv = _row(i, dense, X, indptr, indices, values, all_columns)
        experts.decide_row(model_scores[i], xi, xv, layer, scratch, labels[i])
        scores[i] = scratch.scores


@njit(cache=True, parallel=True)
def decide_batch(model_scores, dense, X, indptr, indices, values, layer, chunk, labels, scores):
    """:func:`decide_rows` over ``chunk``-row blocks in parallel tasks."""
    n_rows = model_scores.shape[0]
    # parallel tasks take arrays, not nested tuples: the layer is rebuilt inside each task
    prm, run, weights, previous = layer.prm, layer.run, layer.weights, layer.previous
    frequency, context, histogram = layer.frequency, layer.context, layer.histogram
    meta, ids, vals, sizes = layer.window.meta, layer.window.ids, layer.window.values, \
        layer.window.sizes
    window_labels, stats = layer.window.labels, layer.window.stats
    for c in prange((n_rows + chunk - 1) // chunk):
        task_layer = experts.Layer(
            prm, run, weights, previous, frequency, context, histogram,
            knn.KnnWindow(meta, ids, vals, sizes, window_labels, stats),
        )
        decide_rows(c * chunk, min(n_rows, (c + 1) * chunk), model_scores, dense, X, indptr,
                    indices, values, task_layer, labels, scores)
