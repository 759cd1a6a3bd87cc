"""Compiled test-then-train of IHOMER's learners over a run of rows between two checkpoints.

One call does, for each row in order, what ``predict_one`` then ``learn_one`` do to the router and
the group learners of the active hierarchy (and of the previous hierarchy while it is a shadow),
or ``predict_one`` alone when it does not learn, with the same floating-point operations in the
same order: it calls the very row kernels of
:mod:`streamlabels.kernels.linear` and the decision rule of :mod:`streamlabels.kernels.decision`
that the one-at-a-time path calls. The label tree and the loss detector never feed back into the
learners between two checkpoints, so the Python side updates them afterwards
(:mod:`streamlabels.ihomer.fused`).

The learners are one :class:`~streamlabels.kernels.linear.LinearBank`; numba takes no list of
arrays without a typed list, whose machinery compiles anew in every process (most of a second),
so the learners keep views of the bank instead and it is copied only when the hierarchy changes.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from streamlabels.kernels import experts
from streamlabels.kernels.decision import decide, label_scores
from streamlabels.kernels.linear import learn_row, predict_row

HierarchyArrays = namedtuple(
    "HierarchyArrays",
    ["router", "group_of", "offsets", "members", "locals_", "local_seen", "seen"],
)
"""A hierarchy as arrays: ``router``, the bank index of its router; ``group_of`` (n_labels,), the
group of each label; ``offsets`` (n_groups + 1,) and ``members``, group ``k``'s label ids
``members[offsets[k]:offsets[k + 1]]``, ascending; ``locals_`` (n_groups,), the bank index of each
group's learner, -1 where it has none (a single label, or a learner handed over to the new
hierarchy); ``local_seen`` (n_groups,) and ``seen`` (1,), instances learned by each group's
learner and by the router, updated in place."""

WarmUp = namedtuple("WarmUp", ["left", "warming", "warm_left", "map_offsets", "map_groups"])
"""The shadow's warm-up, updated in place: ``left`` holds [shadow alive (0/1), router warm-up
instances to go]; ``warming`` (n_groups,) marks the active groups that take their label scores
from the shadow while ``warm_left`` (their relevant instances to go) is positive; the shadow's
groups holding the labels of active group ``k`` are
``map_groups[map_offsets[k]:map_offsets[k + 1]]``. When the warm-up ends, ``left[0]`` drops to 0
and the rest of the run goes without the shadow."""


@njit(cache=True)
def _predict(idx, vals, bank, sgd, j, out):
    """``LinearLearner.predict_proba_one`` of bank learner ``j``."""
    a = bank.rows[j]
    b = bank.rows[j + 1]
    predict_row(
        idx, vals, sgd.mode, bank.weights[a:b], bank.intercepts[a:b], bank.counts[j],
        bank.stat1[j], bank.stat2[j], bank.meta[j], out,
    )


@njit(cache=True)
def _learn_one(idx, vals, y, bank, sgd, j):
    """``LinearLearner.learn_one`` of bank learner ``j``."""
    a = bank.rows[j]
    b = bank.rows[j + 1]
    learn_row(
        idx, vals, y, sgd.mode, bank.weights[a:b], bank.intercepts[a:b], bank.counts[j],
        bank.stat1[j], bank.stat2[j], bank.meta[j], sgd.lr, sgd.l2, sgd.intercept_lr,
    )


@njit(cache=True)
def _router_scores(idx, vals, bank, sgd, h, out):
    """P(group relevant | x); zeros before the router has learned anything."""
    if h.seen[0] == 0:
        out[:] = 0.0
        return
    _predict(idx, vals, bank, sgd, h.router, out)


@njit(cache=True)
def _local_scores(idx, vals, bank, sgd, h, k, scratch, out):
    """Write group ``k``'s within-group label scores into ``out`` at the group's label ids."""
    a = h.offsets[k]
    b = h.offsets[k + 1]
    if b - a == 1:
        out[h.members[a]] = 1.0
        return
    if h.local_seen[k] == 0:
        for p in range(a, b):
            out[h.members[p]] = 0.0
        return
    part = scratch[: b - a]
    _predict(idx, vals, bank, sgd, h.locals_[k], part)
    for p in range(a, b):
        out[h.members[p]] = part[p - a]


@njit(cache=True)
def _learn(idx, vals, y, bank, sgd, relevant_only, h, meta, target):
    """``Hierarchy.learn``: the router on the meta-labels, then each trained group's learner."""
    meta[:] = False
    for label in range(y.shape[0]):
        if y[label]:
            meta[h.group_of[label]] = True
    _learn_one(idx, vals, meta, bank, sgd, h.router)
    h.seen[0] += 1
    for k in range(h.offsets.shape[0] - 1):
        j = h.locals_[k]
        if j < 0 or (relevant_only and not meta[k]):
            continue
        a = h.offsets[k]
        b = h.offsets[k + 1]
        part = target[: b - a]
        for p in range(a, b):
            part[p - a] = y[h.members[p]]
        _learn_one(idx, vals, part, bank, sgd, j)
        h.local_seen[k] += 1


