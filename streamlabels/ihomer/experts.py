"""The decision layer's Python side: its state, its growth with new features, its checkpoints.

The layer itself (experts per label, Hedge weights, the F-optimal threshold, the kNN window) is
compiled in :mod:`streamlabels.kernels.experts`; this class owns the arrays, hands them to the
kernels and keeps them the right size as features appear.
"""

from __future__ import annotations

import numpy as np

from streamlabels.kernels import experts as kernel
from streamlabels.kernels import jit, knn, targets
from streamlabels.vocabulary import Row

__all__ = ["ExpertLayer"]


class ExpertLayer:
    """Experts, weights and threshold over ``n_labels`` labels (IHOMER's parameters of the same
    names; ``dense``: standardise rows for the kNN, as dense streams need)."""

    def __init__(self, n_labels: int, experts, weighting: str, threshold: str, knn_k: int,
                 knn_window: int, dense: bool, target: str):
        self.layer = kernel.new_layer(
            n_labels, 1, experts, weighting, threshold, knn_k, knn_window, dense, target
        )
        self.scratch = kernel.new_scratch(self.layer)

    def reserve(self, n_columns: int) -> None:
        """Room for feature columns ``0 .. n_columns - 1``."""
        window = knn.grown(self.layer.window, n_columns)
        if window is not self.layer.window:
            self.layer = self.layer._replace(window=window)
            self.scratch = kernel.new_scratch(self.layer)

    def decide(self, model_scores: np.ndarray, row: Row) -> tuple[np.ndarray, tuple]:
        """The labels of one row and what its learning needs of the decision
        (:data:`~streamlabels.kernels.experts.KEPT`; the combined scores second)."""
        labels = np.zeros(len(model_scores), dtype=bool)
        kernel.decide_row(model_scores, row.indices, row.values, self.layer, self.scratch, labels)
        return labels, tuple(getattr(self.scratch, name).copy() for name in kernel.KEPT)

    def probabilities(self) -> np.ndarray:
        """The calibrated P(True) of each label of the row :meth:`decide` decided last."""
        out = np.zeros(self.layer.weights.shape[0])
        kernel.probabilities(self.layer, self.scratch, out)
        return out

    def learn(self, truth: np.ndarray, row: Row, kept: tuple) -> None:
        """Learn the truth of a row decided as ``kept`` says (:meth:`decide`'s second value)."""
        self.reserve(int(row.indices[-1]) + 1 if len(row.indices) else 0)
        for name, value in zip(kernel.KEPT, kept):
            getattr(self.scratch, name)[:] = value
        kernel.learn_row(truth, row.indices, row.values, self.layer, self.scratch)
        # queued after the kernels a predict-and-learn loop needs, ahead of its first use (any
        # float array of one row's labels gives the type of its output)
        jit.prepare(kernel.probabilities, self.layer, self.scratch, self.scratch.calibrated)

    def weights(self) -> np.ndarray:
        """The experts' weights per label, (n_labels, n_experts), experts in
        :data:`~streamlabels.kernels.experts.EXPERT_NAMES` order."""
        return self.layer.weights.copy()

    def in_use(self) -> list[str]:
        on = self.layer.prm[kernel.ON:]
        return [name for name, used in zip(kernel.EXPERT_NAMES, on) if used]

    def get_state(self) -> dict:
        """The layer's arrays, the kNN window cut to what the kernels read
        (:func:`streamlabels.kernels.knn.used`): the state depends neither on how the room grew
        nor on what is never read."""
        layer = self.layer
        return {
            **{name: getattr(layer, name).copy() for name in layer._fields if name != "window"},
            "window": knn.used(layer.window),
        }

    def set_state(self, state: dict) -> None:
        """Take the arrays of :meth:`get_state`'s output, checked against this layer's shapes."""
        saved = state["window"]
        ncols = int(np.asarray(saved["meta"])[knn.NCOLS])
        self.reserve(ncols)
        fields = {
            name: _like(getattr(self.layer, name),
                        kernel.saved_run(state[name]) if name == "run" else state[name], name)
            for name in kernel.Layer._fields if name != "window"
        }
        window = {name: getattr(self.layer.window, name).copy() for name in knn.SAVED}
        for name, mine in window.items():
            theirs = np.asarray(saved[name], dtype=mine.dtype)
            if theirs.ndim != mine.ndim or any(a > b for a, b in zip(theirs.shape, mine.shape)):
                raise ValueError(f"decision layer state: window.{name} has shape {theirs.shape}")
            mine[tuple(slice(0, n) for n in theirs.shape)] = theirs
        if int(window["meta"][knn.NCOLS]) > window["stats"].shape[1]:
            raise ValueError("decision layer state: the window learned more columns than it holds")
        self.layer = kernel.Layer(**fields, window=knn.indexed(window))
        self.scratch = kernel.new_scratch(self.layer)


def _like(mine: np.ndarray, theirs, name: str) -> np.ndarray:
    theirs = np.asarray(theirs, dtype=mine.dtype)
    if not targets.accepts(name, theirs.shape, mine.shape):
        raise ValueError(f"decision layer state: {name} has shape {theirs.shape}, not {mine.shape}")
    return theirs.copy()
