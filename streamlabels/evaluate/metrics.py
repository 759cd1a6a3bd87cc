"""Multi-label metrics over bool arrays, cheap enough to update once per instance.

A prequential run scores every instance before learning from it, so the metric update sits on the
hot path. :class:`MultiLabelMetrics` keeps only counters (per-label true positives, label and
prediction counts, and a few per-instance sums), so one update costs a handful of small numpy
operations and every metric is derived from the counters on demand.

Metrics and conventions (n instances, L labels, Y and Ŷ the true and predicted positive sets,
tp/fp/fn counted per label; docs/algorithm.md §3.2):

===================== ======================================= ============================
key                   definition                              river / sklearn
===================== ======================================= ============================
``subset_accuracy``   mean of ``1[Ŷ = Y]``                    ``ExactMatch`` /
                                                              ``accuracy_score``
``hamming_loss``      ``Σ |Ŷ Δ Y| / (n L)``                   1 - ``SampleAverage(``
                                                              ``Accuracy)`` /
                                                              ``hamming_loss``
``example_accuracy``  mean of ``|Y ∩ Ŷ| / |Y ∪ Ŷ|`` (Jaccard) ``SampleAverage(Jaccard)``
``example_precision`` mean of ``|Y ∩ Ŷ| / |Ŷ|``               ``SampleAverage(Precision)``
``example_recall``    mean of ``|Y ∩ Ŷ| / |Y|``               ``SampleAverage(Recall)``
``example_f1``        mean of ``2 |Y ∩ Ŷ| / (|Y| + |Ŷ|)``     ``SampleAverage(F1)``
``micro_*``           precision, recall, F1 of the pooled     ``MicroAverage(...)``
                      tp, fp, fn
``macro_*``           mean over all L labels of the           ``MacroAverage(...)``
                      per-label score
===================== ======================================= ============================

Zero denominators:

- *Micro and macro* scores are 0 when their denominator is 0. A label that was never seen nor
  predicted therefore counts as 0 in the macro averages. This is river's convention, the one the
  published numbers use, and sklearn's with ``zero_division=0``. (river's ``MacroAverage`` averages
  over the labels keyed in the truth dicts, so it agrees when those dicts list every label.)
- *Example-based* scores: an instance with Y = Ŷ = ∅ is a perfect prediction and scores
  ``both_empty_score`` (default 1) on all four; when only the denominator's set is empty
  (precision with Ŷ = ∅ ≠ Y, recall with Y = ∅ ≠ Ŷ) the instance scores 0.

  - Jaccard and F1 equal sklearn's ``average="samples"`` with ``zero_division=1`` (their
    denominators vanish only when both sets are empty).
  - Precision and recall equal sklearn's ``zero_division=0`` value plus the share of instances with
    both sets empty: sklearn applies one ``zero_division`` to both cases.
  - river's ``SampleAverage`` scores every zero denominator 0, so all four river values are ours
    minus that share; ``both_empty_score=0`` reproduces river exactly.
- With no instance scored yet every metric is 0.

Examples
--------
>>> import numpy as np
>>> m = MultiLabelMetrics(["sports", "politics", "music"])  # or a count: MultiLabelMetrics(3)
>>> m.update(np.array([True, False, True]), np.array([True, True, False]))
>>> m.update(np.array([False, False, False]), np.array([False, False, False]))
>>> m.n
2
>>> scores = m.get()
>>> scores["subset_accuracy"], scores["example_accuracy"], scores["macro_f1"]
(0.5, 0.666..., 0.333...)
>>> [(row["label"], row["f1"]) for row in m.per_label()]
[('sports', 1.0), ('politics', 0.0), ('music', 0.0)]
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import scipy.stats

__all__ = ["CalibrationMetrics", "MultiLabelMetrics", "RankingMetrics"]

def _paired(y_true, values, dtype, n_labels: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``y_true`` as bool and ``values`` (called ``name`` in the error) as ``dtype``, both of
    shape (L,) for one row or (n, L) for a batch; anything else raises ``ValueError``."""
    y_true = np.asarray(y_true, dtype=np.bool_)
    values = np.asarray(values, dtype=dtype)
    if y_true.shape != values.shape or y_true.shape[-1] != n_labels or y_true.ndim > 2:
        raise ValueError(
            f"y_true {y_true.shape} and {name} {values.shape} must both have shape "
            f"({n_labels},) or (n, {n_labels})"
        )
    return y_true, values


