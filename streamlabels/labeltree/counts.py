"""Sparse co-occurrence counts of one label cluster, and the test point coefficients built on them.

The Jaccard distance of two labels needs only three numbers: how often each fired and how often
they fired together. A cluster therefore keeps ``c[i]`` per label, ``c2`` only for the pairs that
actually co-occurred, and ``c_any``, the number of instances in which any of its labels fired. An
update touches the positive labels only, so it costs O(|Y|^2) whatever the size of the cluster
(docs/algorithm.md §7.2).

At a test point the distances of the pairs that never co-occurred are all exactly 1, so the
coefficients (d0, d1, d2, avg and the pivot pair) follow from the stored pairs plus a count of the
others: O(m log m + nnz) instead of O(m^2). :func:`dense_coefficients` is the O(m^2) definition,
kept as the reference the sparse formulas are tested against.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Coefficients",
    "NodeCounts",
    "dense_coefficients",
    "hoeffding_bound",
    "jaccard_distance",
]


@dataclass(frozen=True)
class Coefficients:
    """Distance summary of a cluster over its *defined* pairs (union size > 0).

    Attributes
    ----------
    d0, d1 : float
        Smallest and largest distance.
    d2 : float or None
        Largest distance among the defined pairs other than the pivot pair; None when fewer than
        two pairs are defined, in which case the cluster cannot be split.
    avg : float
        Mean distance over the defined pairs.
    pivot : tuple of int
        The pair ``(i, j)``, ``i < j``, attaining d1. Ties go to the larger union size (more
        evidence), then to the lexicographically smallest pair.
    n_pairs : int
        Number of defined pairs.
    """

    d0: float
    d1: float
    d2: float | None
    avg: float
    pivot: tuple[int, int]
    n_pairs: int


def jaccard_distance(ci: int, cj: int, cij: int) -> float:
    """Jaccard distance ``1 - cij / (ci + cj - cij)``; 1 for a pair without evidence.

    Returning 1 for an empty union is the split-assignment convention (an undefined distance is a
    tie); the coefficients exclude such pairs instead.

    >>> jaccard_distance(3, 3, 3), jaccard_distance(2, 2, 1), jaccard_distance(0, 0, 0)
    (0.0, 0.6666666666666667, 1.0)
    """
    union = ci + cj - cij
    return 1.0 - cij / union if union > 0 else 1.0


def hoeffding_bound(n_eff: float, delta: float, value_range: float = 1.0) -> float:
    """Hoeffding bound ``sqrt(R^2 ln(1/delta) / (2 n))``; infinite without evidence.

    ``delta`` is the error probability (0.1 means 90 % confidence), not the confidence itself.

    >>> round(hoeffding_bound(116, 0.1), 4)
    0.0996
    >>> hoeffding_bound(0, 0.1)
    inf
    """
    if n_eff <= 0:
        return math.inf
    return math.sqrt(value_range * value_range * math.log(1.0 / delta) / (2.0 * n_eff))


class NodeCounts:
    """Label, pair and "any label fired" counts of one cluster since its birth.

    Pair counts are keyed by the integer ``i * stride + j`` (``i < j``), which hashes faster and
    takes less memory than a tuple; ``stride`` must exceed every label id.

    Parameters
    ----------
    stride
        Any number larger than the largest label id (the size of the label space).

    Examples
    --------
    >>> counts = NodeCounts(stride=10)
    >>> counts.update([1, 4, 7])
    >>> counts.update([4, 7])
    >>> counts.c, counts.c_any
    ({1: 1, 4: 2, 7: 2}, 2)
    >>> sorted(counts.pair_counts().items())
    [((1, 4), 1), ((1, 7), 1), ((4, 7), 2)]
    """

    __slots__ = ("c", "c2", "c_any", "stride")

    def __init__(self, stride: int) -> None:
        self.stride = stride
        self.c: dict[int, int] = {}
        self.c2: dict[int, int] = {}
        self.c_any = 0

    def update(self, positives: Sequence[int]) -> None:
        """Count one instance whose positive labels in this cluster are ``positives``.

        ``positives`` must be sorted, without duplicates and non-empty; the caller (the tree) has
        already done that once for the whole instance.
        """
        c = self.c
        for i in positives:
            c[i] = c.get(i, 0) + 1
        n = len(positives)
        if n > 1:
            c2 = self.c2
            stride = self.stride
            for a in range(n - 1):
                base = positives[a] * stride
                for b in range(a + 1, n):
                    key = base + positives[b]
                    c2[key] = c2.get(key, 0) + 1
        self.c_any += 1

    def pair_counts(self) -> dict[tuple[int, int], int]:
        """The stored pair counts as ``{(i, j): c_ij}``, for inspection and tests."""
        return {divmod(key, self.stride): n for key, n in self.c2.items()}

    def iter_pairs(self) -> Iterator[tuple[int, int, int]]:
        """Stored pairs as ``(i, j, c_ij)``."""
        for key, n in self.c2.items():
            i, j = divmod(key, self.stride)
            yield i, j, n

    def memory_bytes(self) -> int:
        """Approximate bytes held: the two dicts plus their key and value objects."""
        # Small ints (< 257) are shared by CPython; counting every key and value as its own
        # object slightly over-estimates, which is the safe side for a report.
        entry = 2 * sys.getsizeof(2**40)
        return (
            sys.getsizeof(self.c)
            + sys.getsizeof(self.c2)
            + entry * (len(self.c) + len(self.c2))
        )

    def get_state(self) -> dict:
        """The counts as parallel key and value arrays, in dict insertion order.

        The order is kept because :meth:`coefficients` sums distances in ``c2``'s order, and a
        float sum depends on it.

        >>> counts = NodeCounts(stride=10)
        >>> counts.update([4, 7])
        >>> counts.update([1, 4])
        >>> twin = NodeCounts.from_state(counts.get_state())
        >>> list(twin.c.items()), list(twin.c2.items()), twin.c_any
        ([(4, 2), (7, 1), (1, 1)], [(47, 1), (14, 1)], 2)
        """
        return {
            "stride": self.stride,
            "c_any": self.c_any,
            "c_keys": np.fromiter(self.c, dtype=np.int64, count=len(self.c)),
            "c_values": np.fromiter(self.c.values(), dtype=np.int64, count=len(self.c)),
            "c2_keys": np.fromiter(self.c2, dtype=np.int64, count=len(self.c2)),
            "c2_values": np.fromiter(self.c2.values(), dtype=np.int64, count=len(self.c2)),
        }

    @classmethod
    def from_state(cls, state: dict) -> NodeCounts:
        """Counts restored from :meth:`get_state`'s output, with the same dict order."""
        counts = cls(int(state["stride"]))
        counts.c_any = int(state["c_any"])
        for name in ("c", "c2"):
            keys, values = state[f"{name}_keys"], state[f"{name}_values"]
            if np.shape(keys) != np.shape(values) or np.ndim(keys) != 1:
                raise ValueError(f"NodeCounts state: {name} keys and values differ in shape")
            setattr(counts, name, dict(zip(keys.tolist(), values.tolist())))
        return counts

    def coefficients(self, labels: Sequence[int]) -> Coefficients | None:
        """Test-point coefficients of the cluster ``labels`` (sorted) from the sparse counts.

        Returns None when no pair is defined (fewer than two labels, or at most one label ever
        fired). Costs O(m log m + nnz) for m labels and nnz stored pairs (docs/algorithm.md §7.2).

        Examples
        --------
        Labels 0 and 1 always fire together, 2 fires alone, 3 and 4 never fire (their pair is
        undefined and left out). The pivot is a never-co-occurring pair with the most evidence,
        (0, 2) and (1, 2) tie and the smaller wins:

        >>> counts = NodeCounts(stride=5)
        >>> for y in ([0, 1], [0, 1], [2]):
        ...     counts.update(y)
        >>> coef = counts.coefficients([0, 1, 2, 3, 4])
        >>> coef.d0, coef.d1, coef.d2, coef.pivot, coef.n_pairs
        (0.0, 1.0, 1.0, (0, 2), 9)
        >>> round(coef.avg, 3)
        0.889
        """
        m = len(labels)
        c = self.c
        fired = [i for i in labels if i in c]  # c holds only labels that fired
        zeros = m - len(fired)
        n_pairs = m * (m - 1) // 2 - zeros * (zeros - 1) // 2
        if n_pairs == 0:
            return None
        nnz = len(self.c2)
        n_never = n_pairs - nnz  # defined pairs that never co-occurred: distance exactly 1

        # One pass over the stored pairs: sum, minimum, and the two largest distances, keeping
        # for the largest the pivot key under the tie rule (larger union, then smaller pair).
        stride = self.stride
        stored_sum = 0.0
        d0 = 1.0
        best = second = -1.0
        best_union = 0
        best_key = -1
        for key, cij in self.c2.items():
            i, j = divmod(key, stride)
            union = c[i] + c[j] - cij
            d = 1.0 - cij / union
            stored_sum += d
            if d < d0:
                d0 = d
            if d > best:
                second = best
                best, best_union, best_key = d, union, key
            elif d == best:
                second = best
                if union > best_union or (union == best_union and key < best_key):
                    best_union, best_key = union, key
            elif d > second:
                second = d

        avg = (stored_sum + n_never) / n_pairs
        if n_never > 0:
            silent = next((i for i in labels if i not in c), None)
            fired.sort(key=lambda i: (-c[i], i))
            pivot = self._never_pivot(fired, silent)
            d1 = 1.0
            if n_never >= 2:
                d2: float | None = 1.0
            elif nnz:
                d2 = best
            else:
                d2 = None
        else:
            pivot = divmod(best_key, stride)
            d1 = best
            d2 = second if nnz > 1 else None
        return Coefficients(d0=d0, d1=d1, d2=d2, avg=avg, pivot=pivot, n_pairs=n_pairs)

    def _never_pivot(self, fired: list[int], silent: int | None) -> tuple[int, int]:
        """Pivot among defined pairs that never co-occurred: largest ``c_i + c_j``, then smallest.

        ``fired`` is sorted by descending count, then id; ``silent`` is the smallest label that
        never fired (None if all fired), the best of the silent labels as a partner since they all
        count 0. For each label the first partner in that order that it never co-occurred with is
        its best one (largest sum, and within equal sums the smallest pair), so the scan costs one
        step per stored pair passed over, and stops once no partner can reach the best sum.
        """
        c = self.c
        c2 = self.c2
        stride = self.stride
        partners = fired if silent is None else [*fired, silent]
        top = c[fired[0]]
        best_sum = -1
        best = (-1, -1)
        for i in fired:
            ci = c[i]
            if ci + top < best_sum:
                break
            for j in partners:
                if j == i:
                    continue
                s = ci + c.get(j, 0)
                if s < best_sum:
                    break
                pair = (i, j) if i < j else (j, i)
                if pair[0] * stride + pair[1] in c2:
                    continue
                if s > best_sum or pair < best:
                    best_sum, best = s, pair
                break
        return best


