"""The label structure: which labels belong together, and when that changes.

An online Jaccard label tree (:mod:`streamlabels.labeltree`) clusters the labels; a partitioner
turns its leaves into learner groups and commits a new partition only after a quiet test point;
an ADWIN on the model's own Hamming loss resets the tree when accuracy drops (the tree's own tests
follow slow change only). None of this feeds back into the learners between two test points,
which is what lets the compiled path train a whole run of rows first and update this afterwards.
"""

from __future__ import annotations

import collections
import copy

import numpy as np

from streamlabels.drift import ADWIN
from streamlabels.labeltree import LabelTree, Partitioner

__all__ = ["LabelStructure"]


class LabelStructure:
    """The label tree, its partitioner, the loss detector and the log of structure events.

    Parameters are IHOMER's of the same names; ``labels`` names the label ids in events.
    """

    def __init__(self, labels: list, n_min, delta, tau, evidence, m_min, m_max,
                 commit_after_stable, global_drift, drift_delta, max_events):
        self.labels = labels
        self.n_min = n_min
        self.watch_loss = global_drift == "adwin_rebuild"
        self.tree = LabelTree(len(labels), n_min=n_min, delta=delta, tau=tau, evidence=evidence)
        self.partitioner = Partitioner(
            m_min=m_min, m_max=m_max, commit_after_stable=commit_after_stable
        )
        self.loss_detector = ADWIN(delta=drift_delta)
        self.last_reset = 0
        self.changed = False
        self.events: collections.deque[dict] = collections.deque(maxlen=max_events)

    def _names(self, ids) -> list:
        return [self.labels[i] for i in ids]

    def first_partition(self) -> list[tuple[int, ...]]:
        """The partition learners start from."""
        return self.partitioner.start(self.tree)

    def track(self, t: int, positives: np.ndarray, loss: float | None) -> None:
        """Instance ``t``'s bookkeeping: its loss (when watched) and its positive labels."""
        if loss is not None and self._resets(t - 1, np.array([loss])):
            self._reset_tree(t)
        for event in self.tree.update(positives):
            self._log_change(t, event)
        self.partitioner.observe_labelset_size(len(positives))

    def track_many(self, t: int, Y: np.ndarray, losses: np.ndarray | None) -> None:
        """:meth:`track` for instances ``t + 1``, ``t + 2``, ... with the positive labels of the
        rows of ``Y`` (bool) and ``losses`` (when watched): the loss detector in one compiled
        call, the tree counted per stretch between resets (:meth:`LabelTree.update_many`)."""
        start = 0
        for row in self._resets(t, losses) if losses is not None else ():
            self._update_tree(t + start, Y[start:row])
            self._reset_tree(t + row + 1)
            start = row
        self._update_tree(t + start, Y[start:])
        self.partitioner.observe_labelset_sizes(np.count_nonzero(Y, axis=1))

    def _update_tree(self, t: int, Y: np.ndarray) -> None:
        """The tree's counts of rows ``t + 1``, ...; its events logged with their instance."""
        before = self.tree.t
        for event in self.tree.update_many(Y):
            self._log_change(t + event.t - before, event)

    def _log_change(self, t: int, event) -> None:
        self.changed = True
        self.events.append({"t": t, "kind": event.kind, "labels": self._names(event.labels)})

    def _resets(self, t: int, losses: np.ndarray) -> list[int]:
        """Feed the loss detector the losses of instances ``t + 1``, ``t + 2``, ...; returns the
        offsets of those where the tree is reset: a detected change with the loss risen, at least
        ``2 n_min`` instances after the last reset."""
        resets = []
        for row in np.flatnonzero(self.loss_detector.update_many(losses)).tolist():
            if t + row + 1 - self.last_reset >= 2 * self.n_min:
                self.last_reset = t + row + 1
                resets.append(row)
        return resets

    def _reset_tree(self, t: int) -> None:
        self.tree.reset()
        self.changed = True
        self.events.append({"t": t, "kind": "drift", "labels": []})

    def test_point(self, t: int) -> list[tuple[int, ...]] | None:
        """At a test point instance, the partition to commit, if any; else None."""
        if t % self.n_min:
            return None
        partition = self.partitioner.at_test_point(self.tree, self.changed)
        self.changed = False
        return partition

    def record_commit(self, t: int, groups: list[tuple[int, ...]]) -> None:
        self.events.append({"t": t, "kind": "commit", "groups": [self._names(g) for g in groups]})

    def get_state(self) -> dict:
        """Plain values and arrays (IHOMER's saved state nests them under ``"structure"``)."""
        return {
            "tree": self.tree.get_state(),
            "partitioner": self.partitioner.get_state(),
            "loss_detector": self.loss_detector.get_state(),
            "last_reset": self.last_reset,
            "changed": self.changed,
            "events": copy.deepcopy(list(self.events)),
        }

    def set_state(self, state: dict) -> None:
        """Take the learned quantities of :meth:`get_state`'s output."""
        self.tree = LabelTree.from_state(state["tree"])
        self.partitioner = Partitioner.from_state(state["partitioner"])
        self.loss_detector = ADWIN.from_state(state["loss_detector"])
        self.last_reset = int(state["last_reset"])
        self.changed = bool(state["changed"])
        self.events.extend(copy.deepcopy(list(state["events"])))
