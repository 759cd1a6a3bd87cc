"""Any river classifier as a multi-output learner: one clone per output (binary relevance).

The clones are made lazily from the prototype with ``clone()``, the way river's own wrappers do,
so ensembles, pipelines and drift-aware models all work as iHOMER's router or group learners.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
from river import base

from streamlabels.learners.base import MultiOutputLearner
from streamlabels.vocabulary import Row

__all__ = ["RiverLearner"]


class RiverLearner(MultiOutputLearner):
    """Binary relevance over clones of a river classifier.

    Reads ``row.x``; the caller gives it a dense dict when the model needs one (river's scalers,
    trees and naive Bayes treat a missing key as "unknown", not as 0.0).

    >>> from river import linear_model
    >>> from streamlabels.vocabulary import FeatureSpace
    >>> learner = RiverLearner(linear_model.LogisticRegression(), n_outputs=2)
    >>> row = FeatureSpace().row({"f": 1.0})
    >>> learner.predict_proba_one(row).tolist()
    [0.5, 0.5]
    >>> learner.learn_one(row, np.array([True, False]))
    >>> p = learner.predict_proba_one(row)
    >>> bool(p[0] > 0.5 > p[1])
    True
    """

    def __init__(self, model: base.Classifier, n_outputs: int):
        self.model = model
        self.n_outputs = n_outputs
        self._models: list[base.Classifier | None] = [None] * n_outputs

    def _model(self, k: int) -> base.Classifier:
        model = self._models[k]
        if model is None:
            model = self._models[k] = self.model.clone()
        return model

    def learn_one(self, row: Row, y: np.ndarray) -> None:
        for k in range(self.n_outputs):
            self._model(k).learn_one(row.x, bool(y[k]))

    def predict_proba_one(self, row: Row) -> np.ndarray:
        out = np.empty(self.n_outputs)
        for k, model in enumerate(self._models):
            if model is None:
                out[k] = 0.5
            else:
                out[k] = model.predict_proba_one(row.x).get(True, 0.0)
        return out

    def subset(self, outputs: Sequence[int]) -> RiverLearner:
        copied = RiverLearner(self.model, len(outputs))
        copied._models = [copy.deepcopy(self._models[k]) for k in outputs]
        return copied