def dense_coefficients(
    labels: Sequence[int], c: Mapping[int, int], c2: Mapping[tuple[int, int], int]
) -> Coefficients | None:
    """The coefficients by definition, visiting all m(m-1)/2 pairs: the test reference.

    ``c`` maps labels to counts and ``c2`` maps ``(i, j)``, ``i < j``, to pair counts; missing
    entries are 0.

    >>> dense_coefficients([0, 1, 2], {0: 2, 1: 2, 2: 1}, {(0, 1): 2})
    Coefficients(d0=0.0, d1=1.0, d2=1.0, avg=0.6666666666666666, pivot=(0, 2), n_pairs=3)
    """
    pairs = []
    ordered = sorted(labels)
    for a, i in enumerate(ordered):
        for j in ordered[a + 1 :]:
            cij = c2.get((i, j), 0)
            union = c.get(i, 0) + c.get(j, 0) - cij
            if union > 0:
                pairs.append((1.0 - cij / union, union, i, j))
    if not pairs:
        return None
    pairs.sort(key=lambda p: (-p[0], -p[1], p[2], p[3]))
    distances = [p[0] for p in pairs]
    return Coefficients(
        d0=min(distances),
        d1=distances[0],
        d2=max(distances[1:]) if len(pairs) > 1 else None,
        avg=sum(distances) / len(distances),
        pivot=(pairs[0][2], pairs[0][3]),
        n_pairs=len(pairs),
    )
