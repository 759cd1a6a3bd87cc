"""ODAC-J: an online divisive-agglomerative tree over the labels, with Jaccard distances.

The active leaves of the tree always partition the label space. Every ``n_min`` instances a
test point pass tests each active leaf (docs/algorithm.md §2.1):

* merge: a leaf whose diameter d1 now exceeds its parent's frozen diameter by more than the
  Hoeffding bound makes the parent a leaf again (the co-occurrence structure drifted back);
* split: a leaf whose diameter is well separated from the rest of its distances splits in two
  around its two most distant labels, every other label joining the nearer pivot.

Counts are kept per active leaf only, sparsely (:mod:`~streamlabels.labeltree.counts`), and an
instance touches only the leaves holding its positive labels.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from streamlabels.labeltree.counts import NodeCounts, hoeffding_bound, jaccard_distance

__all__ = ["LabelNode", "LabelTree", "TreeEvent"]

_EVIDENCE = ("relevant", "instances")


@dataclass(frozen=True)
class TreeEvent:
    """One structural change of the tree.

    Attributes
    ----------
    t
        Instance count at which it happened.
    kind
        ``"split"``, ``"merge"`` or ``"reset"``.
    labels
        Label set of the node that split, of the parent that became a leaf again, or all labels
        for a reset.
    children
        Label sets of the two new leaves for a split, of the two discarded children for a merge;
        empty for a reset.
    """

    t: int
    kind: str
    labels: tuple[int, ...]
    children: tuple[tuple[int, ...], ...] = ()


class LabelNode:
    """A node of the label tree.

    Attributes
    ----------
    labels
        Sorted label ids of the cluster.
    parent, children
        Tree links; ``children`` is empty or holds exactly two nodes.
    active
        True for the leaves that form the current partition.
    t0
        Instance count at birth or re-activation; statistics cover the instances after it.
    counts
        Sparse counts of an active leaf; None once the node has split or been discarded.
    d0, d1, d2, avg, eps, pivot
        Results of the last test (None before the first one). A split node keeps d1 and eps
        frozen: the merge test of its children compares against them.
    """

    __slots__ = (
        "active", "avg", "children", "counts", "d0", "d1", "d2", "eps", "labels", "parent",
        "pivot", "t0",
    )

    def __init__(
        self, labels: tuple[int, ...], parent: LabelNode | None, t0: int, stride: int
    ) -> None:
        self.labels = labels
        self.parent = parent
        self.children: tuple[LabelNode, ...] = ()
        self.active = True
        self.t0 = t0
        self.counts: NodeCounts | None = NodeCounts(stride)
        self.d0: float | None = None
        self.d1: float | None = None
        self.d2: float | None = None
        self.avg: float | None = None
        self.eps: float | None = None
        self.pivot: tuple[int, int] | None = None

    def __repr__(self) -> str:
        state = "leaf" if self.active else "internal"
        return f"LabelNode({list(self.labels)}, {state})"

    def iter_preorder(self) -> Iterator[LabelNode]:
        """This node and its descendants, parent before children, left before right."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


