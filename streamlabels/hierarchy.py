"""One committed label partition with its learners: the router and a learner per label group.

The router predicts each group's meta-label ("some label of the group is positive"); a group's
learner predicts the labels inside it and is trained only on instances relevant to the group
(HOMER semantics, ALGORITHM.md §2.3). iHOMER keeps one :class:`Hierarchy` active and, for a short
warm-up after a restructuring, the previous one as a shadow.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence

import numpy as np

from streamlabels.features import Row
from streamlabels.learners.base import MultiOutputLearner

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
        self._members = [np.asarray(g, dtype=np.int64) for g in self.groups]
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
        self.local_seen = [1 if k in warm else 0 for k in range(len(self.groups))]
        self.router_seen = 0
        self._label_sets = [collections.Counter() for _ in self.groups]

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

        Before group k's learner has trained, its most frequent relevant label set stands in.
        """
        group = self.groups[k]
        if len(group) == 1:
            return np.ones(1)
        if self.local_seen[k] == 0:
            out = np.zeros(len(group))
            if self._label_sets[k]:
                best = max(self._label_sets[k].items(), key=lambda item: item[1])[0]
                out[list(best)] = 1.0
            return out
        return self.locals[k].predict_proba_one(row)

    def learn(self, row: Row, y: np.ndarray, positives: np.ndarray) -> np.ndarray:
        """Learn one instance (``y`` over all labels); returns the meta-labels."""
        meta = self.meta_labels(positives)
        self.router.learn_one(row, meta)
        self.router_seen += 1
        trained = np.flatnonzero(meta) if self.relevant_only else range(len(self.groups))
        for k in trained:
            learner = self.locals[k]
            if learner is None:
                continue
            target = y[self._members[k]]
            learner.learn_one(row, target)
            self.local_seen[k] += 1
            if meta[k]:
                self._label_sets[k][tuple(np.flatnonzero(target))] += 1
        return meta
