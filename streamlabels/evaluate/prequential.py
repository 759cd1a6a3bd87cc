"""Prequential (test-then-train) evaluation over a whole stream.

Every instance is first predicted, the prediction is scored, and only then does the model learn
from it. There is no warm-up exclusion: a cold model's empty predictions count. The runner keeps a
windowed metric history for plots, measures instances per second and the process's peak memory,
and can show a live progress bar.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from streamlabels.evaluate.metrics import MultiLabelMetrics

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

    @property
    def instances_per_second(self) -> float:
        return self.n_instances / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict:
        return {
            "n_instances": self.n_instances,
            "seconds": self.seconds,
            "instances_per_second": self.instances_per_second,
            "peak_memory_mb": self.peak_memory_mb,
            "metrics": self.metrics,
            "history": self.history,
            "per_label": self.per_label,
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
) -> PrequentialResult:
    """Test-then-train ``model`` on ``stream``, scoring every instance.

    Parameters
    ----------
    stream
        Pairs ``(x, y)``; ``y`` maps labels to bools (labels it omits count as negative).
    model
        Any river multi-label classifier (``predict_one`` then ``learn_one``).
    label_names
        The labels to score, in report order.
    n
        Stop after this many instances (default: the whole stream).
    window
        Instances per point of the metric history.
    on_window
        Called with each history point as it is made (progress displays use it).

    Examples
    --------
    >>> from streamlabels.baselines import PreviousLabelSet
    >>> stream = [({}, {"a": True, "b": False})] * 3 + [({}, {"a": False, "b": True})]
    >>> result = prequential(stream, PreviousLabelSet(), ["a", "b"], window=2)
    >>> result.n_instances, result.metrics["subset_accuracy"]
    (4, 0.5)
    >>> [point["n"] for point in result.history]
    [2, 4]
    """
    labels = list(label_names)
    position = {label: i for i, label in enumerate(labels)}
    n_labels = len(labels)
    total = MultiLabelMetrics(n_labels)
    history: list[dict[str, float]] = []
    # Truths and predictions of the current window are scored in one batch update when it closes:
    # the same counts as one update per instance (MultiLabelMetrics guarantees it), far cheaper.
    truths = np.zeros((window, n_labels), dtype=bool)
    guesses = np.zeros((window, n_labels), dtype=bool)

    def close_window(rows: int, seconds: float) -> dict[str, float]:
        recent = MultiLabelMetrics(n_labels)
        recent.update(truths[:rows], guesses[:rows])
        total.update(truths[:rows], guesses[:rows])
        truths[:rows] = False
        guesses[:rows] = False
        point = _history_point(count, seconds, recent, total)
        history.append(point)
        return point

    count = 0
    start = time.perf_counter()
    for x, y in stream:
        if n is not None and count >= n:
            break
        y_pred = model.predict_one(x)
        row = count % window
        for label, value in y.items():
            if value:
                truths[row, position[label]] = True
        for label, value in y_pred.items():
            if value:
                guesses[row, position[label]] = True
        model.learn_one(x, y)
        count += 1
        if count % window == 0:
            point = close_window(window, time.perf_counter() - start)
            if on_window is not None:
                on_window(point)
    seconds = time.perf_counter() - start
    if count % window:
        close_window(count % window, seconds)
    return PrequentialResult(
        n_instances=count,
        seconds=seconds,
        metrics=total.get(),
        history=history,
        peak_memory_mb=_peak_rss_mb(),
        per_label=total.per_label(labels),
    )


def _history_point(count, seconds, recent, total) -> dict[str, float]:
    point = {"n": count, "seconds": seconds}
    point.update({f"window_{k}": v for k, v in recent.get().items()})
    point.update(total.get())
    return point