class LabelTree:
    """Online Jaccard-distance clustering of ``n_labels`` labels (ODAC-J).

    Parameters
    ----------
    n_labels
        Size of the label space; labels are the ids ``0 .. n_labels - 1``.
    n_min
        Instances between test points, and the least a leaf must have seen to be tested.
    delta
        Error probability of the Hoeffding bound (0.1 = 90 % confidence).
    tau
        Tie threshold: once the bound is below ``tau`` a leaf may split even if its two largest
        distances cannot be told apart.
    evidence
        ``"relevant"``: the bound counts only instances in which a label of the leaf fired, since
        the others carry no Jaccard evidence; ``"instances"``: every instance, as ODAC does.
    split_refine_iters
        Passes that reassign the non-pivot labels of a split by their mean distance to each side.

    Examples
    --------
    Labels 0-1 always fire together, as do 2-3. At t = 100 the bound (0.107) still exceeds tau
    and the four largest distances tie; at t = 200 it is below tau and the root splits:

    >>> tree = LabelTree(4, n_min=100)
    >>> events = [e for t in range(400) for e in tree.update([0, 1] if t % 2 else [2, 3])]
    >>> [(e.t, e.kind, e.children) for e in events]
    [(200, 'split', ((0, 1), (2, 3)))]
    >>> tree.leaves()
    [(0, 1), (2, 3)]
    """

    def __init__(
        self,
        n_labels: int,
        n_min: int = 200,
        delta: float = 0.1,
        tau: float = 0.1,
        evidence: str = "relevant",
        split_refine_iters: int = 0,
    ) -> None:
        if n_labels < 1:
            raise ValueError(f"n_labels must be at least 1, got {n_labels}")
        if n_min < 1:
            raise ValueError(f"n_min must be at least 1, got {n_min}")
        if not 0.0 < delta < 1.0:
            raise ValueError(f"delta is an error probability in (0, 1), got {delta}")
        if evidence not in _EVIDENCE:
            raise ValueError(f"evidence must be one of {_EVIDENCE}, got {evidence!r}")
        if split_refine_iters < 0:
            raise ValueError(f"split_refine_iters must be >= 0, got {split_refine_iters}")
        self.n_labels = n_labels
        self.n_min = n_min
        self.delta = delta
        self.tau = tau
        self.evidence = evidence
        self.split_refine_iters = split_refine_iters
        self.t = 0
        self._new_root()

    def _new_root(self) -> None:
        self.root = LabelNode(tuple(range(self.n_labels)), None, self.t, self.n_labels)
        self._leaf_of = [self.root] * self.n_labels
        self.n_nodes = 1

    @classmethod
    def from_nested(cls, nested: Sequence, n_labels: int | None = None, **params) -> LabelTree:
        """A tree with a given shape: leaves are sequences of ints, internal nodes pairs of nodes.

        Useful to inspect coarsening or rendering on a known hierarchy. All leaves start with
        empty counts at t = 0.

        >>> tree = LabelTree.from_nested((((0, 2), (1,)), (3, 4)))
        >>> tree.leaves(), tree.n_nodes
        ([(0, 2), (1,), (3, 4)], 5)
        """

        def labels_of(part) -> list[int]:
            if all(isinstance(x, int) for x in part):
                return list(part)
            return [i for child in part for i in labels_of(child)]

        all_labels = sorted(labels_of(nested))
        q = n_labels if n_labels is not None else len(all_labels)
        if all_labels != list(range(q)):
            raise ValueError("the leaves must partition range(n_labels) exactly")
        tree = cls(q, **params)
        todo = [(tree.root, nested)]
        while todo:
            node, part = todo.pop()
            if all(isinstance(x, int) for x in part):
                continue
            if len(part) != 2:
                raise ValueError(f"an internal node needs exactly two children, got {part!r}")
            left, right = (tree._attach(node, sorted(labels_of(p))) for p in part)
            todo += [(left, part[0]), (right, part[1])]
        return tree

    # --- per-instance update -------------------------------------------------------------------

    def update(self, positives: Sequence[int]) -> list[TreeEvent]:
        """Count one instance's positive labels; run the tests when a test point is due.

        Only the leaves holding a positive label are touched, O(|Y|^2). Returns the structural
        changes of this instance's test point (an empty list between test points).
        """
        labels = sorted(set(map(int, positives)))  # also accepts numpy arrays and numpy ints
        if labels and (labels[0] < 0 or labels[-1] >= self.n_labels):
            raise ValueError(
                f"label ids must lie in [0, {self.n_labels}), got {labels[0]}..{labels[-1]}"
            )
        self.t += 1
        if labels:
            leaf_of = self._leaf_of
            if len(labels) == 1:
                leaf_of[labels[0]].counts.update(labels)  # type: ignore[union-attr]
            else:
                by_leaf: dict[LabelNode, list[int]] = {}
                for i in labels:
                    leaf = leaf_of[i]
                    if leaf in by_leaf:
                        by_leaf[leaf].append(i)
                    else:
                        by_leaf[leaf] = [i]
                for leaf, own in by_leaf.items():
                    leaf.counts.update(own)  # type: ignore[union-attr]
        if self.t % self.n_min == 0:
            return self._test_point()
        return []

    def update_many(self, Y: np.ndarray) -> list[TreeEvent]:
        """:meth:`update` for each row of ``Y`` (bool, one column per label) in turn: the same
        counts, dict orders and events, with the counting done in numpy per stretch of rows
        between test points rather than in Python per row."""
        Y = np.asarray(Y, dtype=bool)
        if Y.ndim != 2 or Y.shape[1] != self.n_labels:
            raise ValueError(f"Y must have {self.n_labels} label columns, got shape {Y.shape}")
        events: list[TreeEvent] = []
        start = 0
        while start < Y.shape[0]:
            stop = min(Y.shape[0], start + self.n_min - self.t % self.n_min)
            self._count_rows(Y[start:stop])
            self.t += stop - start
            if self.t % self.n_min == 0:
                events += self._test_point()
            start = stop
        return events

    def _count_rows(self, Y: np.ndarray) -> None:
        """Add rows to the leaves' counts, the label index fixed throughout (no test point in
        between). Each leaf gets its labels and pairs in :meth:`update`'s order: row by row,
        labels ascending, pairs ``(a, b)`` with ``a`` then ``b`` ascending."""
        rows, labels = np.nonzero(Y)
        if not labels.size:
            return
        present = np.unique(labels)
        leaves: dict[LabelNode, int] = {}
        ids = np.array([leaves.setdefault(self._leaf_of[i], len(leaves))
                        for i in present.tolist()], dtype=np.int64)
        leaf = ids[np.searchsorted(present, labels)]
        order = np.lexsort((labels, rows, leaf))
        rows, labels, leaf = rows[order], labels[order], leaf[order]
        n = labels.size
        opens = np.ones(n, dtype=bool)  # where a (leaf, row) group begins
        opens[1:] = (leaf[1:] != leaf[:-1]) | (rows[1:] != rows[:-1])
        starts = np.flatnonzero(opens)
        ends = np.append(starts[1:], n)[np.cumsum(opens) - 1]
        partners = ends - np.arange(n) - 1  # the group's entries after each entry
        first = np.repeat(np.arange(n), partners)
        offset = np.arange(first.size) - np.repeat(np.cumsum(partners) - partners, partners)
        pairs = labels[first] * self.n_labels + labels[first + offset + 1]
        counts = [node.counts for node in leaves]
        for name, entries, owner in (("c", labels, leaf), ("c2", pairs, leaf[first])):
            # keys are distinct across leaves (a leaf's pairs join its own labels), and the
            # rows are in order within each leaf: first occurrence is insertion order
            keys, at, times = np.unique(entries, return_index=True, return_counts=True)
            by_first = np.argsort(at)
            dicts = [getattr(c, name) for c in counts]
            for key, k, add in zip(keys[by_first].tolist(), owner[at[by_first]].tolist(),
                                   times[by_first].tolist()):
                found = dicts[k]
                found[key] = found.get(key, 0) + add
        for c, n_rows in zip(counts, np.bincount(leaf[starts], minlength=len(counts)).tolist()):
            c.c_any += n_rows  # type: ignore[union-attr]

    def reset(self) -> TreeEvent:
        """Start again from one active root with fresh counts (the global-drift rebuild)."""
        self._new_root()
        return TreeEvent(self.t, "reset", self.root.labels)

    # --- inspection ----------------------------------------------------------------------------

    def leaf_nodes(self) -> list[LabelNode]:
        """Active leaves in pre-order."""
        return [node for node in self.root.iter_preorder() if node.active]

    def leaves(self) -> list[tuple[int, ...]]:
        """Label sets of the active leaves in pre-order: always a partition of the labels."""
        return [node.labels for node in self.leaf_nodes()]

    def nodes(self) -> Iterator[LabelNode]:
        """Every node of the tree in pre-order."""
        return self.root.iter_preorder()

    def n_eff(self, node: LabelNode) -> int:
        """Evidence count of an active leaf for its Hoeffding bound (see ``evidence``)."""
        if self.evidence == "relevant":
            return node.counts.c_any if node.counts is not None else 0
        return self.t - node.t0

    def memory_bytes(self) -> int:
        """Approximate bytes held by the counts and the label-to-leaf index."""
        total = sys.getsizeof(self._leaf_of)
        for node in self.leaf_nodes():
            total += node.counts.memory_bytes()  # type: ignore[union-attr]
        return total

    # --- persistence ---------------------------------------------------------------------------

    _STATS = ("d0", "d1", "d2", "avg", "eps", "pivot")

    def get_state(self) -> dict:
        """The tree as flat arrays over its nodes in pre-order, with parent indices.

        Pre-order lists a parent before its children and a left child before its right one, so
        :meth:`from_state` rebuilds every link (and the children's order) in one pass.

        >>> tree = LabelTree(4, n_min=100)
        >>> events = [e for t in range(400) for e in tree.update([0, 1] if t % 2 else [2, 3])]
        >>> twin = LabelTree.from_state(tree.get_state())
        >>> twin.leaves(), twin.n_nodes, twin.t
        ([(0, 1), (2, 3)], 3, 400)
        """
        nodes = list(self.nodes())
        index = {id(node): k for k, node in enumerate(nodes)}
        return {
            "params": {
                "n_labels": self.n_labels,
                "n_min": self.n_min,
                "delta": self.delta,
                "tau": self.tau,
                "evidence": self.evidence,
                "split_refine_iters": self.split_refine_iters,
            },
            "t": self.t,
            "n_nodes": self.n_nodes,
            "parent": np.array(
                [-1 if n.parent is None else index[id(n.parent)] for n in nodes], dtype=np.int64
            ),
            "n_node_labels": np.array([len(n.labels) for n in nodes], dtype=np.int64),
            "labels": np.array([i for n in nodes for i in n.labels], dtype=np.int64),
            "active": np.array([n.active for n in nodes], dtype=bool),
            "t0": np.array([n.t0 for n in nodes], dtype=np.int64),
            "stats": {name: [getattr(n, name) for n in nodes] for name in self._STATS},
            "counts": [None if n.counts is None else n.counts.get_state() for n in nodes],
        }

    @classmethod
    def from_state(cls, state: dict) -> LabelTree:
        """A tree restored from :meth:`get_state`'s output; its structure is checked."""
        tree = cls(**state["params"])
        tree.t = int(state["t"])
        parents = np.asarray(state["parent"]).tolist()
        sizes = np.asarray(state["n_node_labels"]).tolist()
        ids = np.asarray(state["labels"]).tolist()
        active = np.asarray(state["active"]).tolist()
        t0 = np.asarray(state["t0"]).tolist()
        stats, counts = state["stats"], state["counts"]
        n = len(parents)
        lengths = [len(sizes), len(active), len(t0), len(counts)]
        lengths += [len(stats[name]) for name in cls._STATS]
        if n == 0 or any(length != n for length in lengths) or sum(sizes) != len(ids):
            raise ValueError("LabelTree state: node arrays differ in length")
        nodes: list[LabelNode] = []
        start = 0
        for k in range(n):
            if not (k == 0 and parents[k] == -1) and not 0 <= parents[k] < k:
                raise ValueError(f"LabelTree state: node {k} is not in pre-order")
            parent = nodes[parents[k]] if k else None
            node = LabelNode(tuple(ids[start : start + sizes[k]]), parent, t0[k], tree.n_labels)
            start += sizes[k]
            node.active = bool(active[k])
            node.counts = None if counts[k] is None else NodeCounts.from_state(counts[k])
            for name in cls._STATS:
                value = stats[name][k]
                setattr(node, name, tuple(value) if name == "pivot" and value else value)
            if parent is not None:
                parent.children = (*parent.children, node)
            nodes.append(node)
        tree.root = nodes[0]
        leaf_of: list[LabelNode | None] = [None] * tree.n_labels
        for node in nodes:
            if node.active:
                for i in node.labels:
                    leaf_of[i] = node
        if any(leaf is None for leaf in leaf_of) or any(
            node.active and node.counts is None for node in nodes
        ):
            raise ValueError("LabelTree state: the active leaves do not partition the labels")
        tree._leaf_of = leaf_of  # type: ignore[assignment]
        tree.n_nodes = int(state["n_nodes"])
        return tree

    # --- test point ----------------------------------------------------------------------------

    def _test_point(self) -> list[TreeEvent]:
        """Merge test then split test for each active leaf of a pre-order snapshot.

        A leaf detached earlier in the pass (its parent merged) is skipped; a node created or
        re-activated in the pass has t0 = t, so it fails the ``n_min`` age test until later.
        """
        events: list[TreeEvent] = []
        for node in self.leaf_nodes():
            if not node.active or self.t - node.t0 < self.n_min:
                continue
            self._compute_stats(node)
            if node.d1 is None:
                continue
            parent = node.parent
            if (
                parent is not None
                and parent.d1 is not None
                and node.d1 - parent.d1 > max(node.eps, parent.eps)  # type: ignore[type-var]
            ):
                events.append(self._merge(parent))
            elif self._split_due(node):
                events.append(self._split(node))
        return events

    def _compute_stats(self, node: LabelNode) -> None:
        coef = node.counts.coefficients(node.labels)  # type: ignore[union-attr]
        node.eps = hoeffding_bound(self.n_eff(node), self.delta)
        if coef is None:
            node.d0 = node.d1 = node.d2 = node.avg = node.pivot = None
            return
        node.d0, node.d1, node.d2 = coef.d0, coef.d1, coef.d2
        node.avg, node.pivot = coef.avg, coef.pivot

    def _split_due(self, node: LabelNode) -> bool:
        """ODAC's split test; needs d2, so a 2-label leaf never splits."""
        if node.d2 is None:
            return False
        d0, d1, d2, avg, eps = node.d0, node.d1, node.d2, node.avg, node.eps
        separated = d1 - d2 > eps or self.tau > eps  # type: ignore[operator]
        return separated and (d1 - d0) * abs(d1 + d0 - 2.0 * avg) > eps  # type: ignore[operator]

    def _attach(self, parent: LabelNode, labels: list[int]) -> LabelNode:
        """Create an active child leaf of ``parent`` and point the label index at it."""
        child = LabelNode(tuple(labels), parent, self.t, self.n_labels)
        for i in labels:
            self._leaf_of[i] = child
        parent.children = (*parent.children, child)
        parent.active = False
        parent.counts = None
        self.n_nodes += 1
        return child

    def _split(self, node: LabelNode) -> TreeEvent:
        side_a, side_b = self._assign(node)
        self._attach(node, side_a)
        self._attach(node, side_b)
        return TreeEvent(self.t, "split", node.labels, (tuple(side_a), tuple(side_b)))

    def _merge(self, parent: LabelNode) -> TreeEvent:
        children = tuple(child.labels for child in parent.children)
        for child in parent.children:
            for node in child.iter_preorder():
                node.active = False
                node.counts = None
                self.n_nodes -= 1
        parent.children = ()
        parent.active = True
        parent.t0 = self.t
        parent.counts = NodeCounts(self.n_labels)
        parent.d0 = parent.d1 = parent.d2 = parent.avg = parent.eps = parent.pivot = None
        for i in parent.labels:
            self._leaf_of[i] = parent
        return TreeEvent(self.t, "merge", parent.labels, children)

    def _assign(self, node: LabelNode) -> tuple[list[int], list[int]]:
        """Split a leaf's labels around its pivots: nearer pivot wins, ties balance the sides.

        A tie (undefined distances count as 1, so most sparse labels tie) goes to the side with
        fewer labels, then to side A; sending every tie to one side would peel off one label per
        split and grow an O(q)-deep chain.
        """
        counts = node.counts
        assert counts is not None and node.pivot is not None
        c, c2, stride = counts.c, counts.c2, counts.stride
        p1, p2 = node.pivot

        def dist(i: int, j: int) -> float:
            lo, hi = (i, j) if i < j else (j, i)
            return jaccard_distance(c.get(i, 0), c.get(j, 0), c2.get(lo * stride + hi, 0))

        side_a, side_b = [p1], [p2]
        for k in node.labels:
            if k == p1 or k == p2:
                continue
            to_a, to_b = dist(k, p1), dist(k, p2)
            if to_a < to_b or (to_a == to_b and len(side_a) <= len(side_b)):
                side_a.append(k)
            else:
                side_b.append(k)
        if self.split_refine_iters:
            side_a, side_b = self._refine(node, side_a, side_b)
        return sorted(side_a), sorted(side_b)

    def _refine(
        self, node: LabelNode, side_a: list[int], side_b: list[int]
    ) -> tuple[list[int], list[int]]:
        """Reassign each non-pivot label by its mean distance to the other members of each side.

        Distances are 1 minus the Jaccard similarity, so a mean distance is 1 minus the summed
        similarity (over stored pairs only) divided by the side's size.
        """
        counts = node.counts
        assert counts is not None and node.pivot is not None
        c = counts.c
        similar: dict[int, list[tuple[int, float]]] = {}
        for i, j, cij in counts.iter_pairs():
            s = cij / (c[i] + c[j] - cij)
            similar.setdefault(i, []).append((j, s))
            similar.setdefault(j, []).append((i, s))
        in_a = dict.fromkeys(side_a, True) | dict.fromkeys(side_b, False)
        sizes = {True: len(side_a), False: len(side_b)}
        for _ in range(self.split_refine_iters):
            moved = False
            for k in node.labels:
                if k in node.pivot:
                    continue
                was_a = in_a[k]
                sizes[was_a] -= 1
                sim = {True: 0.0, False: 0.0}
                for j, s in similar.get(k, ()):
                    sim[in_a[j]] += s
                to_a = 1.0 - sim[True] / sizes[True]
                to_b = 1.0 - sim[False] / sizes[False]
                now_a = to_a < to_b or (to_a == to_b and sizes[True] <= sizes[False])
                in_a[k] = now_a
                sizes[now_a] += 1
                moved = moved or now_a != was_a
            if not moved:
                break
        return [k for k in node.labels if in_a[k]], [k for k in node.labels if not in_a[k]]
