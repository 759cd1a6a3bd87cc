"""A hierarchy in transition as compiled arrays, and the one kernel that scores a row with it.

:class:`Model` is the compiled layout of a whole iHOMER model: the learners stacked in one
:class:`~streamlabels.kernels.linear.LinearBank`, the active hierarchy, the previous one while
it is a *shadow* (docs/algorithm.md §2.6), the warm-up counters, the decision rule and the
decision layer. The fused test-then-train run (:mod:`.fused`), the CPU scorer
(:mod:`.scoring_cpu`) and the GPU scorer (:mod:`.scoring_cuda`, which compiles the same source
for the device) all score rows with :func:`score_row`, so the transition rule, how a hierarchy in
warm-up mixes old and new learners, lives here once. ``streamlabels.ihomer.transition`` is the
clear Python reference of the same rule that the parity tests hold this to, bit for bit.

Nothing here allocates: scratch comes from :func:`new_scratch` (on the CPU) or from the GPU
scorer's per-thread rows.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from streamlabels.kernels import experts
from streamlabels.kernels.decision import decide, label_scores
from streamlabels.kernels.jit import kernel
from streamlabels.kernels.linear import bank_learn, bank_predict

Hierarchy = namedtuple(
    "Hierarchy", ["router", "group_of", "offsets", "members", "locals_", "local_seen", "seen"]
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
from streamlabels.kernels.jit import kernel
groups holding the labels of active group ``k`` are
``map_groups[map_offsets[k]:map_offsets[k + 1]]``. When the warm-up ends, ``left[0]`` drops to 0
and the shadow is no longer read."""

Model = namedtuple(
    "Model", ["bank", "sgd", "rule", "relevant_only", "active", "shadow", "warmup", "layer"]
)
"""Everything a row is scored and learned with: ``bank`` (the learners) and ``sgd`` (how they
learn), ``rule`` (:class:`~streamlabels.kernels.decision.Rule`), ``relevant_only`` (a group
learns only rows where one of its labels is positive), the ``active`` and ``shadow``
:class:`Hierarchy` (the shadow is the active one again when there is none), the :class:`WarmUp`
and the decision ``layer`` (:class:`~streamlabels.kernels.experts.Layer`, read only when
``rule.use_layer``)."""

Scratch = namedtuple(
    "Scratch",
    ["routing", "old_routing", "local", "from_shadow", "part", "wanted", "meta", "target",
     "model_scores", "cols", "xs", "layer"],
)
"""One row's work arrays: ``routing`` (n_groups,), ``old_routing``, ``wanted`` and ``meta``
(shadow groups, at least n_groups), ``local``, ``from_shadow``, ``part``, ``target`` and
``model_scores`` (n_labels,), ``cols`` and ``xs`` (the bank's column capacity: a learner's scaled
row), ``layer`` (:class:`~streamlabels.kernels.experts.Scratch`)."""

Outputs = namedtuple("Outputs", ["labels", "own", "scores"])
"""Per row and label: the predicted ``labels``; ``own``, the hierarchy's own labels by the routing
rule (the loss detector watches them); ``scores`` (``predict_proba_one``'s), a matrix of no rows
when not wanted."""


@kernel
def new_scratch(model):
    """Scratch for scoring and learning rows with ``model`` (compiled, so that parallel tasks make
    their own)."""
    n_labels = model.active.group_of.shape[0]
    n_groups = model.active.offsets.shape[0] - 1
    n_any = max(n_groups, model.shadow.offsets.shape[0] - 1)
    capacity = model.bank.counts.shape[1]
    return Scratch(
        np.zeros(n_groups), np.zeros(n_any), np.zeros(n_labels), np.zeros(n_labels),
        np.zeros(n_labels), np.zeros(n_any, dtype=np.bool_), np.zeros(n_any, dtype=np.bool_),
        np.zeros(n_labels, dtype=np.bool_), np.zeros(n_labels),
        np.zeros(capacity, dtype=np.int64), np.zeros(capacity), experts.new_scratch(model.layer),
    )