@njit(cache=True)
def _shadow_labels(idx, vals, bank, sgd, theta, active, warming, shadow, old_routing, scratch,
                   out):
    """``Transition.shadow_labels``: the shadow's label scores for the labels of warming groups.

    Only the shadow's groups holding such labels are scored, each gated by the shadow's router.
    """
    _router_scores(idx, vals, bank, sgd, shadow, old_routing)
    out[:] = 0.0
    wanted = np.zeros(old_routing.shape[0], dtype=np.bool_)
    for k in range(active.offsets.shape[0] - 1):
        if warming[k]:
            for p in range(active.offsets[k], active.offsets[k + 1]):
                wanted[shadow.group_of[active.members[p]]] = True
    for g in range(old_routing.shape[0]):
        if wanted[g] and old_routing[g] >= theta:
            _local_scores(idx, vals, bank, sgd, shadow, g, scratch, out)


@njit(cache=True)
def predict_learn_rows(indptr, indices, values, Y, learn, predicted, own, scores, bank, sgd,
                       rule, relevant_only, active, shadow, warmup, use_layer, layer,
                       layer_scratch):
    """Predict each CSR row into ``predicted`` (n_rows, n_labels), then, with ``learn``, learn it
    from ``Y`` (without, nothing is written but the outputs: every row is predicted by the model
    as it stands, as ``predict_one`` row after row would); ``own`` receives the hierarchy's own predictions by the routing rule (the loss detector
    watches them), and ``scores``, unless it has no rows, each row's label scores (those of
    ``predict_proba_one``: the layer's combined scores, or else every group's label scores).

    ``bank`` is a :class:`~streamlabels.kernels.linear.LinearBank`, ``sgd`` its
    :class:`~streamlabels.kernels.linear.SGD`, ``rule`` a
    :class:`~streamlabels.kernels.decision.Rule`; ``active`` and ``shadow`` are
    :class:`HierarchyArrays` (``shadow`` is ``active`` again when there is none) and ``warmup`` a
    :class:`WarmUp`. With ``use_layer`` the decision layer (``layer``, with its ``layer_scratch``,
    :mod:`streamlabels.kernels.experts`) decides from every group's label scores and learns
    each row after the learners; otherwise the routing rule decides.
    """
    theta = rule.theta
    n_labels = active.group_of.shape[0]
    n_groups = active.offsets.shape[0] - 1
    s_groups = max(shadow.offsets.shape[0] - 1, 0)
    routing = np.zeros(n_groups)
    old_routing = np.zeros(s_groups)
    local = np.zeros(n_labels)
    from_shadow = np.zeros(n_labels)
    scratch = np.zeros(n_labels)
    meta = np.zeros(n_groups, dtype=np.bool_)
    s_meta = np.zeros(s_groups, dtype=np.bool_)
    target = np.zeros(n_labels, dtype=np.bool_)
    model_scores = np.zeros(n_labels)
    want_scores = scores.shape[0] > 0
    every_group = rule.ensure_nonempty or use_layer or want_scores
    warming = warmup.warming
    warm_left = warmup.warm_left
    n_warming = 0
    for k in range(n_groups):
        if warming[k]:
            n_warming += 1
    for i in range(indptr.shape[0] - 1):
        idx = indices[indptr[i] : indptr[i + 1]]
        vals = values[indptr[i] : indptr[i + 1]]
        alive = warmup.left[0] == 1
        # -- predict (Transition.scores, then the decision rule) --
        _router_scores(idx, vals, bank, sgd, active, routing)
        if alive and warmup.left[1] > 0:
            _router_scores(idx, vals, bank, sgd, shadow, old_routing)
            for k in range(n_groups):
                best = -np.inf
                for p in range(warmup.map_offsets[k], warmup.map_offsets[k + 1]):
                    best = max(best, old_routing[warmup.map_groups[p]])
                routing[k] = best
        local[:] = 0.0
        shadow_done = False
        for k in range(n_groups):
            if not (every_group or routing[k] >= theta):
                continue
            if warming[k] and warm_left[k] > 0:
                if not shadow_done:
                    _shadow_labels(idx, vals, bank, sgd, theta, active, warming, shadow,
                                   old_routing, scratch, from_shadow)
                    shadow_done = True
                for p in range(active.offsets[k], active.offsets[k + 1]):
                    local[active.members[p]] = from_shadow[active.members[p]]
            else:
                _local_scores(idx, vals, bank, sgd, active, k, scratch, local)
        decide(routing, local, active.offsets, active.members, theta, rule.group_nonempty,
               rule.ensure_nonempty, own[i])
        if use_layer:
            label_scores(routing, local, active.offsets, active.members, model_scores)
            experts.decide_row(model_scores, idx, vals, layer, layer_scratch, predicted[i])
            if want_scores:
                scores[i] = layer_scratch.scores
        else:
            predicted[i] = own[i]
            if want_scores:
                label_scores(routing, local, active.offsets, active.members, scores[i])
        if not learn:
            continue
        # -- learn (Hierarchy.learn on the active hierarchy, then the shadow's warm-up) --
        y = Y[i]
        _learn(idx, vals, y, bank, sgd, relevant_only, active, meta, target)
        if alive:
            _learn(idx, vals, y, bank, sgd, relevant_only, shadow, s_meta, target)
            warmup.left[1] -= 1
            for k in range(n_groups):
                if warming[k] and meta[k]:
                    warm_left[k] -= 1
                    if warm_left[k] <= 0:
                        warming[k] = False
                        n_warming -= 1
            if warmup.left[1] <= 0 and n_warming == 0:
                warmup.left[0] = 0
        if use_layer:
            experts.learn_row(y, idx, vals, layer, layer_scratch)
