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
from streamlabels.kernels.linear import bank_learner, predict_row
from streamlabels.kernels.linear import learn_row as learn_linear

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
def _router_scores(idx, vals, model, h, scratch, out):
    """P(group relevant | x) of hierarchy ``h``; zeros before its router has learned anything."""
    if h.seen[0] == 0:
        out[:] = 0.0
        return
    state = bank_learner(model.bank, h.router)
    predict_row(idx, vals, state, model.sgd.mode, scratch.cols, scratch.xs, out)


@kernel
def _local_scores(idx, vals, model, h, k, scratch, out):
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
    part = scratch.part[: b - a]
    state = bank_learner(model.bank, h.locals_[k])
    predict_row(idx, vals, state, model.sgd.mode, scratch.cols, scratch.xs, part)
    for p in range(a, b):
        out[h.members[p]] = part[p - a]


@kernel
def _shadow_labels(idx, vals, model, scratch):
    """Into ``scratch.from_shadow``: the shadow's label scores for the labels of warming groups.

    Only the shadow's groups holding such labels are scored, each gated by the shadow's router.
    """
    active, shadow, warming = model.active, model.shadow, model.warmup.warming
    n_old = shadow.offsets.shape[0] - 1
    old_routing = scratch.old_routing[:n_old]
    wanted = scratch.wanted[:n_old]
    _router_scores(idx, vals, model, shadow, scratch, old_routing)
    scratch.from_shadow[:] = 0.0
    wanted[:] = False
    for k in range(active.offsets.shape[0] - 1):
        if warming[k]:
            for p in range(active.offsets[k], active.offsets[k + 1]):
                wanted[shadow.group_of[active.members[p]]] = True
    for g in range(n_old):
        if wanted[g] and old_routing[g] >= model.rule.theta:
            _local_scores(idx, vals, model, shadow, g, scratch, scratch.from_shadow)


@kernel
def _routing(idx, vals, model, scratch):
    """Each active group's routing score; during a router warm-up, the max of the shadow router's
    scores over the old groups that hold its labels."""
    active, shadow, warmup = model.active, model.shadow, model.warmup
    routing = scratch.routing
    _router_scores(idx, vals, model, active, scratch, routing)
    if warmup.left[0] == 1 and warmup.left[1] > 0:
        old_routing = scratch.old_routing[: shadow.offsets.shape[0] - 1]
        _router_scores(idx, vals, model, shadow, scratch, old_routing)
        for k in range(routing.shape[0]):
            best = -np.inf
            for p in range(warmup.map_offsets[k], warmup.map_offsets[k + 1]):
                best = max(best, old_routing[warmup.map_groups[p]])
            routing[k] = best


@kernel
def score_row(idx, vals, model, scratch, every_group, out, i):
    """Score one row (column ids ``idx``, ascending, and ``vals``) into row ``i`` of the
    :class:`Outputs` ``out``: what ``predict_one`` and ``score_one`` answer.

    Routing scores per group, then label scores within the groups that are routed (every group
    with ``every_group``), a warming group's from the shadow; the hierarchy's own labels by the
    routing rule; then the decision layer's labels and scores, or the rule's.
    """
    active, rule, warmup = model.active, model.rule, model.warmup
    _routing(idx, vals, model, scratch)
    routing, local = scratch.routing, scratch.local
    local[:] = 0.0
    shadow_done = False
    for k in range(routing.shape[0]):
        if not (every_group or routing[k] >= rule.theta):
            continue
        if warmup.warming[k] and warmup.warm_left[k] > 0:
            if not shadow_done:
                _shadow_labels(idx, vals, model, scratch)
                shadow_done = True
            for p in range(active.offsets[k], active.offsets[k + 1]):
                local[active.members[p]] = scratch.from_shadow[active.members[p]]
        else:
            _local_scores(idx, vals, model, active, k, scratch, local)
    own = out.own[i]
    decide(routing, local, active.offsets, active.members, rule.theta, rule.group_nonempty,
           rule.ensure_nonempty, own)
    want_scores = out.scores.shape[0] > 0
    if rule.use_layer:
        label_scores(routing, local, active.offsets, active.members, scratch.model_scores)
        experts.decide_row(scratch.model_scores, idx, vals, model.layer, scratch.layer,
                           out.labels[i])
        if want_scores:
            for label in range(own.shape[0]):
                out.scores[i, label] = scratch.layer.scores[label]
    else:
        for label in range(own.shape[0]):
            out.labels[i, label] = own[label]
        if want_scores:
            label_scores(routing, local, active.offsets, active.members, out.scores[i])


@kernel
def _learn_hierarchy(idx, vals, y, model, h, scratch):
    """``Hierarchy.learn``: the router on the meta-labels (left in ``scratch.meta``), then each
    trained group's learner."""
    n_groups = h.offsets.shape[0] - 1
    meta = scratch.meta[:n_groups]
    meta[:] = False
    for label in range(y.shape[0]):
        if y[label]:
            meta[h.group_of[label]] = True
    bank, sgd = model.bank, model.sgd
    learn_linear(idx, vals, meta, bank_learner(bank, h.router), sgd, scratch.cols, scratch.xs)
    h.seen[0] += 1
    for k in range(n_groups):
        j = h.locals_[k]
        if j < 0 or (model.relevant_only and not meta[k]):
            continue
        a = h.offsets[k]
        b = h.offsets[k + 1]
        part = scratch.target[: b - a]
        for p in range(a, b):
            part[p - a] = y[h.members[p]]
        learn_linear(idx, vals, part, bank_learner(bank, j), sgd, scratch.cols, scratch.xs)
        h.local_seen[k] += 1


@kernel
def learn_row(idx, vals, y, model, scratch):
    """Learn the truth ``y`` (bool per label) of the row :func:`score_row` scored last: the active
    hierarchy, then, while it warms up, the shadow and the warm-up counters, then the layer."""
    warmup = model.warmup
    alive = warmup.left[0] == 1
    _learn_hierarchy(idx, vals, y, model, model.active, scratch)
    if alive:  # counted on the active hierarchy's meta-labels, before the shadow's replace them
        warmup.left[1] -= 1
        warming = 0
        for k in range(warmup.warming.shape[0]):
            if warmup.warming[k] and scratch.meta[k]:
                warmup.warm_left[k] -= 1
                if warmup.warm_left[k] <= 0:
                    warmup.warming[k] = False
            warming += warmup.warming[k]
        if warmup.left[1] <= 0 and warming == 0:
            warmup.left[0] = 0
        _learn_hierarchy(idx, vals, y, model, model.shadow, scratch)
    if model.rule.use_layer:
        experts.learn_row(y, idx, vals, model.layer, scratch.layer)
