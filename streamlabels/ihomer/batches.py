"""IHOMER over batches: test-then-train, scoring and positives of pandas, numpy, scipy.sparse
blocks or lists of feature dicts, giving exactly what the ``_one`` methods give row by row, in
order.

With the compiled linear learners, test-then-train runs each stretch of rows up to the label
tree's next test point as one compiled call (:mod:`.compiled`), and scoring is one compiled call
over the live model (or one per thread); then the loss detector takes the stretch's losses in
one compiled call and the label tree counts its label sets in numpy
(:meth:`~.structure.LabelStructure.track_many`). Other learners take the ``_one`` path row by
row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse

from streamlabels.ihomer.learned import LearnedState
from streamlabels.kernels.hierarchy import Outputs
from streamlabels.kernels.rows import Rows
from streamlabels.vocabulary import LabelVocabulary, feature_dicts

__all__ = ["positives_many", "score_many", "test_then_train"]


def _n_rows(X) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


def score_many(state: LearnedState, X, feature_names: Sequence | None):
    """``score_one`` for every row of ``X``: the labels and the scores, two arrays whose columns
    follow the labels. Nothing is learned; features the model has not learned are left out."""
    names = state.features.names_of(X, feature_names, fixed=True)
    if not state.started:
        n_rows = _n_rows(X)
        return np.zeros((n_rows, 0), dtype=bool), np.zeros((n_rows, 0))
    if not state.compiled_path:
        rows = [state.score(x) for x in feature_dicts(X, names)]
        shape = (len(rows), len(state.labels))
        labels = np.array([r[0] for r in rows], dtype=bool).reshape(shape)
        return labels, np.array([r[2] for r in rows], dtype=np.float64).reshape(shape)
    out = _scored(state, Rows(*state.features.csr(X, names, grow=False)), with_scores=True)
    return out.labels, out.scores


def _scored(state: LearnedState, rows: Rows, with_scores: bool) -> Outputs:
    """``score_one``'s labels (and scores, ``with_scores``) of ``rows`` from one compiled call on
    the live model (or one per thread)."""
    shape = (rows.indptr.shape[0] - 1, len(state.labels))
    out = Outputs(np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool),
                  np.zeros(shape if with_scores else (0, shape[1])))
    state.compiled.score(state.transition, state.experts, len(state.features), rows, out)
    return out


BLOCK_CELLS = 1 << 20
"""Most (row, label) cells :func:`positives_many` holds densely at a time."""


def positives_many(state: LearnedState, X,
                   feature_names: Sequence | None) -> scipy.sparse.csr_array:
    """``predict_one``'s True labels for every row of ``X`` as a bool CSR array (rows x labels):
    rows are scored in blocks of at most :data:`BLOCK_CELLS` cells kept by their positives, so
    memory follows the positives rather than rows x labels."""
    if not state.started or not state.compiled_path:
        return scipy.sparse.csr_array(score_many(state, X, feature_names)[0])
    n_rows, n_labels = _n_rows(X), len(state.labels)
    names = state.features.names_of(X, feature_names, fixed=True)
    indptr, indices, values = state.features.csr(X, names, grow=False)
    step = max(1, BLOCK_CELLS // n_labels)
    blocks = [scipy.sparse.csr_array((0, n_labels), dtype=bool)]
    for start in range(0, n_rows, step):
        block = _rows(indptr, indices, values, start, min(n_rows, start + step))
        blocks.append(scipy.sparse.csr_array(_scored(state, block, with_scores=False).labels))
    return scipy.sparse.vstack(blocks, format="csr")


def test_then_train(state: LearnedState, X, Y, feature_names: Sequence | None,
                    with_scores: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Predict each row of ``X`` (and score it, ``with_scores``), then learn it from ``Y``; returns
    what ``score_one`` answered for each row before it was learned."""
    started = state.started
    if not started:
        state.start(LabelVocabulary.names_of(Y))
    Y = state.labels.matrix(Y)
    if _n_rows(X) != Y.shape[0]:
        raise ValueError(f"X has {_n_rows(X)} rows but Y has {Y.shape[0]}")
    feature_names = state.features.names_of(X, feature_names)
    predicted = np.zeros(Y.shape, dtype=bool)
    scores = np.zeros(Y.shape if with_scores else (0, Y.shape[1]))
    if not state.compiled_path:
        for i, x in enumerate(feature_dicts(X, feature_names)):
            if with_scores:
                predicted[i], _, scores[i] = state.score(x)
            else:
                predicted[i] = state.predict(x)
            state.learn(x, dict(zip(state.labels.names, Y[i].tolist())))
    else:
        indptr, indices, values = state.features.csr(X, feature_names)
        state.pending = None
        n_min, start = state.params["n_min"], 0
        while start < Y.shape[0]:
            stop = min(Y.shape[0], start + n_min - state.t % n_min)
            run = _rows(indptr, indices, values, start, stop)
            predicted[start:stop] = _run(state, run, Y[start:stop], scores[start:stop])
            start = stop
    if not started and len(predicted):
        predicted[0] = False  # predict_one answers {} before the first learn_one
        if with_scores:
            scores[0] = 0.0
    return predicted, scores if with_scores else None


def _rows(indptr, indices, values, start: int, stop: int) -> Rows:
    """Rows ``start`` to ``stop`` of a CSR batch as :class:`Rows` of their own."""
    rows = indptr[start : stop + 1]
    return Rows(rows - rows[0], indices[rows[0] : rows[-1]], values[rows[0] : rows[-1]])


def _run(state: LearnedState, rows: Rows, Y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Test-then-train on rows that end at or before the label tree's next test point: the
    learners in one compiled call (writing the rows' scores into ``scores`` unless it has no
    rows), then the label structure over the same rows."""
    out = Outputs(np.zeros(Y.shape, dtype=bool), np.zeros(Y.shape, dtype=bool), scores)
    state.compiled.predict_learn(state.transition, state.experts, len(state.features), rows, Y,
                                 out)
    losses = None
    if state.params["global_drift"] == "adwin_rebuild":
        losses = np.count_nonzero(out.own != Y, axis=1) / Y.shape[1]
    state.structure.track_many(state.t, Y, losses)
    state.t += Y.shape[0]
    state.at_test_point()
    return out.labels
