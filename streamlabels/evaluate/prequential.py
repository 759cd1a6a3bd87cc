"""Prequential (test-then-train) evaluation over a whole stream.

Every instance is first predicted, the prediction is scored, and only then does the model learn
from it. There is no warm-up exclusion: a cold model's empty predictions count. The runner keeps a
windowed metric history for plots, measures instances per second and the process's peak memory,
and can show a live progress bar.

A model with ``predict_learn_many`` (IHOMER) gets each window as one batch: the same predictions
and the same model as the loop of ``predict_one`` then ``learn_one``, without its per-instance
Python overhead (``score_learn_many`` when the ranking or calibration metrics need the scores too).

Calibration (Brier score, ECE: :class:`~streamlabels.evaluate.metrics.CalibrationMetrics`) is
scored by default for a model that gives each prediction's scores in the same pass
(``score_learn_many`` or ``score_one``, i.e. iHOMER): there it costs no model work, and a replay
of tmc2007-500 runs as fast with it as without (benchmarks/README.md, "Calibration"). Other models
answer ``predict_proba_one`` in a second pass per instance, and a batched model without
``score_learn_many`` (the scikit-multiflow peers) would lose its batched path, so they are
calibrated only when asked (``calibration=True``, ``replay --calibration``).
"""

from __future__ import annotations

import itertools
import resource
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from streamlabels.evaluate.metrics import CalibrationMetrics, MultiLabelMetrics, RankingMetrics
from streamlabels.vocabulary import dicts_to_csr

__all__ = ["PrequentialResult", "prequential"]


