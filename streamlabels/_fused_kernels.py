"""Compiled test-then-train of IHOMER's learners over a run of rows between two checkpoints.

One call does, for each row in order, what ``predict_one`` then ``learn_one`` do to the router and
the group learners of the active hierarchy (and of the previous hierarchy while it is a shadow),
with the same floating-point operations in the same order: it calls the very row kernels of
:mod:`streamlabels.learners._linear_kernels` that the one-at-a-time path calls. The label tree and
the loss detector never feed back into the learners between two checkpoints, so the Python side
updates them afterwards (``IHOMER.predict_learn_many``).

A hierarchy is given as arrays:

- ``router``: index of its router in the learner bank.
- ``group_of`` (n_labels,): the group of each label.
- ``offsets`` (n_groups + 1,) and ``members``: the label ids of group ``k`` are
  ``members[offsets[k]:offsets[k + 1]]``, ascending.
- ``locals_`` (n_groups,): bank index of each group's learner, -1 where it has none (a single
  label, or a learner handed over to the new hierarchy).
- ``local_seen`` (n_groups,) and ``seen`` (1,): instances learned by each group's learner and by
  the router; updated in place.

The learner bank stacks the state arrays of every
:class:`~streamlabels.learners.linear.LinearLearner` involved, all at one column capacity: learner
``j`` owns rows ``rows[j]:rows[j + 1]`` of ``weights`` (outputs x capacity) and ``intercepts``,
and row ``j`` of ``counts``, ``stat1``, ``stat2`` (learners x capacity) and ``meta`` (learners x
2). Numba takes no list of arrays without a typed list, whose machinery compiles anew in every
process (most of a second); the learners keep views of the bank instead
(:class:`~streamlabels.learners.linear.Bank`), so it is copied only when the hierarchy changes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from streamlabels.learners._linear_kernels import learn_row, predict_row


@njit(cache=True)
def _predict(idx, vals, bank, mode, j, out):
    """``LinearLearner.predict_proba_one`` of bank learner ``j``."""
    rows, W, B, C, S1, S2, M = bank
    a = rows[j]
    b = rows[j + 1]
    predict_row(idx, vals, mode, W[a:b], B[a:b], C[j], S1[j], S2[j], M[j], out)


@njit(cache=True)
def _learn_one(idx, vals, y, bank, mode, j, lr, l2, intercept_lr):
    """``LinearLearner.learn_one`` of bank learner ``j``."""
    rows, W, B, C, S1, S2, M = bank
    a = rows[j]
    b = rows[j + 1]
    learn_row(idx, vals, y, mode, W[a:b], B[a:b], C[j], S1[j], S2[j], M[j], lr, l2, intercept_lr)


@njit(cache=True)
def _router_scores(idx, vals, bank, mode, router, seen, out):
    """P(group relevant | x); zeros before the router has learned anything."""
    if seen[0] == 0:
        out[:] = 0.0
        return
    _predict(idx, vals, bank, mode, router, out)


@njit(cache=True)
def _local_scores(idx, vals, bank, mode, k, offsets, members, locals_, local_seen, scratch, out):
    """Write group ``k``'s within-group label scores into ``out`` at the group's label ids."""
    a = offsets[k]
    b = offsets[k + 1]
    if b - a == 1:
        out[members[a]] = 1.0
        return
    if local_seen[k] == 0:
        for p in range(a, b):
            out[members[p]] = 0.0
        return
    part = scratch[: b - a]
    _predict(idx, vals, bank, mode, locals_[k], part)
    for p in range(a, b):
        out[members[p]] = part[p - a]


@njit(cache=True)
def _learn(idx, vals, y, bank, mode, lr, l2, intercept_lr, relevant_only, router, group_of,
           offsets, members, locals_, local_seen, seen, meta, target):
    """``Hierarchy.learn``: the router on the meta-labels, then each trained group's learner."""
    meta[:] = False
    for label in range(y.shape[0]):
        if y[label]:
            meta[group_of[label]] = True
    _learn_one(idx, vals, meta, bank, mode, router, lr, l2, intercept_lr)
    seen[0] += 1
    for k in range(offsets.shape[0] - 1):
        j = locals_[k]
        if j < 0 or (relevant_only and not meta[k]):
            continue
        a = offsets[k]
        b = offsets[k + 1]
        part = target[: b - a]
        for p in range(a, b):
            part[p - a] = y[members[p]]
        _learn_one(idx, vals, part, bank, mode, j, lr, l2, intercept_lr)
        local_seen[k] += 1


