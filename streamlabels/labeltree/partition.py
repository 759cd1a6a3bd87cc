"""From label-tree leaves to learner groups: coarsening, the commit rule and group identity.

ODAC leaves are often too small to be worth a learner each (singletons, pairs), and they can flip
between split and merged from one test point to the next. :func:`coarsen` folds small leaves into
nearby groups following the hierarchy, and :class:`Partitioner` adopts a new partition only once
the tree has held still for a test point, so learners are not rebuilt on every flip
(docs/algorithm.md §2.1, "Size handling").
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable

import numpy as np

from streamlabels.labeltree.tree import LabelTree

__all__ = ["Partitioner", "coarsen", "group_id"]

Group = tuple[int, ...]


def _check_sizes(m_min: int, m_max: int | None) -> None:
    if m_min < 1:
        raise ValueError(f"m_min must be at least 1, got {m_min}")
    if m_max is not None and m_max < 2 * m_min - 1:
        raise ValueError(
            f"m_max={m_max} is below 2*m_min-1={2 * m_min - 1}: two pending sets just under m_min "
            "could not be combined; raise m_max or lower m_min"
        )


def coarsen(tree: LabelTree, m_min: int, m_max: int | None = None) -> list[Group]:
    """Learner groups from the tree's leaves, bottom-up, respecting the hierarchy.

    A leaf with at least ``m_min`` labels is a group; smaller leaves are pending. At an internal
    node the pending labels of both subtrees form a group if they reach ``m_min`` together;
    otherwise they join the smallest group below that node that stays within ``m_max`` (first in
    pre-order on ties), or become a group of their own if none fits. Pending labels left at the
    root form a group. Groups come out sorted, in pre-order.

    Examples
    --------
    The logged prototype run on Yeast (labels renumbered from 0):

    >>> tree = LabelTree.from_nested(
    ...     (((0, 2, 7, 8, 9, 11), (1, 3, 4)), ((5, 12), (6, 10, 13))))
    >>> coarsen(tree, m_min=4)
    [(0, 1, 2, 3, 4, 7, 8, 9, 11), (5, 6, 10, 12, 13)]
    """
    _check_sizes(m_min, m_max)
    # Post-order without recursion: a degenerate tree may be deeper than Python's stack.
    results: dict[int, tuple[list[list[int]], list[int]]] = {}
    stack = [(tree.root, False)]
    while stack:
        node, expanded = stack.pop()
        if node.active or not node.children:
            labels = list(node.labels)
            results[id(node)] = ([labels], []) if len(labels) >= m_min else ([], labels)
            continue
        if not expanded:
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.children))
            continue
        done: list[list[int]] = []
        pending: list[int] = []
        for child in node.children:
            child_done, child_pending = results.pop(id(child))
            done += child_done
            pending += child_pending
        if len(pending) >= m_min:
            done.append(pending)
            pending = []
        elif pending and done:
            fits = [g for g in done if m_max is None or len(g) + len(pending) <= m_max]
            if fits:
                min(fits, key=len).extend(pending)  # min() keeps the first of equal sizes
            else:
                done.append(pending)
            pending = []
        results[id(node)] = (done, pending)
    done, pending = results[id(tree.root)]
    if pending:
        done.append(pending)
    return [tuple(sorted(g)) for g in done]


def group_id(labels: Iterable[int]) -> str:
    """A short, process-independent identity of a label set (order and repeats do not matter).

    Unchanged groups keep their learners across restructurings by matching on this id.

    >>> group_id([3, 1, 2]) == group_id((1, 2, 3))
    True
    >>> group_id([1, 2]) == group_id([1, 2, 3])
    False
    >>> len(group_id([1, 2, 3]))
    16
    """
    text = ",".join(str(i) for i in sorted(set(labels)))
    return hashlib.blake2b(text.encode("ascii"), digest_size=8).hexdigest()


class Partitioner:
    """The committed learner partition, and the rule deciding when to adopt the tree's new one.

    The partition is recomputed from the tree only at a test point without structural change,
    and only after some change since the last commit: ``commit_after_stable`` such quiet
    test points must follow the last change (0 commits at once, as the prototype does). A
    recomputed partition equal to the committed one is not reported, so a tree that split and
    merged back costs the learners nothing.

    Parameters
    ----------
    m_min
        Smallest group size, or ``"auto"``: the most frequent label-set size seen so far (at
        least 1), re-evaluated at test points.
    m_max
        Largest size a group may reach by absorbing small leaves (None: no limit); at least
        ``2 * m_min - 1``. Under ``"auto"`` m_min is capped at ``(m_max + 1) // 2`` instead.
    commit_after_stable
        Quiet test points required after a change before committing.

    Examples
    --------
    >>> tree = LabelTree(4, n_min=100)
    >>> part = Partitioner(m_min=1)
    >>> part.start(tree)
    [(0, 1, 2, 3)]
    >>> for t in range(200):
    ...     events = tree.update([0, 1] if t % 2 else [2, 3])
    >>> part.at_test_point(tree, changed=bool(events)) is None  # the split just happened
    True
    >>> for t in range(100):
    ...     events = tree.update([0, 1] if t % 2 else [2, 3])
    >>> part.at_test_point(tree, changed=bool(events))  # one quiet test point later
    [(0, 1), (2, 3)]
    """

    def __init__(
        self, m_min: int | str = "auto", m_max: int | None = None, commit_after_stable: int = 1
    ) -> None:
        if isinstance(m_min, str):
            if m_min != "auto":
                raise ValueError(f"m_min must be an int or 'auto', got {m_min!r}")
            if m_max is not None and m_max < 1:
                raise ValueError(f"m_max must be at least 1, got {m_max}")
        else:
            _check_sizes(m_min, m_max)
        if commit_after_stable < 0:
            raise ValueError(f"commit_after_stable must be >= 0, got {commit_after_stable}")
        self.m_min = m_min
        self.m_max = m_max
        self.commit_after_stable = commit_after_stable
        self.current: list[Group] | None = None
        self._sizes: Counter[int] = Counter()
        self._pending = False
        self._quiet = 0
        self._m_min_seen: int | None = None

    def observe_labelset_size(self, k: int) -> None:
        """Record one instance's number of positive labels (for ``m_min="auto"``)."""
        self._sizes[k] += 1

    def observe_labelset_sizes(self, sizes: np.ndarray) -> None:
        """:meth:`observe_labelset_size` for each of ``sizes`` in turn (new sizes enter the
        counts in the order they first appear, as one at a time)."""
        distinct, first, n = np.unique(sizes, return_index=True, return_counts=True)
        order = np.argsort(first)
        for k, add in zip(distinct[order].tolist(), n[order].tolist()):
            self._sizes[k] += add

    def effective_m_min(self) -> int:
        """The m_min in force: the fixed value, or the modal label-set size (ties: the smaller)."""
        if isinstance(self.m_min, int):
            return self.m_min
        mode = min(self._sizes, key=lambda k: (-self._sizes[k], k)) if self._sizes else 1
        m_min = max(1, mode)
        if self.m_max is not None:
            m_min = min(m_min, (self.m_max + 1) // 2)
        return m_min

    def start(self, tree: LabelTree) -> list[Group]:
        """Commit the coarsening of ``tree`` as it is now (the initial partition)."""
        self._m_min_seen = self.effective_m_min()
        self.current = coarsen(tree, self._m_min_seen, self.m_max)
        self._pending = False
        self._quiet = 0
        return self.current

    def at_test_point(self, tree: LabelTree, changed: bool) -> list[Group] | None:
        """Apply the commit rule after a test point; the new partition if one is adopted.

        ``changed`` says whether the tree changed structurally (split, merge or reset) since the
        previous test point. A change of the automatic m_min counts as a change too.
        """
        if self.current is None:
            self.start(tree)
        m_min = self.effective_m_min()
        if self._m_min_seen is not None and m_min != self._m_min_seen:
            changed = True
        self._m_min_seen = m_min
        if changed:
            self._pending = True
            self._quiet = 0
        else:
            self._quiet += 1
        if not self._pending or self._quiet < self.commit_after_stable:
            return None
        self._pending = False
        groups = coarsen(tree, m_min, self.m_max)
        if groups == self.current:
            return None
        self.current = groups
        return groups

    def get_state(self) -> dict:
        """Parameters, the committed partition and the commit rule's counters.

        >>> part = Partitioner()
        >>> part.observe_labelset_size(2)
        >>> part.start(LabelTree(3))
        [(0, 1, 2)]
        >>> twin = Partitioner.from_state(part.get_state())
        >>> twin.current, twin.effective_m_min()
        ([(0, 1, 2)], 2)
        """
        return {
            "params": {
                "m_min": self.m_min,
                "m_max": self.m_max,
                "commit_after_stable": self.commit_after_stable,
            },
            "current": None if self.current is None else [tuple(g) for g in self.current],
            "size_keys": [int(k) for k in self._sizes],
            "size_counts": [int(n) for n in self._sizes.values()],
            "pending": self._pending,
            "quiet": self._quiet,
            "m_min_seen": self._m_min_seen,
        }

    @classmethod
    def from_state(cls, state: dict) -> Partitioner:
        """A partitioner restored from :meth:`get_state`'s output."""
        part = cls(**state["params"])
        current = state["current"]
        part.current = None if current is None else [tuple(g) for g in current]
        part._sizes = Counter(dict(zip(state["size_keys"], state["size_counts"])))
        part._pending = bool(state["pending"])
        part._quiet = int(state["quiet"])
        part._m_min_seen = state["m_min_seen"]
        return part
