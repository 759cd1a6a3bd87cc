"""Batch prediction from a :class:`~streamlabels.scoring.Snapshot` on the CPU or a CUDA GPU.

The wrappers here own every check (shapes, dtypes, CSR structure), so the kernels can index
without bounds checks. Both devices give ``predict_one``'s labels; the CPU scores are bit for bit
``predict_proba_one``'s, the GPU's agree to rounding (its ``exp`` and fused multiply-adds differ).
"""

from __future__ import annotations

from collections.abc import Iterable

import numba
import numpy as np
import scipy.sparse

from streamlabels.features import dicts_to_csr
from streamlabels.kernels import scoring_cpu
from streamlabels.kernels.decision import Rule
from streamlabels.scoring.rows import Batch
from streamlabels.scoring.snapshot import Snapshot

__all__ = ["predict_many", "predict_proba_many", "score_many", "to_csr"]

_DEVICES = ("cpu", "cuda")
_MAX_CHUNK = 256  # rows per parallel CPU task: large enough to amortise its scratch
_SERIAL_ROWS = 32  # batches up to this size skip the thread pool, whose wake-up costs more


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
    return _score(snapshot, X, device, want_proba=True)[0]


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
    return _score(snapshot, X, device, want_proba=False)[1]


def score_many(snapshot: Snapshot, X) -> tuple[np.ndarray, np.ndarray]:
    """``predict_many``'s labels and ``predict_proba_many``'s scores from one pass on the CPU
    (a service publishes both for every row).

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
    scores, labels = _score(snapshot, X, "cpu", want_proba=True, want_labels=True)
    return labels, scores


def _score(
    snapshot: Snapshot, X, device: str, want_proba: bool, want_labels: bool | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, labels)``; the one not asked for has no columns (labels: unless
    ``want_labels``, default ``not want_proba``)."""
    if not isinstance(snapshot, Snapshot):
        raise TypeError(
            f"snapshot must be a Snapshot (scoring.export), got {type(snapshot).__name__}"
        )
    if device not in _DEVICES:
        raise ValueError(f"device must be one of {_DEVICES}, got {device!r}")
    batch = Batch(X, snapshot.n_features)
    layered = snapshot.experts is not None
    if device == "cuda":
        from streamlabels.scoring import cuda

        if layered:
            return _decide(snapshot, batch, cuda.score(snapshot, batch, True))
        out = cuda.score(snapshot, batch, want_proba)
        return (out, None) if want_proba else (None, out)
    want_labels = not want_proba if want_labels is None else want_labels
    if layered:  # the layer decides from every label's model score
        want_proba, want_labels = True, False
    n, n_labels = batch.n_rows, snapshot.n_labels
    proba = np.empty((n, n_labels if want_proba else 0))
    labels = np.empty((n, n_labels if want_labels else 0), dtype=np.bool_)
    args = (
        batch.dense, batch.X, batch.indptr, batch.indices, batch.values,
        snapshot.scaling == "standard", *_lazy_tables(snapshot), *kernel_arrays(snapshot),
        want_proba, proba, labels,
    )
    if n <= _SERIAL_ROWS:
        scoring_cpu.score_rows(0, n, *args)
    else:
        scoring_cpu.score_batch(n, _chunk(n), *args)
    return _decide(snapshot, batch, proba) if layered else (proba, labels)


def _chunk(n_rows: int) -> int:
    return max(1, min(_MAX_CHUNK, n_rows // (4 * numba.get_num_threads())))


def _decide(snapshot: Snapshot, batch: Batch, model_scores: np.ndarray) -> tuple:
    """``(scores, labels)`` of the decision layer from the rows' model scores (on the CPU)."""
    scores = np.empty_like(model_scores)
    labels = np.empty(model_scores.shape, dtype=np.bool_)
    rows = (model_scores, batch.dense, batch.X, batch.indptr, batch.indices, batch.values)
    if batch.n_rows <= _SERIAL_ROWS:
        scoring_cpu.decide_rows(0, batch.n_rows, *rows, snapshot.layer, labels, scores)
    else:
        scoring_cpu.decide_batch(*rows, snapshot.layer, _chunk(batch.n_rows), labels, scores)
    return scores, labels


def _lazy_tables(snapshot: Snapshot) -> tuple[np.ndarray, np.ndarray]:
    """Which learners routing and gates read, and the learner behind each label (-1: none)."""
    n_outputs = int(snapshot.out_ptr[-1])
    owner = snapshot.slot_learner
    gating = np.zeros(len(snapshot.learner_names), dtype=np.bool_)
    for slots in (snapshot.route_slots, snapshot.label_gate[snapshot.label_gate >= 0]):
        gating[owner[slots[slots < n_outputs]]] = True
    learned = snapshot.label_slot < n_outputs
    label_learner = np.full(snapshot.n_labels, -1, dtype=np.int64)
    label_learner[learned] = owner[snapshot.label_slot[learned]]
    return gating, label_learner


def kernel_arrays(snapshot: Snapshot) -> tuple:
    """The snapshot as the scoring kernels take it: stacked learners, slot tables and rule."""
    s = snapshot
    return (
        scoring_cpu.SlotLearners(
            s.out_ptr, s.n_cols, s.weight_ptr, s.col_ptr, s.weights, s.intercepts, s.center,
            s.scale, s.absent, s.constants,
        ),
        scoring_cpu.SlotTables(
            s.route_ptr, s.route_slots, s.group_ptr, s.group_labels, s.label_slot, s.label_gate
        ),
        Rule(s.theta_route, s.group_nonempty, s.ensure_nonempty),
    )