@dataclass
class PrequentialResult:
    """What a prequential run measured."""

    n_instances: int
    seconds: float
    metrics: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    peak_memory_mb: float = 0.0
    per_label: list[dict] = field(default_factory=list)
    resumed_from: int = 0
    counts: dict = field(default_factory=dict, repr=False)
    """The running metrics' counters (``MultiLabelMetrics.get_state`` under ``"metrics"``,
    ``RankingMetrics.get_state`` under ``"ranking"`` and ``CalibrationMetrics.get_state`` under
    ``"calibration"``): ``prequential(..., resume=counts)`` goes on from them."""
    reliability: list[dict] = field(default_factory=list)
    """``CalibrationMetrics.reliability()`` of the whole run (empty when not calibrated)."""

    @property
    def instances_per_second(self) -> float:
        return self.n_instances / self.seconds if self.seconds > 0 else float("inf")

    @property
    def steady_instances_per_second(self) -> float | None:
        """Speed after the first history window, which alone pays one-time costs (numba
        compilation or cache loading); None with fewer than two windows."""
        if len(self.history) < 2:
            return None
        first, last = self.history[0], self.history[-1]
        seconds = last["seconds"] - first["seconds"]
        return (last["n"] - first["n"]) / seconds if seconds > 0 else float("inf")

    @property
    def warmup_seconds(self) -> float | None:
        """The first window's time beyond what its rows take at the steady speed."""
        steady = self.steady_instances_per_second
        if steady is None:
            return None
        first = self.history[0]
        return max(first["seconds"] - first["n"] / steady, 0.0)

    def to_dict(self) -> dict:
        return {
            "n_instances": self.n_instances,
            "seconds": self.seconds,
            "instances_per_second": self.instances_per_second,
            "steady_instances_per_second": self.steady_instances_per_second,
            "warmup_seconds": self.warmup_seconds,
            "peak_memory_mb": self.peak_memory_mb,
            "metrics": self.metrics,
            "history": self.history,
            "per_label": self.per_label,
            "resumed_from": self.resumed_from,
            "reliability": self.reliability,
        }


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def prequential(
    stream: Iterable[tuple[dict, dict]],
    model,
    label_names: Sequence,
    *,
    n: int | None = None,
    window: int = 500,
    on_window: Callable[[dict[str, float]], None] | None = None,
    ranking: bool = False,
    calibration: bool | None = None,
    resume: dict | None = None,
) -> PrequentialResult:
    """Test-then-train ``model`` on ``stream``, scoring every instance.

    Parameters
    ----------
    stream
        Pairs ``(x, y)``; ``y`` maps labels to bools (labels it omits count as negative). A
        stream with ``batches(size)``, ``feature_names`` and ``label_names`` (an ARFF file, an
        in-memory stream) feeds a batched model its arrays directly.
    model
        Any river multi-label classifier (``predict_one`` then ``learn_one``). A model with
        ``predict_learn_many`` whose ``labels`` are ``label_names`` runs window by window.
    label_names
        The labels to score, in report order.
    n
        Stop after this many instances of the stream (default: the whole stream), counting
        those a resumed run skips.
    window
        Instances per point of the metric history.
    on_window
        Called with each history point as it is made (progress displays use it).
    ranking
        Also score how the model's scores rank the labels
        (:class:`~streamlabels.evaluate.metrics.RankingMetrics`), from ``score_one`` (IHOMER,
        window by window through ``score_learn_many``) or ``predict_proba_one``.
    calibration
        Score the calibration of the model's P(True) (``brier``, ``ece``:
        :class:`~streamlabels.evaluate.metrics.CalibrationMetrics`), from the same scores as
        ``ranking``. None (default): when the model gives its scores with its predictions
        (``score_learn_many`` or ``score_one`` over ``label_names``), or, resuming, when the
        counts hold them. True: for any model, through ``predict_proba_one`` where it must (a
        second pass per instance; a label missing from its answer has P(True) 0, and a model
        answering 0/1, as ``prev-ls`` and ``majority-ls`` do, is scored on those). False: never.
    resume
        The ``counts`` of an earlier result whose model is ``model``: the stream's first
        ``counts`` instances are skipped (that model has learned them) and the metrics go on
        from those counts, so the final metrics are those of one uninterrupted run.

    Examples
    --------
    >>> from streamlabels.peers.baselines import PreviousLabelSet
    >>> stream = [({}, {"a": True, "b": False})] * 3 + [({}, {"a": False, "b": True})]
    >>> result = prequential(stream, PreviousLabelSet(), ["a", "b"], window=2)
    >>> result.n_instances, result.metrics["subset_accuracy"]
    (4, 0.5)
    >>> [point["n"] for point in result.history]
    [2, 4]
    >>> result.steady_instances_per_second > 0, result.warmup_seconds >= 0
    (True, True)
    """
    labels = list(label_names)
    if calibration is None:
        calibration = _gives_scores(model, labels) if resume is None else "calibration" in resume
    total, ranks, calibrated = _totals(len(labels), ranking, calibration, resume)
    skip = total.n
    history: list[dict[str, float]] = []
    scores_needed = ranking or calibration
    method = "score_learn_many" if scores_needed else "predict_learn_many"
    batched = hasattr(model, method) and _labels_of(model) == labels
    if batched and hasattr(stream, "batches"):
        windows = _array_windows(stream, model, labels, window, skip, n, scores_needed)
    else:
        stream = itertools.islice(stream, skip, n)
        windows = _dict_windows(stream, model, labels, window, batched, scores_needed)
    count = 0
    start = time.perf_counter()
    # Each window is scored in one batch update: the same counts as one update per instance
    # (MultiLabelMetrics guarantees it), far cheaper.
    for truths, guesses, scores in windows:
        count += len(truths)
        recent = MultiLabelMetrics(len(labels))
        recent.update(truths, guesses)
        total.update(truths, guesses)
        point = _history_point(count, time.perf_counter() - start, recent, total)
        if ranks is not None:
            ranks.update(truths, scores)
            point.update(ranks.get())
        if calibrated is not None:
            calibrated.update(truths, scores)
            point.update(calibrated.get())
        point.update(_mean_weights(model))
        history.append(point)
        if on_window is not None:
            on_window(point)
    seconds = time.perf_counter() - start
    counts = {"metrics": total.get_state()}
    metrics = total.get()
    for extra, key in ((ranks, "ranking"), (calibrated, "calibration")):
        if extra is not None:
            counts[key] = extra.get_state()
            metrics.update(extra.get())
    return PrequentialResult(
        n_instances=count,
        seconds=seconds,
        metrics=metrics,
        history=history,
        peak_memory_mb=_peak_rss_mb(),
        per_label=total.per_label(labels),
        resumed_from=skip,
        counts=counts,
        reliability=[] if calibrated is None else calibrated.reliability(),
    )


def _gives_scores(model, labels: list) -> bool:
    """Whether ``model`` gives each prediction's scores in the prediction's own pass."""
    same_pass = hasattr(model, "score_learn_many") or hasattr(model, "score_one")
    return same_pass and _labels_of(model) == labels


def _totals(n_labels: int, ranking: bool, calibration: bool, resume: dict | None):
    """The running metrics: new, or restored from an earlier result's ``counts``."""
    if resume is None:
        return (MultiLabelMetrics(n_labels), RankingMetrics(n_labels) if ranking else None,
                CalibrationMetrics(n_labels) if calibration else None)
    total = MultiLabelMetrics.from_state(resume["metrics"])
    if total.n_labels != n_labels:
        raise ValueError(f"the counts to resume are of {total.n_labels} labels, not {n_labels}")
    if ranking != ("ranking" in resume):
        raise ValueError("resume with ranking metrics exactly when the counts hold them")
    ranks = RankingMetrics.from_state(resume["ranking"]) if ranking else None
    if ranks is not None and ranks.n != total.n:
        raise ValueError("the ranking counts and the metric counts cover different instances")
    if calibration != ("calibration" in resume):
        raise ValueError("resume with calibration metrics exactly when the counts hold them")
    calibrated = CalibrationMetrics.from_state(resume["calibration"]) if calibration else None
    if calibrated is not None and calibrated.n != total.n:
        raise ValueError("the calibration counts and the metric counts cover different instances")
    return total, ranks, calibrated


