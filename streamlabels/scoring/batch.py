"""Batch prediction from a :class:`~streamlabels.scoring.Snapshot` on the CPU or a CUDA GPU.

The wrappers here own every check (shapes, dtypes, CSR structure), so the kernels can index
without bounds checks. Both devices score each row with the kernel the model itself scores with:
the CPU's labels and scores are bit for bit ``predict_one``'s and ``predict_proba_one``'s; the
GPU's scores agree to rounding (its ``exp`` and fused multiply-adds differ), and so its labels do
but where a score sits on a threshold.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import scipy.sparse

from streamlabels.kernels import scoring_cpu
from streamlabels.kernels.hierarchy import Model, Outputs
from streamlabels.kernels.rows import Rows
from streamlabels.scoring.rows import batch_rows
from streamlabels.scoring.snapshot import Snapshot
from streamlabels.vocabulary import dicts_to_csr

__all__ = ["predict_many", "predict_proba_many", "score_many", "score_model", "to_csr"]

_DEVICES = ("cpu", "cuda")
SERIAL_ROWS = 64
"""Up to this many rows are scored in the calling thread; more are split into one block per
thread (handing a block to another thread costs more than it saves on fewer)."""
_pools: dict[int, ThreadPoolExecutor] = {}  # by process: a forked child makes its own


def to_csr(snapshot: Snapshot, rows: Iterable[dict]) -> scipy.sparse.csr_array:
    """Feature dicts as a CSR matrix over ``snapshot.feature_names``; unknown features dropped.

    This is what ``predict_one`` does with a dict: features the model never saw play no part.

    >>> from streamlabels import IHOMER
    >>> from streamlabels.scoring import export
    >>> model = IHOMER(labels=["a"])
    >>> model.learn_one({"u": 1.0, "v": 2.0}, {"a": True})
    >>> to_csr(export(model), [{"v": 3.0, "new": 1.0}, {}]).toarray()
    array([[0., 3.],
           [0., 0.]])
    """
    column = {name: j for j, name in enumerate(snapshot.feature_names)}
    return dicts_to_csr(rows, column, grow=False)


def predict_proba_many(snapshot: Snapshot, X, device: str = "cpu") -> np.ndarray:
    """Scores ``r_k(x) * P(label | x, group k)`` per row and label, shape ``(n, n_labels)``.

    Row ``i`` equals ``predict_proba_one``'s P(True) for row ``i`` in the model the snapshot was
    taken from, label columns in ``snapshot.labels`` order.

    >>> from streamlabels import IHOMER
    >>> from streamlabels.scoring import export
    >>> import random
    >>> rng = random.Random(1)  # labels in no order the label context could exploit
    >>> model = IHOMER(labels=["a", "b"])
    >>> for _ in range(50):
    ...     v = rng.random() < 0.5
    ...     model.learn_one({"x": float(v)}, {"a": v, "b": not v})
    >>> snapshot = export(model)
    >>> proba = predict_proba_many(snapshot, np.array([[1.0], [0.0]]))
    >>> bool(proba[0, 0] > proba[0, 1]) and bool(proba[1, 1] > proba[1, 0])
    True
    >>> float(proba[0, 0]) == model.predict_proba_one({"x": 1.0})["a"][True]
    True
    """
    return _score(snapshot, X, device, want_scores=True).scores


def predict_many(snapshot: Snapshot, X, device: str = "cpu") -> np.ndarray:
    """``predict_one``'s labels per row, a bool array of shape ``(n, n_labels)``.

    >>> from streamlabels import IHOMER
    >>> from streamlabels.scoring import export
    >>> import random
    >>> rng = random.Random(1)  # labels in no order the label context could exploit
    >>> model = IHOMER(labels=["a", "b"])
    >>> for _ in range(50):
    ...     v = rng.random() < 0.5
    ...     model.learn_one({"x": float(v)}, {"a": v, "b": not v})
    >>> predict_many(export(model), np.array([[1.0], [0.0]]))
    array([[ True, False],
           [False,  True]])
    """
    return _score(snapshot, X, device, want_scores=False).labels


def score_many(snapshot: Snapshot, X, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """``predict_many``'s labels and ``predict_proba_many``'s scores from one pass (a service
    publishes both for every row).

    >>> from streamlabels import IHOMER
    >>> from streamlabels.scoring import export
    >>> import random
    >>> rng = random.Random(1)  # labels in no order the label context could exploit
    >>> model = IHOMER(labels=["a", "b"])
    >>> for _ in range(50):
    ...     v = rng.random() < 0.5
    ...     model.learn_one({"x": float(v)}, {"a": v, "b": not v})
    >>> labels, scores = score_many(export(model), np.array([[1.0]]))
    >>> labels, scores.tolist() == [list(model.score_one({"x": 1.0})[1])]
    (array([[ True, False]]), True)
    """
    out = _score(snapshot, X, device, want_scores=True)
    return out.labels, out.scores


def score_model(model: Model, rows: Rows, out: Outputs) -> None:
    """Score ``rows`` with a compiled ``model`` (a live one or a snapshot's) on the CPU, into the
    outputs ``out``: up to :data:`SERIAL_ROWS` rows in this thread, more in one block per thread
    (``numba.get_num_threads()``; the kernel releases the GIL)."""
    n_rows = rows.indptr.shape[0] - 1
    threads = min(numba.get_num_threads(), max(1, n_rows // SERIAL_ROWS))
    if threads == 1:
        scoring_cpu.score_rows(rows, model, 0, n_rows, out)
        return
    bounds = np.linspace(0, n_rows, threads + 1).astype(np.int64).tolist()
    pool = _pools.get(os.getpid())
    if pool is None:
        pool = _pools[os.getpid()] = ThreadPoolExecutor(numba.get_num_threads())
    blocks = [pool.submit(scoring_cpu.score_rows, rows, model, a, b, out)
              for a, b in zip(bounds[1:-1], bounds[2:])]
    scoring_cpu.score_rows(rows, model, bounds[0], bounds[1], out)
    for block in blocks:
        block.result()


def _score(snapshot: Snapshot, X, device: str, want_scores: bool) -> Outputs:
    """Labels (and scores, when ``want_scores``) of every row of ``X`` on ``device``."""
    if not isinstance(snapshot, Snapshot):
        raise TypeError(
            f"snapshot must be a Snapshot (scoring.export), got {type(snapshot).__name__}"
        )
    if device not in _DEVICES:
        raise ValueError(f"device must be one of {_DEVICES}, got {device!r}")
    rows = batch_rows(X, snapshot.n_features)
    shape = (rows.indptr.shape[0] - 1, snapshot.n_labels)
    out = Outputs(np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool),
                  np.zeros(shape if want_scores else (0, shape[1])))
    if device == "cuda":
        from streamlabels.scoring import cuda

        cuda.score(snapshot, rows, out)
    else:
        score_model(snapshot.model, rows, out)
    return out
