"""IHOMER's transition and decision layer as the kernels' compiled layout.

The Python objects (:class:`~streamlabels.ihomer.transition.Transition`, its hierarchies and
learners, :class:`~streamlabels.ihomer.experts.ExpertLayer`) are the clear reference of the
model; the compiled paths (the fused test-then-train run, the CPU scorer, frozen snapshots) run on
one :class:`~streamlabels.kernels.hierarchy.Model` of arrays. :class:`CompiledLayout` lays the
objects out as that model (the learners stacked in one bank whose views they keep, so
consecutive runs copy nothing) and writes back the counters a run moved.
"""

from __future__ import annotations

import numpy as np

from streamlabels.ihomer.experts import ExpertLayer
from streamlabels.ihomer.hierarchy import Hierarchy
from streamlabels.ihomer.transition import Transition
from streamlabels.kernels import experts as experts_kernel
from streamlabels.kernels import fused
from streamlabels.kernels.hierarchy import Hierarchy as HierarchyArrays
from streamlabels.kernels.hierarchy import Model, Outputs, WarmUp
from streamlabels.kernels.rows import Rows
from streamlabels.learners.linear import Bank, stack
from streamlabels.scoring.batch import score_model

__all__ = ["CompiledLayout"]


def _arrays(hierarchy: Hierarchy, bank_index: dict[int, int]) -> HierarchyArrays:
    """The hierarchy as the kernels take it; ``bank_index`` maps ``id(learner)`` to its place.

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


class CompiledLayout:
    """Builds the compiled :class:`~streamlabels.kernels.hierarchy.Model` of one IHOMER model's
    parts, and keeps the bank of its learners between calls."""

    def __init__(self):
        self._bank: Bank | None = None

    def model(self, transition: Transition, experts: ExpertLayer | None,
              n_columns: int) -> Model:
        """The layout of ``transition`` and ``experts`` with room for ``n_columns`` columns."""
        active, shadow = transition.active, transition.shadow
        hierarchies = [active] if shadow is None else [active, shadow]
        learners = [h.router for h in hierarchies]
        learners += [learner for h in hierarchies for learner in h.locals if learner is not None]
        self._bank = stack(learners, n_columns, self._bank)
        index = {id(learner): j for j, learner in enumerate(learners)}
        arrays = _arrays(active, index)
        if experts is not None:
            experts.reserve(n_columns)
        return Model(
            self._bank.arrays, learners[0].sgd, transition.rule, active.relevant_only, arrays,
            arrays if shadow is None else _arrays(shadow, index), _warmup(transition),
            experts_kernel.no_layer() if experts is None else experts.layer,
        )

    def predict_learn(self, transition: Transition, experts: ExpertLayer | None, n_columns: int,
                      rows: Rows, Y: np.ndarray, out: Outputs) -> None:
        """Test-then-train on rows that end at or before the label tree's next test point (the
        learners and the decision layer), writing each row's answers into ``out``."""
        model = self.model(transition, experts, n_columns)
        fused.predict_learn_rows(rows, Y, model, out, True)
        transition.active.router_seen = int(model.active.seen[0])
        if transition.shadow is None:
            return
        transition.shadow.router_seen = int(model.shadow.seen[0])
        warmup = model.warmup
        transition.router_left = int(warmup.left[1])
        transition.groups_left = {
            k: int(warmup.warm_left[k]) for k in transition.groups_left if warmup.warming[k]
        }
        if not warmup.left[0]:
            transition.end_warmup()

    def score(self, transition: Transition, experts: ExpertLayer | None, n_columns: int,
              rows: Rows, out: Outputs) -> None:
        """Score rows with the model as it stands (nothing is learned), as
        :func:`streamlabels.scoring.batch.score_model` does."""
        score_model(self.model(transition, experts, n_columns), rows, out)
