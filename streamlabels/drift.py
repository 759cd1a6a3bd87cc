"""Drift detection whose whole state is plain numbers and arrays, so a model can be checkpointed.

river's ``drift.ADWIN`` keeps its window in a compiled object that only pickle can save, and
checkpoints must not use pickle (:mod:`streamlabels.state`). :class:`ADWIN` here is a river
detector over one row of the compiled detectors of :mod:`streamlabels.kernels.adwin` (the ones
the Hoeffding tree keeps per node): the same algorithm with the same floating-point operations
in the same order as river 0.26.1, so it reports the same detections and estimations
(tests/test_drift.py checks this step by step), and its state is exported by
:meth:`ADWIN.get_state`.
"""

from __future__ import annotations

import numpy as np
from river import base

from streamlabels.kernels import adwin as kernel

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
        # floats (1, 3), ints (1, 4), lengths (1, R), totals and variances (1, R, max_buckets + 1)
        self._state = kernel.new_state(1, max_buckets=self.max_buckets)

    @property
    def width(self) -> float:
        """Number of values in the window (a float, as river reports it)."""
        return float(self._state[0][0, kernel.WIDTH])

    @property
    def n_detections(self) -> int:
        """Detections since the last reset (the update after a detection resets, as in river)."""
        return int(self._state[1][0, kernel.N_DETECTIONS])

    @property
    def variance(self) -> float:
        """Sum of squared deviations from the mean over the window (river's ``variance``)."""
        return float(self._state[0][0, kernel.VARIANCE])

    @property
    def total(self) -> float:
        """Sum of the values in the window."""
        return float(self._state[0][0, kernel.TOTAL])

    @property
    def estimation(self) -> float:
        """Mean of the window; 0.0 when it is empty."""
        return kernel.estimation(0, self._state)

    def update(self, x: float) -> None:
        """Add one value, then test the cuts when the clock says so."""
        self._drift_detected = kernel.update(
            0, float(x), self._state, self.delta, self.clock, self.min_window_length,
            self.grace_period,
        )

    def update_many(self, xs: np.ndarray) -> np.ndarray:
        """:meth:`update` with each value of ``xs`` in turn, in one compiled call; returns, per
        value, whether a change was detected there with the estimation risen (a detected fall
        is not flagged). ``drift_detected`` is then the last update's."""
        xs = np.ascontiguousarray(xs, dtype=np.float64)
        detected, rose = np.zeros(len(xs), dtype=bool), np.zeros(len(xs), dtype=bool)
        kernel.update_many(0, xs, self._state, self.delta, self.clock, self.min_window_length,
                           self.grace_period, detected, rose)
        if len(xs):
            self._drift_detected = bool(detected[-1])
        return rose

    # -- persistence ------------------------------------------------------------------------

    # river.checks.check_estimator reads these two from every estimator; river's DriftDetector
    # is a Base, not an Estimator, and lacks them.
    @property
    def _tags(self) -> set[str]:
        return set()

    def _unit_test_skips(self) -> set[str]:
        return set()

    def get_state(self) -> dict:
        """Parameters and window as plain numbers and arrays (for :mod:`streamlabels.state`)."""
        floats, ints, lengths, totals, variances = (a[0] for a in self._state)
        rows = int(ints[kernel.N_ROWS])
        return {
            "params": {
                "delta": self.delta,
                "clock": self.clock,
                "max_buckets": self.max_buckets,
                "min_window_length": self.min_window_length,
                "grace_period": self.grace_period,
            },
            "drift_detected": bool(self._drift_detected),
            "width": float(floats[kernel.WIDTH]),
            "total": float(floats[kernel.TOTAL]),
            "variance": float(floats[kernel.VARIANCE]),
            "tick": int(ints[kernel.TICK]),
            "n_detections": int(ints[kernel.N_DETECTIONS]),
            "row_lengths": lengths[:rows].copy(),
            "totals": np.concatenate([totals[r, : lengths[r]] for r in range(rows)]),
            "variances": np.concatenate([variances[r, : lengths[r]] for r in range(rows)]),
        }

    def set_state(self, state: dict) -> None:
        """Restore what :meth:`get_state` returned (parameters included)."""
        for name, value in state["params"].items():
            setattr(self, name, value)
        lengths = np.asarray(state["row_lengths"], dtype=np.int64)
        totals = np.asarray(state["totals"], dtype=np.float64)
        variances = np.asarray(state["variances"], dtype=np.float64)
        if lengths.ndim != 1 or not len(lengths) or lengths.min() < 0:
            raise ValueError("ADWIN state: row_lengths must be a non-empty array of counts >= 0")
        if int(lengths.sum()) != len(totals) or len(totals) != len(variances):
            raise ValueError("ADWIN state: row_lengths do not match the bucket arrays")
        if len(lengths) > kernel.ROWS or lengths.max() > self.max_buckets + 1:
            raise ValueError("ADWIN state: more bucket rows or buckets than a window holds")
        self._reset()
        self._drift_detected = bool(state["drift_detected"])
        floats, ints, row_lengths, row_totals, row_variances = (a[0] for a in self._state)
        floats[kernel.WIDTH] = float(state["width"])
        floats[kernel.TOTAL] = float(state["total"])
        floats[kernel.VARIANCE] = float(state["variance"])
        ints[kernel.TICK] = int(state["tick"])
        ints[kernel.N_DETECTIONS] = int(state["n_detections"])
        ints[kernel.DETECTED] = self._drift_detected
        ints[kernel.N_ROWS] = len(lengths)
        start = 0
        for r, n in enumerate(lengths.tolist()):
            row_lengths[r] = n
            row_totals[r, :n] = totals[start : start + n]
            row_variances[r, :n] = variances[start : start + n]
            start += n

    @classmethod
    def from_state(cls, state: dict) -> ADWIN:
        """A detector restored from :meth:`get_state`'s output."""
        detector = cls(**state["params"])
        detector.set_state(state)
        return detector