_KEYS = (
    "subset_accuracy",
    "hamming_loss",
    "example_accuracy",
    "example_precision",
    "example_recall",
    "example_f1",
    "micro_precision",
    "micro_recall",
    "micro_f1",
    "macro_precision",
    "macro_recall",
    "macro_f1",
)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, 0 where den is 0 (the micro/macro convention)."""
    out = np.zeros(num.shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


class MultiLabelMetrics:
    """Running multi-label metrics of a stream of (truth, prediction) bool vectors.

    Parameters
    ----------
    labels
        The label names, in the order of the vectors' columns, or just their count L. Names
        label the rows of :meth:`per_label` and :meth:`report`.
    both_empty_score
        Example-based score of an instance whose truth and prediction are both empty. 1 (a perfect
        prediction, our default) or 0 (river's ``SampleAverage``).

    Attributes
    ----------
    n_labels
        L, the length of every truth and prediction vector.
    label_names
        The names given, or None when only a count was.
    n
        Number of instances scored.
    n_exact
        Instances whose prediction equals the truth.
    n_both_empty
        Instances with empty truth and empty prediction.
    hamming_errors
        ``Σ |Ŷ Δ Y|`` over all instances.

    Examples
    --------
    A batch update equals the same rows fed one at a time:

    >>> import numpy as np
    >>> Y = np.array([[1, 0, 1], [0, 1, 0]], dtype=bool)
    >>> P = np.array([[1, 0, 0], [0, 1, 1]], dtype=bool)
    >>> batch, single = MultiLabelMetrics(3), MultiLabelMetrics(3)
    >>> batch.update(Y, P)
    >>> for y, p in zip(Y, P):
    ...     single.update(y, p)
    >>> batch.get() == single.get()
    True
    >>> round(batch.get()["micro_f1"], 4)
    0.6667
    """

    def __init__(self, labels: int | Sequence[Hashable], both_empty_score: float = 1.0) -> None:
        self.label_names = _label_names(labels)
        n_labels = len(self.label_names) if self.label_names is not None else labels
        if n_labels < 1:
            raise ValueError(f"n_labels must be >= 1, got {n_labels}")
        self.n_labels = int(n_labels)
        self.both_empty_score = float(both_empty_score)
        self.reset()

    def reset(self) -> None:
        """Forget every instance, e.g. at the start of a new evaluation window."""
        self.n = 0
        self.n_exact = 0
        self.n_both_empty = 0
        self.hamming_errors = 0
        self._tp = np.zeros(self.n_labels, dtype=np.int64)
        self._n_true = np.zeros(self.n_labels, dtype=np.int64)
        self._n_pred = np.zeros(self.n_labels, dtype=np.int64)
        # Σ over instances of Jaccard, precision, recall and F1, both-empty instances excluded
        # (they are added from n_both_empty in get(), so both_empty_score is applied once).
        self._sums = [0.0, 0.0, 0.0, 0.0]

    def copy(self) -> MultiLabelMetrics:
        """An independent copy, e.g. to snapshot a running window."""
        other = MultiLabelMetrics.__new__(MultiLabelMetrics)
        other.__dict__.update(self.__dict__)
        other._tp = self._tp.copy()
        other._n_true = self._n_true.copy()
        other._n_pred = self._n_pred.copy()
        other._sums = list(self._sums)
        return other

    def get_state(self) -> dict:
        """The counters, as plain values and arrays (:mod:`streamlabels.state` stores them): a
        restored copy continues bit for bit, so a resumed run scores as an uninterrupted one."""
        return {
            "n_labels": self.n_labels, "label_names": self.label_names,
            "both_empty_score": self.both_empty_score, "n": self.n,
            "n_exact": self.n_exact, "n_both_empty": self.n_both_empty,
            "hamming_errors": self.hamming_errors, "tp": self._tp.copy(),
            "n_true": self._n_true.copy(), "n_pred": self._n_pred.copy(),
            "sums": list(self._sums),
        }

    @classmethod
    def from_state(cls, state: dict) -> MultiLabelMetrics:
        """Metrics restored from :meth:`get_state`'s output.

        >>> m = MultiLabelMetrics(2)
        >>> m.update(np.array([True, False]), np.array([True, True]))
        >>> MultiLabelMetrics.from_state(m.get_state()).get() == m.get()
        True
        """
        names = state.get("label_names")  # absent from counts saved before names were kept
        if names is not None and len(names) != state["n_labels"]:
            raise ValueError(f"{len(names)} label names for {state['n_labels']} labels")
        metrics = cls(state["n_labels"] if names is None else names, state["both_empty_score"])
        for name in ("n", "n_exact", "n_both_empty", "hamming_errors"):
            setattr(metrics, name, int(state[name]))
        for name in ("tp", "n_true", "n_pred"):
            counts = np.asarray(state[name], dtype=np.int64)
            if counts.shape != (metrics.n_labels,):
                raise ValueError(
                    f"{name} holds {counts.shape} counts for {metrics.n_labels} labels"
                )
            setattr(metrics, f"_{name}", counts.copy())
        metrics._sums = [float(v) for v in state["sums"]]
        return metrics

    @property
    def tp(self) -> np.ndarray:
        """Per-label true positives (int64, shape (L,))."""
        return self._tp.copy()

    @property
    def fp(self) -> np.ndarray:
        """Per-label false positives (int64, shape (L,))."""
        return self._n_pred - self._tp

    @property
    def fn(self) -> np.ndarray:
        """Per-label false negatives (int64, shape (L,))."""
        return self._n_true - self._tp

    def update(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        """Score one instance (bool arrays of shape (L,)) or a batch (shape (n, L))."""
        y_true, y_pred = _paired(y_true, y_pred, np.bool_, self.n_labels, "y_pred")
        if y_true.ndim == 2:
            self._update_many(y_true, y_pred)
            return
        t = int(np.count_nonzero(y_true))
        p = int(np.count_nonzero(y_pred))
        a = 0
        # Empty vectors (most truths and predictions on sparse label sets) skip their array adds.
        if t:
            self._n_true += y_true
        if p:
            self._n_pred += y_pred
        if t and p:
            inter = y_true & y_pred
            a = int(np.count_nonzero(inter))
            if a:
                self._tp += inter
        self.n += 1
        self.hamming_errors += t + p - 2 * a
        if a == t == p:
            self.n_exact += 1
            if t == 0:
                self.n_both_empty += 1
                return
        if a:
            s = self._sums
            s[0] += a / (t + p - a)
            s[1] += a / p
            s[2] += a / t
            s[3] += 2 * a / (t + p)

    def _update_many(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        inter = y_true & y_pred
        self._tp += inter.sum(axis=0)
        self._n_true += y_true.sum(axis=0)
        self._n_pred += y_pred.sum(axis=0)
        a = inter.sum(axis=1)
        t = y_true.sum(axis=1)
        p = y_pred.sum(axis=1)
        exact = (a == t) & (a == p)
        self.n += len(a)
        self.n_exact += int(exact.sum())
        self.n_both_empty += int((exact & (t == 0)).sum())
        self.hamming_errors += int((t + p - 2 * a).sum())
        hit = a > 0
        a, t, p = a[hit].astype(np.float64), t[hit], p[hit]
        rows = np.empty((len(a) + 1, 4))
        rows[0] = self._sums
        rows[1:, 0] = a / (t + p - a)
        rows[1:, 1] = a / p
        rows[1:, 2] = a / t
        rows[1:, 3] = 2 * a / (t + p)
        # add.accumulate sums strictly left to right, as the single-instance path does, so a batch
        # update gives bit-identical results to the same rows fed one by one.
        self._sums = np.add.accumulate(rows, axis=0)[-1].tolist()

    def get(self) -> dict[str, float]:
        """Every metric (keys as in the module table), computed from the counters."""
        if self.n == 0:
            return dict.fromkeys(_KEYS, 0.0)
        n = self.n
        tp = self._tp
        fp = self._n_pred - tp
        fn = self._n_true - tp
        empty = self.n_both_empty * self.both_empty_score
        ex = [(s + empty) / n for s in self._sums]
        stp, sfp, sfn = int(tp.sum()), int(fp.sum()), int(fn.sum())
        return {
            "subset_accuracy": self.n_exact / n,
            "hamming_loss": self.hamming_errors / (n * self.n_labels),
            "example_accuracy": ex[0],
            "example_precision": ex[1],
            "example_recall": ex[2],
            "example_f1": ex[3],
            "micro_precision": stp / (stp + sfp) if stp + sfp else 0.0,
            "micro_recall": stp / (stp + sfn) if stp + sfn else 0.0,
            "micro_f1": 2 * stp / (2 * stp + sfp + sfn) if stp else 0.0,
            "macro_precision": float(_ratio(tp, tp + fp).mean()),
            "macro_recall": float(_ratio(tp, tp + fn).mean()),
            "macro_f1": float(_ratio(2 * tp, 2 * tp + fp + fn).mean()),
        }

    def per_label(self, label_names: Sequence[str] | None = None) -> list[dict]:
        """One dict per label: label, support, tp, fp, fn, precision, recall, f1 (0 on 0/0).

        ``label_names`` defaults to the names the metrics were built with, else the indices.
        """
        names = label_names if label_names is not None else self.label_names
        names = list(range(self.n_labels)) if names is None else list(names)
        if len(names) != self.n_labels:
            raise ValueError(f"got {len(names)} label names for {self.n_labels} labels")
        tp = self._tp
        fp = self._n_pred - tp
        fn = self._n_true - tp
        prec = _ratio(tp, tp + fp)
        rec = _ratio(tp, tp + fn)
        f1 = _ratio(2 * tp, 2 * tp + fp + fn)
        return [
            {
                "label": names[i],
                "support": int(tp[i] + fn[i]),
                "tp": int(tp[i]),
                "fp": int(fp[i]),
                "fn": int(fn[i]),
                "precision": float(prec[i]),
                "recall": float(rec[i]),
                "f1": float(f1[i]),
            }
            for i in range(self.n_labels)
        ]

    def report(self, label_names: Sequence[str] | None = None, digits: int = 4) -> str:
        """A text table like sklearn's ``classification_report``, plus the instance metrics.

        Examples
        --------
        >>> import numpy as np
        >>> m = MultiLabelMetrics(2)
        >>> m.update(np.array([[1, 0], [1, 1]], dtype=bool), np.array([[1, 0], [0, 1]], dtype=bool))
        >>> print(m.report(["spam", "ham"], digits=2))
                     precision    recall  f1-score   support
        <BLANKLINE>
                spam       1.00      0.50      0.67         2
                 ham       1.00      1.00      1.00         1
        <BLANKLINE>
           micro avg       1.00      0.67      0.80         3
           macro avg       1.00      0.75      0.83         3
         samples avg       1.00      0.75      0.83         3
        <BLANKLINE>
        subset accuracy 0.50   hamming loss 0.25   example accuracy 0.75   instances 2
        """
        rows = self.per_label(label_names)
        s = self.get()
        support = int(self._n_true.sum())
        body = [(str(r["label"]), r["precision"], r["recall"], r["f1"], r["support"]) for r in rows]
        avgs = [
            (f"{k} avg", s[f"{p}_precision"], s[f"{p}_recall"], s[f"{p}_f1"], support)
            for k, p in (("micro", "micro"), ("macro", "macro"), ("samples", "example"))
        ]
        width = max(len(name) for name, *_ in body + avgs)
        col = max(digits + 5, 9)
        header = " " * width + "".join(f"{h:>{col + 1}}" for h in ("precision", "recall"))
        header += f"{'f1-score':>{col + 1}}{'support':>{col + 1}}"

        def line(name: str, prec: float, rec: float, f1: float, sup: int) -> str:
            nums = "".join(f"{v:>{col + 1}.{digits}f}" for v in (prec, rec, f1))
            return f"{name:>{width}}{nums}{sup:>{col + 1}}"

        footer = (
            f"subset accuracy {s['subset_accuracy']:.{digits}f}   "
            f"hamming loss {s['hamming_loss']:.{digits}f}   "
            f"example accuracy {s['example_accuracy']:.{digits}f}   instances {self.n}"
        )
        lines = [header, "", *(line(*r) for r in body), "", *(line(*r) for r in avgs), "", footer]
        return "\n".join(lines)

    def __repr__(self) -> str:
        s = self.get()
        return (
            f"MultiLabelMetrics(n={self.n}, subset_accuracy={s['subset_accuracy']:.4f}, "
            f"hamming_loss={s['hamming_loss']:.4f}, micro_f1={s['micro_f1']:.4f}, "
            f"macro_f1={s['macro_f1']:.4f})"
        )


def _label_names(labels) -> list | None:
    """The names in ``labels``, or None when it is a count."""
    if isinstance(labels, (int, np.integer)):
        return None
    if isinstance(labels, (str, bytes)):
        raise TypeError(f"labels must be a count or a sequence of names, got the string {labels!r}")
    names = list(labels)
    if len(set(names)) != len(names):
        raise ValueError(f"label names must be distinct, got {names}")
    return names


_RANKING_KEYS = ("one_error", "coverage", "ranking_loss", "average_precision")


class RankingMetrics:
    """Running label-ranking metrics of a stream of (truth, scores) rows: how well a model's
    scores order the true labels before the others, whatever threshold cuts them.

    ================= =============================================== ==========================
    key               per row (Y the true labels, s the scores)        sklearn
    ================= =============================================== ==========================
    one_error         1 when a top-scored label is not in Y            (none)
    coverage          #{k : s_k >= min_{j in Y} s_j}                   ``coverage_error``
    ranking_loss      share of (true, false) pairs with s_false >=     ``label_ranking_loss``
                      s_true
    average_precision mean over j in Y of #{k in Y : s_k >= s_j} /     ``label_ranking_average_``
                      #{k : s_k >= s_j}                                ``precision_score``
    ================= =============================================== ==========================

    Each is the mean of its per-row value over every row. Ties count against the model, as in
    sklearn (a false label scored as high as a true one is ranked above it); one-error follows
    suit: a row errs when any label sharing the top score is false. Rows where the ranking
    cannot matter are sklearn's: with no true label, coverage, ranking loss and one-error are 0
    and average precision is 1; with every label true, ranking loss is 0 and average precision 1.

    A batch update equals the same rows fed one at a time, bit for bit (as
    :class:`MultiLabelMetrics`), so a resumed run adds up to the uninterrupted one.

    >>> import numpy as np
    >>> m = RankingMetrics(3)
    >>> m.update(np.array([[1, 0, 0], [0, 0, 1]], dtype=bool),
    ...          np.array([[0.75, 0.5, 1.0], [1.0, 0.2, 0.1]]))
    >>> m.get()
    {'one_error': 1.0, 'coverage': 2.5, 'ranking_loss': 0.75, 'average_precision': 0.41666...}
    """

    def __init__(self, n_labels: int) -> None:
        if n_labels < 1:
            raise ValueError(f"n_labels must be >= 1, got {n_labels}")
        self.n_labels = int(n_labels)
        self.n = 0
        self._sums = [0.0, 0.0, 0.0, 0.0]  # Σ of the per-row values, in _RANKING_KEYS order

    def update(self, y_true: np.ndarray, scores: np.ndarray) -> None:
        """Score one row (shapes (L,)) or a batch (shapes (n, L))."""
        y_true, scores = _paired(y_true, scores, np.float64, self.n_labels, "scores")
        if not np.isfinite(scores).all():
            raise ValueError("scores must be finite to be ranked")
        rows = np.empty((len(np.atleast_2d(y_true)) + 1, 4))
        rows[0] = self._sums
        rows[1:] = _ranking_rows(np.atleast_2d(y_true), np.atleast_2d(scores))
        # left-to-right sums, so that batches and single rows give identical totals
        self._sums = np.add.accumulate(rows, axis=0)[-1].tolist()
        self.n += len(rows) - 1

    def get(self) -> dict[str, float]:
        """Every ranking metric (0 before the first row)."""
        if self.n == 0:
            return dict.fromkeys(_RANKING_KEYS, 0.0)
        return {key: total / self.n for key, total in zip(_RANKING_KEYS, self._sums)}

    def get_state(self) -> dict:
        """The counters, as plain values: a restored copy continues bit for bit."""
        return {"n_labels": self.n_labels, "n": self.n, "sums": list(self._sums)}

    @classmethod
    def from_state(cls, state: dict) -> RankingMetrics:
        """Metrics restored from :meth:`get_state`'s output."""
        metrics = cls(state["n_labels"])
        metrics.n = int(state["n"])
        metrics._sums = [float(v) for v in state["sums"]]
        return metrics


def _ranking_rows(Y: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Per-row one-error, coverage, ranking loss and average precision (n, 4)."""
    n_labels = Y.shape[1]
    n_true = Y.sum(axis=1)
    # at_or_above[i, j] = #{k : S[i, k] >= S[i, j]}; among the true labels only, the false
    # ones pushed below everything
    at_or_above = scipy.stats.rankdata(-S, method="max", axis=1)
    true_above = scipy.stats.rankdata(np.where(Y, -S, np.inf), method="max", axis=1)
    false_above = np.where(Y, at_or_above - true_above, 0).sum(axis=1)
    out = np.zeros((Y.shape[0], 4))
    some = n_true > 0
    top = S.max(axis=1, keepdims=True)
    out[:, 0] = some & ((S == top) & ~Y).any(axis=1)
    out[:, 1] = np.where(Y, at_or_above, 0).max(axis=1)
    mixed = some & (n_true < n_labels)
    pairs = np.where(mixed, n_true * (n_labels - n_true), 1)
    out[:, 2] = np.where(mixed, false_above / pairs, 0.0)
    precision = np.where(Y, true_above / at_or_above, 0.0).sum(axis=1)
    out[:, 3] = np.where(mixed, precision / np.maximum(n_true, 1), 1.0)
    return out


_CALIBRATION_KEYS = ("brier", "ece")


class CalibrationMetrics:
    """Running calibration of a stream of (truth, P(True)) rows: whether a label given
    probability p is true a share p of the time.

    ========= =================================================================================
    key       definition (N = n L probabilities p with truths y, over n rows and L labels)
    ========= =================================================================================
    ``brier`` ``Σ (p - y)² / N``: the mean squared error of every (row, label) probability
              (sklearn's ``brier_score_loss`` of the flattened arrays)
    ``ece``   expected calibration error over ``n_bins`` (default 10) equal-width bins of p:
              ``Σ_b (N_b / N) |mean p in b - share of y true in b|``, that is
              ``Σ_b |Σ_{p in b} p - #{y true in b}| / N``; empty bins add 0
    ========= =================================================================================

    Every label of every row counts once (the bins pool all labels, as a multi-label reliability
    diagram does). Bin b holds ``b / n_bins <= p < (b + 1) / n_bins``, found as
    ``floor(p n_bins)``; the last bin also holds p = 1. Both are losses: 0 is perfect. A model that
    answers 0/1 probabilities (``prev-ls``, ``majority-ls``) has a Brier score equal to its
    Hamming loss, and so is its ECE (bin 0 misses its true labels, the last bin its false ones).

    The memory is O(``n_bins``): per bin a count, a sum of p and a count of true labels, and one
    running sum of squared errors, never the probabilities themselves. Sums run strictly left to
    right, one (row, label) at a time, so a batch update equals the same rows fed one at a time
    bit for bit, and a resumed run adds up to the uninterrupted one.

    Probabilities must be finite and within [0, 1]; values at most ``1e-9`` outside (rounding in
    a mix of probabilities) are clipped to it.

    >>> import numpy as np
    >>> m = CalibrationMetrics(2)
    >>> m.update(np.array([[1, 0], [1, 1]], dtype=bool), np.array([[0.75, 0.25], [0.75, 0.5]]))
    >>> m.get()
    {'brier': 0.109375, 'ece': 0.3125}
    >>> [(row["bin"], row["count"], row["mean_proba"], row["fraction_positive"])
    ...  for row in m.reliability() if row["count"]]
    [('[0.2, 0.3)', 1, 0.25, 0.0), ('[0.5, 0.6)', 1, 0.5, 1.0), ('[0.7, 0.8)', 2, 0.75, 1.0)]
    """

    def __init__(self, n_labels: int, n_bins: int = 10) -> None:
        if n_labels < 1:
            raise ValueError(f"n_labels must be >= 1, got {n_labels}")
        if n_bins < 1:
            raise ValueError(f"n_bins must be >= 1, got {n_bins}")
        self.n_labels = int(n_labels)
        self.n_bins = int(n_bins)
        self.n = 0
        self._squared = 0.0  # Σ (p - y)²
        self._count = np.zeros(self.n_bins, dtype=np.int64)
        self._proba = np.zeros(self.n_bins)  # Σ p per bin
        self._positive = np.zeros(self.n_bins, dtype=np.int64)

    def update(self, y_true: np.ndarray, proba: np.ndarray) -> None:
        """Score one row (shapes (L,)) or a batch (shapes (n, L)) of P(True)."""
        y_true, proba = _paired(y_true, proba, np.float64, self.n_labels, "proba")
        y, p = y_true.ravel(), proba.ravel()
        if not np.isfinite(p).all():
            raise ValueError("probabilities must be finite to be calibrated")
        if p.size and (p.min() < -1e-9 or p.max() > 1 + 1e-9):
            bad = float(p[(p < -1e-9) | (p > 1 + 1e-9)][0])
            raise ValueError(f"probabilities must lie within [0, 1], got {bad!r}")
        p = np.clip(p, 0.0, 1.0)
        bins = np.minimum((p * self.n_bins).astype(np.int64), self.n_bins - 1)
        # The running totals go first, so each sum continues left to right from them: bincount
        # and add.accumulate both add in order, whatever the batch.
        first = np.arange(self.n_bins)
        self._proba = np.bincount(np.concatenate([first, bins]),
                                  np.concatenate([self._proba, p]), minlength=self.n_bins)
        self._count += np.bincount(bins, minlength=self.n_bins)
        self._positive += np.bincount(bins[y], minlength=self.n_bins)
        errors = np.concatenate([[self._squared], np.square(p - y)])
        self._squared = float(np.add.accumulate(errors)[-1])
        self.n += len(np.atleast_2d(y_true))

    def get(self) -> dict[str, float]:
        """The Brier score and the ECE (0 before the first row)."""
        if self.n == 0:
            return dict.fromkeys(_CALIBRATION_KEYS, 0.0)
        total = self.n * self.n_labels
        gap = np.abs(self._proba - self._positive).sum()
        return {"brier": self._squared / total, "ece": float(gap) / total}

    def reliability(self) -> list[dict]:
        """One dict per bin, the points of a reliability diagram: bin, lower, upper, count,
        mean_proba and fraction_positive (both None for an empty bin)."""
        rows = []
        for b in range(self.n_bins):
            count = int(self._count[b])
            lower, upper = b / self.n_bins, (b + 1) / self.n_bins
            rows.append({
                "bin": f"[{lower:g}, {upper:g}{']' if b == self.n_bins - 1 else ')'}",
                "lower": lower, "upper": upper, "count": count,
                "mean_proba": float(self._proba[b] / count) if count else None,
                "fraction_positive": float(self._positive[b] / count) if count else None,
            })
        return rows

    def get_state(self) -> dict:
        """The counters, as plain values and arrays: a restored copy continues bit for bit."""
        return {
            "n_labels": self.n_labels, "n_bins": self.n_bins, "n": self.n,
            "squared": self._squared, "count": self._count.copy(),
            "proba": self._proba.copy(), "positive": self._positive.copy(),
        }

    @classmethod
    def from_state(cls, state: dict) -> CalibrationMetrics:
        """Metrics restored from :meth:`get_state`'s output.

        >>> m = CalibrationMetrics(2)
        >>> m.update(np.array([True, False]), np.array([0.9, 0.3]))
        >>> CalibrationMetrics.from_state(m.get_state()).get() == m.get()
        True
        """
        metrics = cls(state["n_labels"], state["n_bins"])
        metrics.n = int(state["n"])
        metrics._squared = float(state["squared"])
        for name, dtype in (("count", np.int64), ("proba", np.float64), ("positive", np.int64)):
            values = np.asarray(state[name], dtype=dtype)
            if values.shape != (metrics.n_bins,):
                raise ValueError(f"{name} holds {values.shape} values for {metrics.n_bins} bins")
            setattr(metrics, f"_{name}", values.copy())
        return metrics