def _dict_windows(stream, model, labels, window, batched, scored):
    """(truths, predictions, scores or None) per window of a stream of dicts, test-then-train."""
    position = {label: i for i, label in enumerate(labels)}
    truths = np.zeros((window, len(labels)), dtype=bool)
    guesses = np.zeros((window, len(labels)), dtype=bool)
    scores = np.zeros((window, len(labels))) if scored else None
    pending: list[dict] = []  # the window's feature dicts, for a batched model
    columns: dict = {}
    count = 0
    score_one = getattr(model, "score_one", None) if _labels_of(model) == labels else None
    for x, y in stream:
        row = count % window
        for label, value in y.items():
            if value:
                truths[row, _column(position, label, count, "the stream")] = True
        if batched:
            pending.append(x)
        elif score_one is not None and scored:
            guesses[row], scores[row] = score_one(x)
            model.learn_one(x, y)
        else:
            for label, value in model.predict_one(x).items():
                if value:
                    guesses[row, _column(position, label, count, "the model")] = True
            if scored:  # river's models may leave out True (naive Bayes before a positive)
                for label, proba in model.predict_proba_one(x).items():
                    scores[row, _column(position, label, count, "the model")] = proba.get(True, 0.0)
            model.learn_one(x, y)
        count += 1
        if count % window == 0:
            yield _close(model, pending, columns, truths, guesses, scores, window)
    if count % window:
        yield _close(model, pending, columns, truths, guesses, scores, count % window)


def _column(position: dict, label, count: int, source: str) -> int:
    """The report column of ``label``; one outside the scored labels is an error that names it
    (a typo or a wrong label spec must not surface as a bare KeyError)."""
    column = position.get(label)
    if column is None:
        raise ValueError(
            f"instance {count + 1}: {source} gives label {label!r}, which is not among the "
            f"labels scored: {list(position)}"
        )
    return column


def _close(model, pending, columns, truths, guesses, scores, rows):
    """The window's arrays (after the batched model's turn), the buffers cleared for the next."""
    if pending:
        X = dicts_to_csr(pending, columns)
        if scores is None:
            guesses[:rows] = model.predict_learn_many(X, truths[:rows], list(columns))
        else:
            guesses[:rows], scores[:rows] = model.score_learn_many(X, truths[:rows], list(columns))
        pending.clear()
    out = truths[:rows].copy(), guesses[:rows].copy()
    out += (None if scores is None else scores[:rows].copy(),)
    truths[:rows] = False
    guesses[:rows] = False
    if scores is not None:
        scores[:rows] = 0.0
    return out


def _array_windows(stream, model, labels, window, skip, n, scored):
    """(truths, predictions, scores if ``scored`` else None) per window of a stream that gives
    array blocks, after its first ``skip`` rows."""
    names = list(stream.label_names)
    missing = [label for label in labels if label not in names]
    if missing:
        raise ValueError(f"labels {missing} are not among the stream's labels: {names}")
    order = [names.index(label) for label in labels]
    seen = 0  # rows of the stream read so far
    for X, Y in stream.batches(window):
        first = min(max(skip - seen, 0), Y.shape[0])
        last = Y.shape[0] if n is None else min(Y.shape[0], max(n - seen, 0))
        seen += Y.shape[0]
        if first < last:
            X, Y = X[first:last], np.ascontiguousarray(Y[first:last][:, order])
            if scored:
                yield Y, *model.score_learn_many(X, Y, stream.feature_names)
            else:
                yield Y, model.predict_learn_many(X, Y, stream.feature_names), None
        if n is not None and seen >= n:
            return


def _labels_of(model) -> list | None:
    labels = getattr(model, "labels", None)
    return None if labels is None else list(labels)


def _mean_weights(model) -> dict[str, float]:
    """A model's expert weights (``IHOMER.expert_weights``) averaged over its labels, as
    ``weight_<expert>``; nothing for a model without them."""
    weights = getattr(model, "expert_weights", None) or {}
    if not weights:
        return {}
    names = next(iter(weights.values()))
    return {
        f"weight_{name}": float(np.mean([per_label[name] for per_label in weights.values()]))
        for name in names
    }


def _history_point(count, seconds, recent, total) -> dict[str, float]:
    point = {"n": count, "seconds": seconds}
    point.update({f"window_{k}": v for k, v in recent.get().items()})
    point.update(total.get())
    return point
