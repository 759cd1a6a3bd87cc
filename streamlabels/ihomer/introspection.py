"""What a user (or a scorer) reads off a running IHOMER model: its groups, label tree, events,
sizes, expert weights, and the view a frozen snapshot is exported from."""

from __future__ import annotations

from streamlabels.kernels.experts import EXPERT_NAMES
from streamlabels.labeltree import group_id, render_text
from streamlabels.scoring.snapshot import freeze

__all__ = ["Introspection"]


class Introspection:
    """Read-only views of :class:`~streamlabels.ihomer.IHOMER`'s state."""

    @property
    def _labels(self) -> list:
        return [] if self._vocabulary is None else self._vocabulary.names

    def snapshot(self):
        """The model frozen for batch scoring on the CPU or a GPU (:mod:`streamlabels.scoring`):
        a copy of the compiled layout it runs on, with its feature and label names.

        Raises
        ------
        TypeError
            When ``learner`` is not ``"linear"``: only linear learners have a compiled layout.
        """
        if self.learner != "linear":
            raise TypeError(
                "only IHOMER(learner='linear') models can be exported; this one uses "
                f"{self.learner if isinstance(self.learner, str) else type(self.learner).__name__}"
            )
        if self._transition is None:
            raise ValueError("the model has no labels yet: learn from it or pass IHOMER(labels=...)")
        model = self._compiled.model(self._transition, self._experts, len(self._features))
        return freeze(model, self._features.names, self._labels, self.scaling, self._t)

    @property
    def groups(self) -> list[list]:
        """The committed label groups, as label names."""
        if self._transition is None:
            return []
        return [[self._labels[i] for i in g] for g in self._transition.active.groups]

    @property
    def group_ids(self) -> list[str]:
        """Stable identities of the committed groups (derived from their label sets)."""
        return [] if self._transition is None else [group_id(g) for g in self._transition.active.groups]

    @property
    def tree(self):
        """The online label tree."""
        return None if self._structure is None else self._structure.tree

    @property
    def events(self) -> list[dict]:
        """The latest ``max_events`` structure changes and drift detections: dicts with ``t``,
        ``kind`` and details."""
        return [] if self._structure is None else list(self._structure.events)

    @property
    def expert_weights(self) -> dict:
        """Each label's weight on each expert in use (``decision="experts"``), e.g.
        ``{"sports": {"model": 0.7, "knn": 0.2, "context": 0.1}}``; empty otherwise."""
        if self._experts is None:
            return {}
        names = self._experts.in_use()
        columns = [EXPERT_NAMES.index(name) for name in names]
        weights = self._experts.weights()[:, columns].tolist()
        return {label: dict(zip(names, row)) for label, row in zip(self._labels, weights)}

    @property
    def n_nonfinite(self) -> int:
        """Non-finite feature values (NaN, inf) left out of learned rows as missing."""
        return self._features.n_nonfinite

    @property
    def n_instances(self) -> int:
        return self._t

    def render_tree(self) -> str:
        """The label tree as indented text."""
        return render_text(self.tree, self._labels) if self.tree else "(no labels yet)"

    def model_size(self) -> dict:
        """Sizes a user watches: groups, learners, label-tree nodes and bytes of pair counts."""
        if self._transition is None:
            return {"groups": 0, "learners": 0, "tree_nodes": 0, "tree_bytes": 0}
        active = self._transition.active
        return {
            "groups": len(active.groups),
            "learners": 1 + sum(learner is not None for learner in active.locals),
            "tree_nodes": self.tree.n_nodes,
            "tree_bytes": self.tree.memory_bytes(),
            "features": len(self._features) or len(self._dense_template),
        }
