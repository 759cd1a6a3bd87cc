"""One committed label partition with its learners: the router and a learner per label group.

The router predicts each group's meta-label ("some label of the group is positive"); a group's
learner predicts the labels inside it and is trained only on instances relevant to the group
(HOMER semantics, docs/algorithm.md). iHOMER keeps one :class:`Hierarchy` active and, for a short
warm-up after a restructuring, the previous one as a shadow (:mod:`.transition`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from streamlabels.learners.base import MultiOutputLearner
from streamlabels.vocabulary import Row

__all__ = ["Hierarchy"]

LearnerFactory = Callable[[int], MultiOutputLearner]


class Hierarchy:
    """A router over ``groups`` and one learner per group of two or more labels.

    Parameters
    ----------
    groups
        A partition of ``range(n_labels)`` into sorted tuples of label ids.
    n_labels
        Size of the label vocabulary.
    make_learner
        Builds a fresh learner for a given number of outputs.
    warm
        Learners to adopt for some groups (by index), e.g. warm copies from a split.
    relevant_only
        Train a group's learner only on instances where the group's meta-label is positive.
    """

    def __init__(
        self,
        groups: Sequence[tuple[int, ...]],
        n_labels: int,
        make_learner: LearnerFactory,
        warm: dict[int, MultiOutputLearner] | None = None,
        relevant_only: bool = True,
    ):
        warm = warm or {}
        self.groups = [tuple(g) for g in groups]
        self.members = [np.asarray(g, dtype=np.int64) for g in self.groups]  # groups as arrays
        # The same as CSR arrays: group k's labels are flat_members[offsets[k]:offsets[k + 1]].
        self.offsets = np.zeros(len(self.groups) + 1, dtype=np.int64)
        np.cumsum([len(g) for g in self.groups], out=self.offsets[1:])
        self.flat_members = np.array([i for g in self.groups for i in g], dtype=np.int64)
        self.relevant_only = relevant_only
        self.group_of = np.full(n_labels, -1, dtype=np.int64)
        for k, group in enumerate(self.groups):
            self.group_of[list(group)] = k
        if np.any(self.group_of < 0):
            raise ValueError("groups must cover every label")
        self.router = make_learner(len(self.groups))
        self.locals: list[MultiOutputLearner | None] = [
            (warm[k] if k in warm else make_learner(len(g))) if len(g) > 1 else None
            for k, g in enumerate(self.groups)
        ]
        self.local_seen = np.array([k in warm for k in range(len(self.groups))], dtype=np.int64)
        self.router_seen = 0

    def meta_labels(self, positives: np.ndarray) -> np.ndarray:
        """Which groups hold at least one of the positive label ids."""
        meta = np.zeros(len(self.groups), dtype=bool)
        meta[self.group_of[positives]] = True
        return meta

    def router_scores(self, row: Row) -> np.ndarray:
        """P(group relevant | x); zero before the router has learned anything."""
        if self.router_seen == 0:
            return np.zeros(len(self.groups))
        return self.router.predict_proba_one(row)

    def local_proba(self, k: int, row: Row) -> np.ndarray:
        """P(label | x, group k relevant) for the labels of group k, in group order.

        A single label is certain once its group is routed; an untrained learner says no label.
        """
        group = self.groups[k]
        if len(group) == 1:
            return np.ones(1)
        if self.local_seen[k] == 0:
            return np.zeros(len(group))
        return self.locals[k].predict_proba_one(row)

    def learn(self, row: Row, y: np.ndarray, positives: np.ndarray) -> np.ndarray:
        """Learn one instance (``y`` over all labels); returns the meta-labels."""
        meta = self.meta_labels(positives)
        self.router.learn_one(row, meta)
        self.router_seen += 1
        trained = meta.nonzero()[0] if self.relevant_only else range(len(self.groups))
        for k in trained:
            learner = self.locals[k]
            if learner is None:
                continue
            learner.learn_one(row, y[self.members[k]])
            self.local_seen[k] += 1
        return meta

    def get_state(self, learners: list) -> dict:
        """Groups and counters; learners go to the shared table ``learners``.

        The active hierarchy and its shadow put their learners in one table (each learner once,
        by identity) and refer to them by index. A shadow's group of two or more labels has no
        learner when it handed it over to the active hierarchy.
        """

        def ref(learner) -> int:
            for i, known in enumerate(learners):
                if known is learner:
                    return i
            learners.append(learner)
            return len(learners) - 1

        return {
            "n_labels": len(self.group_of),
            "group_sizes": np.array([len(g) for g in self.groups], dtype=np.int64),
            "group_labels": np.array([i for g in self.groups for i in g], dtype=np.int64),
            "relevant_only": self.relevant_only,
            "router": ref(self.router),
            "locals": [None if learner is None else ref(learner) for learner in self.locals],
            "local_seen": self.local_seen.copy(),
            "router_seen": self.router_seen,
        }

    @classmethod
    def from_state(cls, state: dict, learners: Sequence[MultiOutputLearner]) -> Hierarchy:
        """A hierarchy restored from :meth:`get_state`'s output and the restored learner table."""
        sizes = np.asarray(state["group_sizes"]).tolist()
        ids = np.asarray(state["group_labels"]).tolist()
        ends = np.cumsum(sizes, dtype=np.int64).tolist()
        groups = [tuple(ids[end - size : end]) for size, end in zip(sizes, ends)]
        refs = [state["router"], *(i for i in state["locals"] if i is not None)]
        if (
            len(state["locals"]) != len(groups)
            or any(i is not None and len(g) == 1 for i, g in zip(state["locals"], groups))
            or not all(isinstance(i, int) and 0 <= i < len(learners) for i in refs)
        ):
            raise ValueError("Hierarchy state: learner references do not match the learner table")
        table = list(learners)
        hierarchy = cls(
            groups,
            int(state["n_labels"]),
            lambda n_outputs: table[state["router"]],
            warm={k: table[i] for k, i in enumerate(state["locals"]) if i is not None},
            relevant_only=bool(state["relevant_only"]),
        )
        hierarchy.locals = [None if i is None else table[i] for i in state["locals"]]
        local_seen = np.array(state["local_seen"], dtype=np.int64)
        if local_seen.shape != (len(groups),):
            raise ValueError("Hierarchy state: local_seen does not match the groups")
        hierarchy.local_seen = local_seen
        hierarchy.router_seen = int(state["router_seen"])
        return hierarchy
