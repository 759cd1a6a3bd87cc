"""The Hoeffding tree's state arrays: their fields, their empty form, and their growth.

Node and slot rows are allocated in doubling steps and reused through free stacks, so one
compiled call never runs out of rows and the tree never holds more than ``max_nodes`` of either.
"""

from __future__ import annotations

import numpy as np

from streamlabels.kernels.hoeffding import tree as kernels
from streamlabels.vocabulary import Row

__all__ = ["DETECTOR_FIELDS", "NODE_FIELDS", "SLOT_FIELDS", "empty_nodes", "empty_slots", "reserve"]

# Per-slot arrays in kernel order: (name, axis of the feature dimension or None, fill value).
SLOT_FIELDS = (
    ("stat_weight", None, 0.0), ("last_attempt", None, 0.0), ("stat_counts", None, 0.0),
    ("g_all", 1, 0.0), ("g_pos", 1, 0.0), ("g_min", 1, np.inf), ("g_max", 1, -np.inf),
    ("hashes", None, 0), ("table_weights", None, 0.0), ("table_sets", None, False),
    ("table_meta", None, 0), ("win_x", 2, 0.0), ("win_y", None, False), ("win_meta", None, 0),
    ("lr_w", 2, 0.0), ("lr_b", None, 0.0),
)
NODE_FIELDS = ("feature", "threshold", "left", "right", "depth", "slot", "weight", "counts",
                "alt")
DETECTOR_FIELDS = ("floats", "ints", "lengths", "totals", "variances")


def padded(arrays: tuple, extra: int, fills) -> tuple:
    """``arrays`` with ``extra`` rows of ``fills`` (one per array) appended."""
    return tuple(
        np.concatenate([a, np.full((extra, *a.shape[1:]), fill, dtype=a.dtype)])
        for a, fill in zip(arrays, fills)
    )


def empty_nodes(capacity: int, n_outputs: int) -> tuple:
    return (
        np.full(capacity, -1, dtype=np.int64), np.zeros(capacity),
        np.full(capacity, -1, dtype=np.int64), np.full(capacity, -1, dtype=np.int64),
        np.zeros(capacity, dtype=np.int64), np.full(capacity, -1, dtype=np.int64),
        np.zeros(capacity), np.zeros((capacity, n_outputs + 1)),
        np.full(capacity, -1, dtype=np.int64),
    )


def empty_slots(tree, capacity: int, n_columns: int, n_outputs: int) -> tuple:
    s, d, m, h, w = capacity, n_columns, n_outputs, tree.labelset_capacity, tree.knn_window
    return (
        np.zeros(s), np.zeros(s), np.zeros((s, m + 1)),
        np.zeros((s, d, 3)), np.zeros((s, d, m + 1, 3)),
        np.full((s, d), np.inf), np.full((s, d), -np.inf),
        np.zeros((s, h), dtype=np.uint64), np.zeros((s, h)),
        np.zeros((s, h, m + 1), dtype=np.bool_), np.zeros((s, 2), dtype=np.int64),
        np.zeros((s, w, d)), np.zeros((s, w, m), dtype=np.bool_),
        np.zeros((s, 2), dtype=np.int64),
        np.zeros((s, m, d)), np.zeros((s, m)),
    )


def reserve(tree, row: Row, w: float) -> None:
    """Room for the row's columns and for every node and slot one call may create.

    Node and slot capacities double. :func:`streamlabels.kernels.hoeffding.tree.room_needed` bounds what one call may
    create, and the tree never holds more than ``max_nodes`` nodes (nor leaves), so at most
    ``max_nodes`` rows of either kind are ever allocated.
    """
    n_columns = int(row.indices[-1]) + 1 if row.indices.shape[0] else 0
    need = kernels.room_needed(row.indices, row.values, w, tree._nodes, tree._slots,
                               tree._detectors, tree._params)
    capacity = tree._nodes[0].shape[0]
    extra = _extra_rows(tree, kernels.NODE_FREE_TOP, capacity, need)
    if extra:
        tree._nodes = padded(
            tree._nodes, extra, [-1 if a.dtype == np.int64 else 0 for a in tree._nodes]
        )
        tree._detectors = padded(tree._detectors, extra, [0] * len(tree._detectors))
        tree._node_free = _grown_stack(tree, tree._node_free, capacity, extra,
                                            kernels.NODE_FREE_TOP)
    capacity = tree._slots[0].shape[0]
    extra = _extra_rows(tree, kernels.FREE_TOP, capacity, need)
    if extra:
        tree._slots = padded(tree._slots, extra, [fill for _, _, fill in SLOT_FIELDS])
        tree._free = _grown_stack(tree, tree._free, capacity, extra, kernels.FREE_TOP)
    columns = tree._scaler[0].shape[0]
    if n_columns > columns:
        while columns < n_columns:
            columns *= 2
        extra = columns - tree._scaler[0].shape[0]
        tree._scaler = tuple(np.pad(a, (0, extra)) for a in tree._scaler)
        grown = []
        for a, (_, axis, fill) in zip(tree._slots, SLOT_FIELDS):
            if axis is not None:
                pad = [(0, 0)] * a.ndim
                pad[axis] = (0, extra)
                a = np.pad(a, pad, constant_values=fill)
            grown.append(a)
        tree._slots = tuple(grown)


def _extra_rows(tree, top_field: int, capacity: int, need: int) -> int:
    """Rows to add, in steps of ``capacity``, so that ``need`` rows are free (never more than
    ``max_nodes`` allocated); 0 when enough are. ``top_field``: where ``meta`` keeps the
    free stack's height."""
    top = int(tree._meta[top_field])
    wanted = min(need, tree.max_nodes - (capacity - top))
    extra = 0
    while top + extra < wanted:
        extra += capacity
    return extra


def _grown_stack(tree, stack: np.ndarray, capacity: int, extra: int,
                 top_field: int) -> np.ndarray:
    """The free stack with rows ``capacity .. capacity + extra - 1`` pushed, the lowest on
    top; its height in ``meta[top_field]`` follows."""
    top = int(tree._meta[top_field])
    grown = np.empty(capacity + extra, dtype=np.int64)
    grown[:top] = stack[:top]
    grown[top:top + extra] = np.arange(capacity + extra - 1, capacity - 1, -1)
    tree._meta[top_field] = top + extra
    return grown
