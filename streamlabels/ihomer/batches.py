"""IHOMER's batch methods: learn, predict and test-then-train over pandas, numpy and
scipy.sparse blocks, giving exactly what the ``_one`` methods give row by row in order.

Test-then-train runs each stretch of rows up to the next label-tree checkpoint as one compiled
call (:mod:`.fused`); prediction alone scores a frozen snapshot (:mod:`streamlabels.scoring`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse

from streamlabels.features import feature_dicts
from streamlabels.ihomer.vocabulary import LabelVocabulary
from streamlabels.kernels.hierarchy import Outputs
from streamlabels.kernels.rows import Rows
from streamlabels.learners.linear import LinearLearner

__all__ = ["BatchMethods"]


class BatchMethods:
    """The batch half of :class:`~streamlabels.ihomer.IHOMER`'s API."""

    def _unit_test_skips(self) -> set[str]:
        """river's many-vs-one probability check compares each cell of ``predict_proba_many``
        with ``predict_proba_one``'s ``{True: p, False: 1 - p}`` of a single target; a
        multi-label model's cell is one label's P(True), so that check cannot apply (its
        predict_many check returns early on our DataFrame for the same reason).
        ``tests/test_ihomer.py`` checks both against the ``_one`` methods exactly instead."""
        return {"check_predict_proba_many_matches_predict_proba_one"}

    def learn_many(self, X, Y, feature_names: Sequence | None = None) -> None:
        """Learn the rows of ``X`` (pandas, numpy or scipy.sparse) in order, as ``learn_one`` would.

        ``Y`` is a DataFrame of label columns, a Series of ``{label: bool}`` dicts (river's
        batch of multi-label targets), or a bool array whose columns follow ``labels``.
        Runs :meth:`predict_learn_many` (the loss detector needs each row's prediction anyway).
        """
        self.predict_learn_many(X, Y, feature_names)

    def predict_learn_many(self, X, Y, feature_names: Sequence | None = None):
        """Test-then-train over a batch: predict each row of ``X``, then learn it from ``Y``.

        Returns what ``predict_one(x)`` answered for each row before ``learn_one(x, y)``, and leaves
        the model as that loop would, bit for bit (rows and labels are read as
        :meth:`learn_many` reads them; ``feature_names`` names the columns of ``X``, default: a
        DataFrame's column names, else positions). The result is a bool DataFrame over the
        labels for a DataFrame ``X``, else a bool array whose columns follow the labels.

        With the compiled linear learners each run of rows up to the next checkpoint of the label
        tree is one compiled call (:mod:`streamlabels.kernels.fused`); only the label tree and the
        loss detector are updated row by row in Python.

        Examples
        --------
        >>> import numpy as np
        >>> from streamlabels import IHOMER
        >>> rng = np.random.default_rng(0)
        >>> X = rng.random((500, 4))
        >>> Y = np.column_stack([X[:, 0] > 0.5, X[:, 1] > 0.5, X[:, 0] + X[:, 1] > 1])
        >>> model = IHOMER(labels=["a", "b", "c"], n_min=100)
        >>> predicted = model.predict_learn_many(X, Y)
        >>> predicted.shape, bool((predicted[250:] == Y[250:]).mean() > 0.8)
        ((500, 3), True)
        """
        predicted, _ = self._test_then_train(X, Y, feature_names, with_scores=False)
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(predicted, index=X.index, columns=self._labels)
        return predicted

    def score_learn_many(self, X, Y, feature_names: Sequence | None = None):
        """Test-then-train over a batch, as :meth:`predict_learn_many`, returning both what
        ``score_one(x)`` answered for each row before ``learn_one(x, y)``: the labels (bool) and
        the scores (``predict_proba_one``'s P(True)), two arrays whose columns follow the labels.
        A service that publishes both for every labelled message learns a batch in one call.

        >>> import numpy as np
        >>> from streamlabels import IHOMER
        >>> model, twin = IHOMER(labels=["a", "b"]), IHOMER(labels=["a", "b"])
        >>> X, Y = np.eye(2), np.eye(2, dtype=bool)
        >>> labels, scores = model.score_learn_many(X, Y)
        >>> twin.learn_one({0: 1.0, 1: 0.0}, {"a": True, "b": False})
        >>> bool(np.array_equal(scores[1], twin.score_one({0: 0.0, 1: 1.0})[1]))
        True
        """
        return self._test_then_train(X, Y, feature_names, with_scores=True)

    def score_many(self, X, feature_names: Sequence | None = None):
        """``score_one`` for every row of ``X``, from the model as it stands (nothing is learned):
        the labels (bool) and the scores (P(True)), two arrays whose columns follow the labels.
        Columns are read as :meth:`predict_many` reads them; features the model has not learned
        are left out, as ``score_one`` leaves them out.

        With the compiled learners a batch of up to :data:`LIVE_ROWS` rows is one compiled call
        on the live model, with no snapshot to export first: a service scoring a few messages
        between two batches of learning pays for the rows only. A larger batch goes to the
        parallel scorer of an exported snapshot (:mod:`streamlabels.scoring`); both give
        ``score_one``'s answers exactly. :meth:`predict_many` and :meth:`predict_proba_many`
        score on the CPU through it.

        >>> import numpy as np
        >>> from streamlabels import IHOMER
        >>> model = IHOMER(labels=["a", "b"])
        >>> model.learn_many(np.eye(2), np.eye(2, dtype=bool))
        >>> labels, scores = model.score_many(np.array([[0.0, 1.0]]))
        >>> bool(np.array_equal(scores[0], model.score_one({0: 0.0, 1: 1.0})[1]))
        True
        """
        names = self._features.names_of(X, feature_names, fixed=True)
        if self._transition is None:
            n_rows = len(list(feature_dicts(X, names)))
            return np.zeros((n_rows, 0), dtype=bool), np.zeros((n_rows, 0))
        if not isinstance(self._transition.active.router, LinearLearner):  # no compiled path
            rows = [self._score(x) for x in feature_dicts(X, names)]
            shape = (len(rows), len(self._labels))
            labels = np.array([r[0] for r in rows], dtype=bool).reshape(shape)
            return labels, np.array([r[2] for r in rows], dtype=np.float64).reshape(shape)
        indptr, indices, values = self._features.csr(X, names, grow=False)
        shape = (indptr.shape[0] - 1, len(self._labels))
        out = Outputs(np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool), np.zeros(shape))
        self._compiled.score(self._transition, self._experts, len(self._features),
                             Rows(indptr, indices, values), out)
        return out.labels, out.scores

    def _test_then_train(self, X, Y, feature_names, with_scores: bool):
        started = self._transition is not None
        if not started:
            self._start(LabelVocabulary.names_of(Y))
        Y = self._vocabulary.matrix(Y)
        n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
        if n_rows != Y.shape[0]:
            raise ValueError(f"X has {n_rows} rows but Y has {Y.shape[0]}")
        feature_names = self._features.names_of(X, feature_names)
        predicted = np.zeros(Y.shape, dtype=bool)
        scores = np.zeros(Y.shape if with_scores else (0, Y.shape[1]))
        if not isinstance(self._transition.active.router, LinearLearner):  # no compiled path
            for i, x in enumerate(feature_dicts(X, feature_names)):
                if with_scores:
                    predicted[i], _, scores[i] = self._score(x)
                else:
                    predicted[i] = self._predict_row_of(x)
                self.learn_one(x, dict(zip(self._labels, Y[i].tolist())))
        else:
            indptr, indices, values = self._features.csr(X, feature_names)
            self._cache = None
            start = 0
            while start < Y.shape[0]:
                stop = min(Y.shape[0], start + self.n_min - self._t % self.n_min)
                rows = indptr[start : stop + 1]
                run = (rows - rows[0], indices[rows[0] : rows[-1]], values[rows[0] : rows[-1]])
                predicted[start:stop] = self._predict_learn_run(
                    *run, Y[start:stop], scores[start:stop]
                )
                start = stop
        if not started and len(predicted):
            predicted[0] = False  # predict_one answers {} before the first learn_one
            if with_scores:
                scores[0] = 0.0
        return predicted, scores if with_scores else None

    def _predict_learn_run(self, indptr, indices, values, Y: np.ndarray,
                           scores: np.ndarray) -> np.ndarray:
        """Test-then-train on rows that end at or before the next checkpoint: the learners in
        one compiled call (writing the rows' scores into ``scores`` unless it has no rows), then
        the label structure row by row."""
        out = Outputs(np.zeros(Y.shape, dtype=bool), np.zeros(Y.shape, dtype=bool), scores)
        self._compiled.predict_learn(self._transition, self._experts, len(self._features),
                                     Rows(indptr, indices, values), Y, out)
        predicted, own = out.labels, out.own
        losses = [None] * Y.shape[0]
        if self.global_drift == "adwin_rebuild":
            losses = (np.count_nonzero(own != Y, axis=1) / Y.shape[1]).tolist()
        rows, labels = Y.nonzero()
        ends = np.searchsorted(rows, np.arange(1, Y.shape[0] + 1)).tolist()
        start = 0
        for end, loss in zip(ends, losses):
            self._t += 1
            self._structure.track(self._t, labels[start:end], loss)
            start = end
        self._checkpoint()
        return predicted

    def predict_many(self, X, device: str = "cpu", feature_names: Sequence | None = None):
        """``predict_one`` for every row: a bool DataFrame for a DataFrame, else a bool array.

        ``feature_names`` names the columns of ``X`` as in :meth:`learn_many`. A bare array is
        read by position only when the model learned positions from arrays as wide; otherwise
        (named features, another width) it raises rather than mix up columns.

        On the CPU the batch is scored as :meth:`score_many` scores it; with ``device="cuda"`` a
        frozen snapshot is scored on a GPU (:mod:`streamlabels.scoring`): either way the labels
        of ``predict_one``, row by row, with the model as it stands.
        """
        return self._batch(X, device, False, feature_names)

    def predict_proba_many(self, X, device: str = "cpu", feature_names: Sequence | None = None):
        """``predict_proba_one``'s P(True) for every row, shaped like ``predict_many``'s output
        (columns read as :meth:`predict_many` reads them)."""
        return self._batch(X, device, True, feature_names)

    def _batch(self, X, device: str, proba: bool, feature_names: Sequence | None):
        if device == "cpu":
            out = self.score_many(X, feature_names)[1 if proba else 0]
        else:
            out = self._on_device(X, device, proba, feature_names)
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(out, index=X.index, columns=self._labels)
        return out

    def _on_device(self, X, device: str, proba: bool, feature_names: Sequence | None):
        """The labels (or scores) of ``X`` from a snapshot scored on ``device``."""
        names = self._features.names_of(X, feature_names, fixed=True)
        if self._transition is None:
            n_rows = len(list(feature_dicts(X, names)))
            return np.zeros((n_rows, 0), dtype=np.float64 if proba else bool)
        if self.learner != "linear":
            raise ValueError("GPU scoring needs learner='linear'")
        from streamlabels import scoring

        snapshot = self.snapshot()
        score = scoring.predict_proba_many if proba else scoring.predict_many
        return score(snapshot, scoring.to_csr(snapshot, feature_dicts(X, names)), device=device)
