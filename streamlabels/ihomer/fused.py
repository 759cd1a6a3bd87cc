"""The compiled test-then-train run of a :class:`~streamlabels.ihomer.transition.Transition`.

A run of rows up to the next label-tree checkpoint is one call of
:func:`streamlabels.kernels.fused.predict_learn_rows`. This module lays the transition out as the
kernel's named arrays (learners by their place in one stacked bank) and writes the counters the
kernel moved back into the Python objects.
"""

from __future__ import annotations

import functools

import numpy as np

from streamlabels.ihomer.experts import ExpertLayer
from streamlabels.ihomer.hierarchy import Hierarchy
from streamlabels.ihomer.transition import Transition
from streamlabels.kernels.fused import HierarchyArrays, WarmUp, predict_learn_rows
from streamlabels.learners.linear import Bank, stack

__all__ = ["predict_learn_run"]


def _arrays(hierarchy: Hierarchy, bank_index: dict[int, int]) -> HierarchyArrays:
    """The hierarchy as the kernel takes it; ``bank_index`` maps ``id(learner)`` to its place.

    ``local_seen`` is the hierarchy's own array; ``seen`` a new one, written back afterwards.
    """
    locals_ = np.array(
        [-1 if learner is None else bank_index[id(learner)] for learner in hierarchy.locals],
        dtype=np.int64,
    )
    return HierarchyArrays(
        bank_index[id(hierarchy.router)], hierarchy.group_of, hierarchy.offsets,
        hierarchy.flat_members, locals_, hierarchy.local_seen,
        np.array([hierarchy.router_seen], dtype=np.int64),
    )


@functools.cache
def _no_layer() -> ExpertLayer:
    """A one-label layer of the kernel's types, passed (and left unused) when the routing rule
    decides."""
    return ExpertLayer(1, ("model",), "uniform", "fixed", 1, 1, False)


def _warmup(transition: Transition) -> WarmUp:
    n_groups = len(transition.active.groups)
    warming = np.zeros(n_groups, dtype=bool)
    warm_left = np.zeros(n_groups, dtype=np.int64)
    for k, left in transition.groups_left.items():
        warming[k], warm_left[k] = True, left
    map_offsets = np.zeros(n_groups + 1, dtype=np.int64)
    map_groups = np.zeros(0, dtype=np.int64)
    if transition.shadow is not None:
        np.cumsum([len(m) for m in transition.shadow_map], out=map_offsets[1:])
        map_groups = np.concatenate(transition.shadow_map).astype(np.int64)
    left = np.array([transition.shadow is not None, transition.router_left], dtype=np.int64)
    return WarmUp(left, warming, warm_left, map_offsets, map_groups)


def predict_learn_run(
    transition: Transition, experts: ExpertLayer | None, bank: Bank | None, n_columns: int,
    indptr, indices, values, Y: np.ndarray, scores: np.ndarray, learn: bool = True,
) -> tuple[np.ndarray, np.ndarray, Bank]:
    """Test-then-train the learners (and the decision layer ``experts``, when there is one) on
    CSR rows that end at or before the next checkpoint; each row's scores go into ``scores``
    unless it has no rows. Without ``learn`` the rows are only predicted, any number of them,
    and the model is left as it was (``Y`` is not read).

    Returns the predictions, the hierarchy's own predictions by the routing rule, and the bank
    (``bank`` itself while it still holds the learners).
    """
    active, shadow = transition.active, transition.shadow
    hierarchies = [active] if shadow is None else [active, shadow]
    learners = [h.router for h in hierarchies]
    learners += [learner for h in hierarchies for learner in h.locals if learner is not None]
    bank = stack(learners, n_columns, bank)
    index = {id(learner): j for j, learner in enumerate(learners)}
    arrays = _arrays(active, index)
    shadow_arrays = arrays if shadow is None else _arrays(shadow, index)
    warmup = _warmup(transition)
    if experts is not None:
        experts.reserve(n_columns)
    layer = _no_layer() if experts is None else experts
    predicted = np.zeros(Y.shape, dtype=bool)
    own = np.zeros(Y.shape, dtype=bool)
    predict_learn_rows(
        indptr, indices, values, Y, learn, predicted, own, scores, bank.arrays, learners[0].sgd,
        transition.rule, active.relevant_only, arrays, shadow_arrays, warmup, experts is not None,
        layer.layer, layer.scratch,
    )
    if not learn:
        return predicted, own, bank
    active.router_seen = int(arrays.seen[0])
    if shadow is not None:
        shadow.router_seen = int(shadow_arrays.seen[0])
        transition.router_left = int(warmup.left[1])
        transition.groups_left = {
            k: int(warmup.warm_left[k]) for k in transition.groups_left if warmup.warming[k]
        }
        if not warmup.left[0]:
            transition.end_warmup()
    return predicted, own, bank