@njit(cache=True)
def predict_learn_rows(
    indptr, indices, values, Y, predicted, bank, mode, lr, l2, intercept_lr, theta,
    group_nonempty, ensure_nonempty, relevant_only,
    router, group_of, offsets, members, locals_, local_seen, seen,
    s_router, s_group_of, s_offsets, s_members, s_locals, s_local_seen, s_seen,
    shadow_left, warming, warm_left, map_offsets, map_groups,
):
    """Predict each CSR row into ``predicted`` (n_rows, n_labels), then learn it from ``Y``.

    The ``s_*`` arrays describe the shadow hierarchy. ``shadow_left`` holds [shadow alive (0/1),
    router warm-up instances left]; ``warming`` (n_groups,) marks the groups that take their label
    scores from the shadow while ``warm_left`` (their count of relevant instances to go) is
    positive, as ``IHOMER._shadow_groups_left`` does; the shadow's groups that hold the labels
    of active group ``k`` are ``map_groups[map_offsets[k]:map_offsets[k + 1]]``. When the warm-up
    ends, ``shadow_left[0]`` drops to 0 and the rest of the run goes without the shadow.
    """
    n_labels = group_of.shape[0]
    n_groups = offsets.shape[0] - 1
    s_groups = max(s_offsets.shape[0] - 1, 0)
    routing = np.zeros(n_groups)
    old_routing = np.zeros(s_groups)
    local = np.zeros(n_labels)
    from_shadow = np.zeros(n_labels)
    scratch = np.zeros(n_labels)
    meta = np.zeros(n_groups, dtype=np.bool_)
    s_meta = np.zeros(s_groups, dtype=np.bool_)
    target = np.zeros(n_labels, dtype=np.bool_)
    n_warming = 0
    for k in range(n_groups):
        if warming[k]:
            n_warming += 1
    for i in range(indptr.shape[0] - 1):
        idx = indices[indptr[i] : indptr[i + 1]]
        vals = values[indptr[i] : indptr[i + 1]]
        shadow = shadow_left[0] == 1
        # -- predict (IHOMER._routing, _scores, _decide) --
        _router_scores(idx, vals, bank, mode, router, seen, routing)
        if shadow and shadow_left[1] > 0:
            _router_scores(idx, vals, bank, mode, s_router, s_seen, old_routing)
            for k in range(n_groups):
                best = -np.inf
                for p in range(map_offsets[k], map_offsets[k + 1]):
                    best = max(best, old_routing[map_groups[p]])
                routing[k] = best
        local[:] = 0.0
        shadow_done = False
        for k in range(n_groups):
            if not (ensure_nonempty or routing[k] >= theta):
                continue
            if warming[k] and warm_left[k] > 0:
                if not shadow_done:
                    _shadow_labels(idx, vals, bank, mode, theta, n_groups, offsets, members,
                                   warming, s_router, s_group_of, s_offsets, s_members,
                                   s_locals, s_local_seen, s_seen, old_routing, scratch,
                                   from_shadow)
                    shadow_done = True
                for p in range(offsets[k], offsets[k + 1]):
                    local[members[p]] = from_shadow[members[p]]
            else:
                _local_scores(idx, vals, bank, mode, k, offsets, members, locals_, local_seen,
                              scratch, local)
        out = predicted[i]
        for label in range(n_labels):
            out[label] = routing[group_of[label]] >= theta and local[label] >= 0.5
        if group_nonempty:
            for k in range(n_groups):
                if routing[k] >= theta:
                    _at_least_one(k, offsets, members, local, out)
        if ensure_nonempty and n_groups > 0:
            anything = False
            for label in range(n_labels):
                anything = anything or out[label]
            if not anything:
                _at_least_one(np.argmax(routing), offsets, members, local, out)
        # -- learn (Hierarchy.learn on the active hierarchy, then IHOMER._learn_shadow) --
        y = Y[i]
        _learn(idx, vals, y, bank, mode, lr, l2, intercept_lr, relevant_only, router, group_of,
               offsets, members, locals_, local_seen, seen, meta, target)
        if shadow:
            _learn(idx, vals, y, bank, mode, lr, l2, intercept_lr, relevant_only, s_router,
                   s_group_of, s_offsets, s_members, s_locals, s_local_seen, s_seen, s_meta,
                   target)
            shadow_left[1] -= 1
            for k in range(n_groups):
                if warming[k] and meta[k]:
                    warm_left[k] -= 1
                    if warm_left[k] <= 0:
                        warming[k] = False
                        n_warming -= 1
            if shadow_left[1] <= 0 and n_warming == 0:
                shadow_left[0] = 0


@njit(cache=True)
def _at_least_one(k, offsets, members, local, out):
    """Predict group ``k``'s best label when none of its labels is predicted yet."""
    a = offsets[k]
    b = offsets[k + 1]
    for p in range(a, b):
        if out[members[p]]:
            return
    best = a
    for p in range(a + 1, b):
        if local[members[p]] > local[members[best]]:
            best = p
    out[members[best]] = True


@njit(cache=True)
def _shadow_labels(idx, vals, bank, mode, theta, n_groups, offsets, members, warming,
                   s_router, s_group_of, s_offsets, s_members, s_locals, s_local_seen, s_seen,
                   old_routing, scratch, out):
    """``IHOMER._shadow_labels``: the shadow's label scores for the labels of warming groups.

    Only the shadow's groups holding such labels are scored, each gated by the shadow's router.
    """
    _router_scores(idx, vals, bank, mode, s_router, s_seen, old_routing)
    out[:] = 0.0
    wanted = np.zeros(old_routing.shape[0], dtype=np.bool_)
    for k in range(n_groups):
        if warming[k]:
            for p in range(offsets[k], offsets[k + 1]):
                wanted[s_group_of[members[p]]] = True
    for g in range(old_routing.shape[0]):
        if wanted[g] and old_routing[g] >= theta:
            _local_scores(idx, vals, bank, mode, g, s_offsets, s_members, s_locals,
                          s_local_seen, scratch, out)
