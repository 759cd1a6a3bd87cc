"""Drift detection whose whole state is plain numbers and arrays, so a model can be checkpointed.

river's ``drift.ADWIN`` keeps its window in a compiled object that only pickle can save, and
checkpoints must not use pickle (:mod:`streamlabels.state`). :class:`ADWIN` here is the same
algorithm with the same floating-point operations in the same order, so it reports the same
detections and estimations as river 0.26.1 (tests/test_drift.py checks this step by step), and
its state is exported by :meth:`ADWIN.get_state`.
"""

from __future__ import annotations

import math

import numpy as np
from river import base

__all__ = ["ADWIN"]


class ADWIN(base.DriftDetector):
    """ADaptive WINdowing (Bifet and Gavaldà, 2007) on an exponential histogram, as river has it.

    The window is summarised by rows of buckets: row ``i`` holds up to ``max_buckets`` buckets of
    ``2**i`` values each (their total and their sum of squared deviations); when a row overflows,
    its two oldest buckets merge into one bucket of the next row. Every ``clock`` updates, once
    more than ``grace_period`` values are in, every cut of the window into an older part W0 and a
    newer part W1 (both at least ``min_window_length`` long) is tested; when the means differ by
    more than the cut threshold, the oldest bucket is dropped and a drift is reported. As in river,
    the update after a detection starts again from an empty window.

    Parameters
    ----------
    delta
        Significance of the cut test.
    clock
        Updates between two cut tests.
    max_buckets
        Buckets kept per row before the two oldest merge.
    min_window_length
        Least length of either side of a tested cut.
    grace_period
        Values needed in the window before any test.

    Examples
    --------
    The example of river's ADWIN, with the same answer:

    >>> import random
    >>> rng = random.Random(12345)
    >>> adwin = ADWIN()
    >>> data = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> for i, value in enumerate(data):
    ...     adwin.update(value)
    ...     if adwin.drift_detected:
    ...         print(f"Change detected at index {i}, input value: {value}")
    Change detected at index 1023, input value: 4
    >>> restored = ADWIN.from_state(adwin.get_state())
    >>> (restored.width, restored.estimation) == (adwin.width, adwin.estimation)
    True
    """

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ):
        super().__init__()
        self.delta = delta
        self.clock = clock
        self.max_buckets = max_buckets
        self.min_window_length = min_window_length
        self.grace_period = grace_period
        self._reset()

    def _reset(self) -> None:
        super()._reset()
        self._width = 0.0
        self._total = 0.0
        self._variance = 0.0
        self._tick = 0
        self._n_detections = 0
        # One [totals, variances] pair of lists per row, oldest bucket first in each list.
        self._rows: list[tuple[list[float], list[float]]] = [([], [])]

    @property
    def width(self) -> float:
        """Number of values in the window (a float, as river reports it)."""
        return self._width

    @property
    def n_detections(self) -> int:
        """Detections since the last reset (the update after a detection resets, as in river)."""
        return self._n_detections

    @property
    def variance(self) -> float:
        """Sum of squared deviations from the mean over the window (river's ``variance``)."""
        return self._variance

    @property
    def total(self) -> float:
        """Sum of the values in the window."""
        return self._total

    @property
    def estimation(self) -> float:
        """Mean of the window; 0.0 when it is empty."""
        if self._width == 0:
            return 0.0
        return self._total / self._width

    def update(self, x: float) -> None:
        """Add one value, then test the cuts when the clock says so."""
        if self._drift_detected:
            self._reset()
        self._insert(float(x))
        self._drift_detected = self._detect()

    def _insert(self, value: float) -> None:
        totals, variances = self._rows[0]
        totals.append(value)
        variances.append(0.0)
        self._width += 1.0
        increment = 0.0
        if self._width > 1.0:
            diff = value - self._total / (self._width - 1.0)
            increment = (self._width - 1.0) * diff * diff / self._width
        self._variance += increment
        self._total += value
        self._compress()

    def _compress(self) -> None:
        rows = self._rows
        i = 0
        while len(rows[i][0]) == self.max_buckets + 1:
            totals, variances = rows[i]
            size = float(1 << i)
            t0, t1 = totals[0], totals[1]
            mu0, mu1 = t0 / size, t1 / size
            merged_variance = variances[0] + variances[1] + size * 0.5 * (mu0 - mu1) * (mu0 - mu1)
            if i + 1 == len(rows):
                rows.append(([], []))
            rows[i + 1][0].append(t0 + t1)
            rows[i + 1][1].append(merged_variance)
            del totals[:2], variances[:2]
            if len(rows[i + 1][0]) <= self.max_buckets:
                break
            i += 1

    def _delete_oldest(self) -> None:
        last = len(self._rows) - 1
        totals, variances = self._rows[last]
        n = float(1 << last)
        u, v = totals[0], variances[0]
        mu = u / n
        self._width -= n
        self._total -= u
        mu_window = self._total / self._width
        self._variance -= v + n * self._width * (mu - mu_window) * (mu - mu_window) / (
            n + self._width
        )
        del totals[0], variances[0]
        if not totals:
            self._rows.pop()

    def _detect(self) -> bool:
        detected = False
        self._tick += 1
        if self._tick % self.clock != 0 or self._width <= self.grace_period:
            return False
        cut_again = True
        while cut_again:
            cut_again = False
            n0, n1 = 0.0, self._width
            u0, u1 = 0.0, self._total
            for i in range(len(self._rows) - 1, -1, -1):
                size = float(1 << i)
                totals = self._rows[i][0]
                last = len(totals) - 1
                for k, total in enumerate(totals):
                    n0 += size
                    n1 -= size
                    u0 += total
                    u1 -= total
                    if i == 0 and k == last:
                        break
                    if (
                        n1 >= self.min_window_length
                        and n0 >= self.min_window_length
                        and self._cut(n0, n1, u0 / n0 - u1 / n1)
                    ):
                        cut_again = detected = True
                        break
                if cut_again:
                    if self._width > 0:
                        self._delete_oldest()
                    break
        if detected:
            self._n_detections += 1
        return detected

    def _cut(self, n0: float, n1: float, delta_mean: float) -> bool:
        delta_prime = math.log(2.0 * math.log(self._width) / self.delta)
        m_recip = 1.0 / (n0 - self.min_window_length + 1.0) + 1.0 / (
            n1 - self.min_window_length + 1.0
        )
        epsilon = (
            math.sqrt(2.0 * m_recip * (self._variance / self._width) * delta_prime)
            + 2.0 / 3.0 * delta_prime * m_recip
        )
        return abs(delta_mean) > epsilon

    # -- persistence ------------------------------------------------------------------------

    def get_state(self) -> dict:
        """Parameters and window as plain numbers and arrays (for :mod:`streamlabels.state`)."""
        return {
            "params": {
                "delta": self.delta,
                "clock": self.clock,
                "max_buckets": self.max_buckets,
                "min_window_length": self.min_window_length,
                "grace_period": self.grace_period,
            },
            "drift_detected": bool(self._drift_detected),
            "width": self._width,
            "total": self._total,
            "variance": self._variance,
            "tick": self._tick,
            "n_detections": self._n_detections,
            "row_lengths": np.array([len(t) for t, _ in self._rows], dtype=np.int64),
            "totals": np.array([x for t, _ in self._rows for x in t], dtype=np.float64),
            "variances": np.array([x for _, v in self._rows for x in v], dtype=np.float64),
        }

    def set_state(self, state: dict) -> None:
        """Restore what :meth:`get_state` returned (parameters included)."""
        for name, value in state["params"].items():
            setattr(self, name, value)
        self._drift_detected = bool(state["drift_detected"])
        self._width = float(state["width"])
        self._total = float(state["total"])
        self._variance = float(state["variance"])
        self._tick = int(state["tick"])
        self._n_detections = int(state["n_detections"])
        lengths = np.asarray(state["row_lengths"], dtype=np.int64)
        totals = np.asarray(state["totals"], dtype=np.float64).tolist()
        variances = np.asarray(state["variances"], dtype=np.float64).tolist()
        if lengths.ndim != 1 or not len(lengths) or lengths.min() < 0:
            raise ValueError("ADWIN state: row_lengths must be a non-empty array of counts >= 0")
        if int(lengths.sum()) != len(totals) or len(totals) != len(variances):
            raise ValueError("ADWIN state: row_lengths do not match the bucket arrays")
        ends = np.cumsum(lengths).tolist()
        starts = [0, *ends[:-1]]
        self._rows = [(totals[a:b], variances[a:b]) for a, b in zip(starts, ends)]

    @classmethod
    def from_state(cls, state: dict) -> ADWIN:
        """A detector restored from :meth:`get_state`'s output."""
        detector = cls(**state["params"])
        detector.set_state(state)
        return detector
