"""The committed hierarchy and its transition to the next one.

When the label partition changes, new learners know nothing. Rather than predicting badly for a
while, the previous hierarchy stays as a *shadow* (docs/algorithm.md §2.6): a new
router is backed by the old one for ``router_warmup`` instances, and a group that is neither kept
nor split off an old group is predicted by the shadow until it has seen ``local_warmup`` relevant
instances. Split groups start from a copy of their old learner restricted to their labels.

This module owns that life cycle, and the scores it implies as the clear reference the
one-at-a-time path runs on: the compiled paths score with
:func:`streamlabels.kernels.hierarchy.score_row`, held to this code bit for bit by the parity
tests (tests/ihomer/test_fused.py, tests/scoring/test_scoring.py). The decision rule itself lives in
:mod:`streamlabels.kernels.decision`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from streamlabels.ihomer.hierarchy import Hierarchy
from streamlabels.kernels.decision import Rule, decide, label_scores
from streamlabels.vocabulary import Row

__all__ = ["Transition"]


class Transition:
    """The active :class:`Hierarchy` and, during a warm-up, the previous one as its shadow.

    Parameters
    ----------
    active
        The hierarchy to start from.
    make_hierarchy
        Builds a hierarchy from groups and warm learners (by group index).
    rule
        The decision parameters.
    warm
        Restructure with warm starts and a shadow (IHOMER's ``restructure="warm"``).
    router_warmup, local_warmup
        IHOMER's parameters of the same names.
    """

    def __init__(self, active: Hierarchy, make_hierarchy: Callable, rule: Rule, warm: bool,
                 router_warmup: int, local_warmup: int):
        self.active = active
        self.shadow: Hierarchy | None = None
        self.router_left = 0  # instances during which the shadow router routes
        self.groups_left: dict[int, int] = {}  # warming group -> relevant instances to go
        self.shadow_map: list[np.ndarray] = []  # per active group, the shadow groups it maps to
        self.make_hierarchy = make_hierarchy
        self.rule = rule
        self.warm = warm
        self.router_warmup = router_warmup
        self.local_warmup = local_warmup

    # -- scores -----------------------------------------------------------------------------

    def routing(self, row: Row) -> np.ndarray:
        """Each group's routing score; during a router warm-up, the max over its old groups."""
        scores = self.active.router_scores(row)
        if self.shadow is not None and self.router_left > 0:
            old = self.shadow.router_scores(row)
            scores = np.array([old[olds].max() for olds in self.shadow_map])
        return scores

    def shadow_labels(self, row: Row) -> np.ndarray:
        """The shadow's label scores (its router gate times its local score).

        Only the old groups holding labels of groups still warming up are asked.
        """
        shadow = self.shadow
        scores = shadow.router_scores(row)
        out = np.zeros(len(self.active.group_of))
        warming = [self.active.members[k] for k in self.groups_left]
        sources = np.unique(shadow.group_of[np.concatenate(warming)])
        for k in sources[scores[sources] >= self.rule.theta]:
            out[shadow.members[k]] = shadow.local_proba(k, row)
        return out

    def scores(self, row: Row, every_group: bool) -> tuple[np.ndarray, np.ndarray]:
        """Router scores per group and within-group label scores per label.

        Label scores are computed for routed groups only unless ``every_group`` is set (or the
        rule needs every group to fall back on).
        """
        active = self.active
        routing = self.routing(row)
        local = np.zeros(len(active.group_of))
        if every_group or self.rule.ensure_nonempty:
            groups = range(len(active.groups))
        else:
            groups = (routing >= self.rule.theta).nonzero()[0]
        shadow = None
        for k in groups:
            members = active.members[k]
            if self.groups_left.get(k, 0) > 0:
                if shadow is None:
                    shadow = self.shadow_labels(row)
                local[members] = shadow[members]
            else:
                local[members] = active.local_proba(k, row)
        return routing, local

    def decide(self, routing: np.ndarray, local: np.ndarray) -> np.ndarray:
        """The predicted labels, by :func:`streamlabels.kernels.decision.decide`."""
        predicted = np.zeros(len(local), dtype=bool)
        rule = self.rule
        decide(routing, local, self.active.offsets, self.active.flat_members, rule.theta,
               rule.group_nonempty, rule.ensure_nonempty, predicted)
        return predicted

    def label_scores(self, routing: np.ndarray, local: np.ndarray) -> np.ndarray:
        """Each label's score: its group's routing score times its score within the group."""
        out = np.zeros(len(local))
        label_scores(routing, local, self.active.offsets, self.active.flat_members, out)
        return out

    def predict(self, row: Row) -> np.ndarray:
        return self.decide(*self.scores(row, every_group=False))

    # -- learning ---------------------------------------------------------------------------

    def learn(self, row: Row, truth: np.ndarray, positives: np.ndarray) -> None:
        """Train the active hierarchy and, while it warms up, the shadow."""
        self.active.learn(row, truth, positives)
        if self.shadow is None:
            return
        self.shadow.learn(row, truth, positives)
        self.router_left -= 1
        meta = self.active.meta_labels(positives)
        for k in list(self.groups_left):
            if meta[k]:
                self.groups_left[k] -= 1
                if self.groups_left[k] <= 0:
                    del self.groups_left[k]
        if self.router_left <= 0 and not self.groups_left:
            self.end_warmup()

    def end_warmup(self) -> None:
        self.shadow = None
        self.shadow_map = []

    def restructure(self, groups: list[tuple[int, ...]]) -> None:
        """Commit a new partition: keep unchanged groups' learners, warm-start split groups from
        their old learner, and (when warm) keep the old hierarchy as the shadow."""
        old = self.active
        old_index = {g: k for k, g in enumerate(old.groups)}
        place = np.zeros(len(old.group_of), dtype=np.int64)  # each label's place in its old group
        for members in old.members:
            place[members] = np.arange(len(members))
        warm, fresh = {}, []
        for k, group in enumerate(groups):
            if group in old_index:
                if old.locals[old_index[group]] is not None:
                    warm[k] = old.locals[old_index[group]]
                continue
            parent = old.group_of[group[0]]
            inside_parent = all(old.group_of[label] == parent for label in group)
            if self.warm and inside_parent and len(group) > 1:
                warm[k] = old.locals[parent].subset(place[list(group)].tolist())
            elif len(group) > 1:
                fresh.append(k)
        self.active = self.make_hierarchy(groups, warm)
        if not self.warm:
            self.end_warmup()
            return
        for group in groups:
            if group in old_index:
                # The new hierarchy owns this learner now; the shadow must not train it too.
                old.locals[old_index[group]] = None
        self.shadow = old
        self.router_left = self.router_warmup
        self.groups_left = {k: self.local_warmup for k in fresh}
        self.shadow_map = [np.unique(old.group_of[list(group)]) for group in groups]

    # -- saved state ------------------------------------------------------------------------

    def get_state(self) -> dict:
        """Hierarchies, warm-up counters and the table of their learners, each learner once (the
        hierarchies refer to it by index)."""
        learners: list = []
        state = {
            "active": self.active.get_state(learners),
            "shadow": None if self.shadow is None else self.shadow.get_state(learners),
            "router_left": self.router_left,
            "warming": list(self.groups_left),
            "warming_left": list(self.groups_left.values()),
            "shadow_map": [m.copy() for m in self.shadow_map],
        }
        return {"learners": [learner.get_state() for learner in learners], **state}

    def set_state(self, state: dict, learner_class) -> None:
        """Take the hierarchies and counters of :meth:`get_state`'s output; ``learner_class``
        restores the learners (``from_state``)."""
        learners = [learner_class.from_state(s) for s in state["learners"]]
        self.active = Hierarchy.from_state(state["active"], learners)
        if state["shadow"] is not None:
            self.shadow = Hierarchy.from_state(state["shadow"], learners)
        self.router_left = int(state["router_left"])
        self.groups_left = dict(zip(state["warming"], state["warming_left"], strict=True))
        self.shadow_map = [np.asarray(m, dtype=np.int64) for m in state["shadow_map"]]