@kernel
def _router_scores(idx, vals, bank, mode, h, cols, xs, out):
    """P(group relevant | x) of hierarchy ``h``; zeros before its router has learned anything."""
    if h.seen[0] == 0:
        out[:] = 0.0
        return
    bank_predict(idx, vals, bank, h.router, mode, cols, xs, out)


@kernel
def _local_scores(idx, vals, bank, mode, h, k, part_scratch, cols, xs, out):
    """Write group ``k``'s within-group label scores into ``out`` at the group's label ids: 1 for
    a single label (certain once routed), 0 from a learner that has learned nothing."""
    a = h.offsets[k]
    b = h.offsets[k + 1]
    if b - a == 1:
        out[h.members[a]] = 1.0
        return
    if h.local_seen[k] == 0:
        for p in range(a, b):
            out[h.members[p]] = 0.0
        return
    part = part_scratch[: b - a]
    bank_predict(idx, vals, bank, h.locals_[k], mode, cols, xs, part)
    for p in range(a, b):
        out[h.members[p]] = part[p - a]


@kernel(inline=True)
def _shadow_labels(idx, vals, bank, mode, theta, active, shadow, warming, scratch):
    """Into ``scratch.from_shadow``: the shadow's label scores for the labels of warming groups.

    Only the shadow's groups holding such labels are scored, each gated by the shadow's router.
    """
    n_old = shadow.offsets.shape[0] - 1
    old_routing = scratch.old_routing[:n_old]
    wanted = scratch.wanted[:n_old]
    cols, xs, from_shadow = scratch.cols, scratch.xs, scratch.from_shadow
    _router_scores(idx, vals, bank, mode, shadow, cols, xs, old_routing)
    from_shadow[:] = 0.0
    wanted[:] = False
    for k in range(active.offsets.shape[0] - 1):
        if warming[k]:
            for p in range(active.offsets[k], active.offsets[k + 1]):
                wanted[shadow.group_of[active.members[p]]] = True
    for g in range(n_old):
        if wanted[g] and old_routing[g] >= theta:
            _local_scores(idx, vals, bank, mode, shadow, g, scratch.part, cols, xs, from_shadow)


@kernel(inline=True)
def _routing(idx, vals, bank, mode, active, shadow, warmup, scratch):
    """Each active group's routing score; during a router warm-up, the max of the shadow router's
    scores over the old groups that hold its labels."""
    routing, cols, xs = scratch.routing, scratch.cols, scratch.xs
    _router_scores(idx, vals, bank, mode, active, cols, xs, routing)
    if warmup.left[0] == 1 and warmup.left[1] > 0:
        old_routing = scratch.old_routing[: shadow.offsets.shape[0] - 1]
        _router_scores(idx, vals, bank, mode, shadow, cols, xs, old_routing)
        for k in range(routing.shape[0]):
            best = -np.inf
            for p in range(warmup.map_offsets[k], warmup.map_offsets[k + 1]):
                best = max(best, old_routing[warmup.map_groups[p]])
            routing[k] = best


