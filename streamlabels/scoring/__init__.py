"""Batched scoring of frozen IHOMER snapshots on the CPU (numba, parallel) or a GPU (numba-cuda).

``export`` freezes a trained ``IHOMER(learner="linear")`` into a :class:`Snapshot` of flat
arrays; ``predict_many`` and ``predict_proba_many`` score whole batches from it with the labels
and scores ``predict_one`` and ``predict_proba_one`` would give, row by row.

>>> import numpy as np
>>> from streamlabels import IHOMER
>>> from streamlabels.scoring import export, predict_many, to_csr
>>> import random
>>> rng = random.Random(1)  # labels in no order the label context could exploit
>>> model = IHOMER(labels=["a", "b"])
>>> for _ in range(50):
...     v = rng.random() < 0.5
...     model.learn_one({"x": float(v)}, {"a": v, "b": not v})
>>> snapshot = export(model)
>>> predict_many(snapshot, to_csr(snapshot, [{"x": 1.0}, {"x": 0.0}]))
array([[ True, False],
       [False,  True]])
"""

from __future__ import annotations

from streamlabels.scoring.batch import predict_many, predict_proba_many, score_many, to_csr
from streamlabels.scoring.snapshot import Snapshot, freeze

__all__ = [
    "Snapshot", "export", "freeze", "predict_many", "predict_proba_many", "score_many", "to_csr",
]


def export(model) -> Snapshot:
    """Freeze ``model`` (an ``IHOMER(learner="linear")``) into a :class:`Snapshot`, as its
    :meth:`~streamlabels.IHOMER.snapshot` does; the model is not touched.

    >>> from streamlabels import IHOMER
    >>> model = IHOMER(labels=["a", "b"])
    >>> model.learn_one({"x": 1.0}, {"a": True, "b": False})
    >>> snapshot = export(model)
    >>> snapshot.feature_names, snapshot.labels, snapshot.groups
    (['x'], ['a', 'b'], [['a', 'b']])
    >>> export(IHOMER(labels=["a"], learner="tree"))
    Traceback (most recent call last):
    ...
    TypeError: only IHOMER(learner='linear') models can be exported; this one uses tree

    Raises
    ------
    TypeError
        When ``model`` is not an IHOMER model, or one whose learners have no compiled layout
        (``learner="tree"`` or a river classifier).
    """
    snapshot = getattr(model, "snapshot", None)
    if snapshot is None:
        raise TypeError(f"export takes an IHOMER model, got {type(model).__name__}")
    return snapshot()
