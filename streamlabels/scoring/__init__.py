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
from streamlabels.scoring.snapshot import Snapshot, export

__all__ = ["Snapshot", "export", "predict_many", "predict_proba_many", "score_many", "to_csr"]