@kernel(inline=True)
def score_row(idx, vals, bank, sgd, rule, active, shadow, warmup, layer, scratch, out, i):
    """Score one row (column ids ``idx``, ascending, and ``vals``) with the parts of a
    :class:`Model` into row ``i`` of the :class:`Outputs` ``out``: what ``predict_one`` and
    ``score_one`` answer.

    Routing scores per group, then label scores within the groups that are routed (every group
    when the layer decides, the rule must fall back on every group or scores are wanted), a
    warming group's from the shadow; the hierarchy's own labels by the routing rule; then the
    decision layer's labels and calibrated scores, or the rule's. The parts come apart (not one
    ``Model``): taking a tuple of tuples apart costs a reference count per array, which per row
    adds up.
    """
    mode, theta = sgd.mode, rule.theta
    want_scores = out.scores.shape[0] > 0
    every_group = rule.ensure_nonempty or rule.use_layer or want_scores
    _routing(idx, vals, bank, mode, active, shadow, warmup, scratch)
    routing, local, from_shadow = scratch.routing, scratch.local, scratch.from_shadow
    offsets, members = active.offsets, active.members
    warming, warm_left = warmup.warming, warmup.warm_left
    local[:] = 0.0
    shadow_done = False
    for k in range(routing.shape[0]):
        if not (every_group or routing[k] >= theta):
            continue
        if warming[k] and warm_left[k] > 0:
            if not shadow_done:
                _shadow_labels(idx, vals, bank, mode, theta, active, shadow, warming, scratch)
                shadow_done = True
            for p in range(offsets[k], offsets[k + 1]):
                local[members[p]] = from_shadow[members[p]]
        else:
            _local_scores(idx, vals, bank, mode, active, k, scratch.part, scratch.cols,
                          scratch.xs, local)
    own = out.own[i]
    decide(routing, local, offsets, members, theta, rule.group_nonempty, rule.ensure_nonempty,
           own)
    if rule.use_layer:
        layer_scratch = scratch.layer
        label_scores(routing, local, offsets, members, scratch.model_scores)
        experts.decide_row(scratch.model_scores, idx, vals, layer, layer_scratch, out.labels[i])
        if want_scores:
            experts.probabilities(layer, layer_scratch, out.scores[i])
    else:
        for label in range(own.shape[0]):
            out.labels[i, label] = own[label]
        if want_scores:
            label_scores(routing, local, offsets, members, out.scores[i])


@kernel(inline=True)
def _learn_hierarchy(idx, vals, y, bank, sgd, relevant_only, h, scratch):
    """``Hierarchy.learn``: the router on the meta-labels (left in ``scratch.meta``), then each
    trained group's learner (``scratch.part``, free while learning, holds their gradients)."""
    offsets, members, locals_ = h.offsets, h.members, h.locals_
    n_groups = offsets.shape[0] - 1
    meta = scratch.meta[:n_groups]
    cols, xs, target, grads = scratch.cols, scratch.xs, scratch.target, scratch.part
    meta[:] = False
    for label in range(y.shape[0]):
        if y[label]:
            meta[h.group_of[label]] = True
    bank_learn(idx, vals, meta, bank, h.router, sgd, cols, xs, grads)
    h.seen[0] += 1
    for k in range(n_groups):
        j = locals_[k]
        if j < 0 or (relevant_only and not meta[k]):
            continue
        a = offsets[k]
        b = offsets[k + 1]
        part = target[: b - a]
        for p in range(a, b):
            part[p - a] = y[members[p]]
        bank_learn(idx, vals, part, bank, j, sgd, cols, xs, grads)
        h.local_seen[k] += 1


@kernel(inline=True)
def learn_row(idx, vals, y, bank, sgd, rule, relevant_only, active, shadow, warmup, layer,
              scratch):
    """Learn the truth ``y`` (bool per label) of the row :func:`score_row` scored last, with the
    parts of a :class:`Model`: the active hierarchy, then, while it warms up, the warm-up counters
    and the shadow, then the layer."""
    alive = warmup.left[0] == 1
    _learn_hierarchy(idx, vals, y, bank, sgd, relevant_only, active, scratch)
    if alive:  # counted on the active hierarchy's meta-labels, before the shadow's replace them
        warmup.left[1] -= 1
        warming, warm_left, meta = warmup.warming, warmup.warm_left, scratch.meta
        n_warming = 0
        for k in range(warming.shape[0]):
            if warming[k] and meta[k]:
                warm_left[k] -= 1
                if warm_left[k] <= 0:
                    warming[k] = False
            n_warming += warming[k]
        if warmup.left[1] <= 0 and n_warming == 0:
            warmup.left[0] = 0
        _learn_hierarchy(idx, vals, y, bank, sgd, relevant_only, shadow, scratch)
    if rule.use_layer:
        experts.learn_row(y, idx, vals, layer, scratch.layer)
