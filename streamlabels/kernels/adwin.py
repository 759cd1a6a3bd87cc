"""ADWIN drift detectors as rows of plain arrays, compiled: one detector per row ``d``.

The same algorithm as :class:`streamlabels.drift.ADWIN` (and river 0.26.1's ADWIN), with the same
floating-point operations in the same order, so it reports the same detections, widths and
estimations; the tree keeps one detector per node row and swaps rows when it swaps subtrees.

State of detector ``d`` (see :func:`new_state`)::

    floats (n, 3): width, total, variance      ints (n, 4): tick, rows in use, detected, detections
    lengths (n, R): buckets in each row        totals, variances (n, R, max_buckets + 1)

Row ``r`` holds up to ``max_buckets`` buckets of ``2**r`` values, oldest first (one more for the
moment before two merge). ``R`` rows hold ``max_buckets * (2**R - 1)`` values; with the tree's
``R = 32`` and 5 buckets that is over 2e10 values, more than any stream a node will see between
two detections. Should the last row overflow anyway, its oldest bucket is dropped (the window
forgets its oldest values) instead of growing: memory stays fixed, and the detector only departs
from the reference once a window holds more than ``(max_buckets + 1) * 2**(R - 1)`` values.
"""

from __future__ import annotations

import math

import numpy as np

from streamlabels.kernels.jit import kernel

# floats
WIDTH = 0
TOTAL = 1
VARIANCE = 2
# ints
TICK = 0
N_ROWS = 1
DETECTED = 2
N_DETECTIONS = 3

ROWS = 32


def new_state(n: int, rows: int = ROWS, max_buckets: int = 5) -> tuple:
    """Arrays of ``n`` empty detectors."""
    ints = np.zeros((n, 4), dtype=np.int64)
    ints[:, N_ROWS] = 1
    return (np.zeros((n, 3)), ints, np.zeros((n, rows), dtype=np.int64),
            np.zeros((n, rows, max_buckets + 1)), np.zeros((n, rows, max_buckets + 1)))


@kernel
def reset(d, state):
    """Empty detector ``d`` (river's reset: one empty row, counters at 0)."""
    floats, ints, lengths = state[0], state[1], state[2]
    floats[d] = 0.0
    ints[d] = 0
    ints[d, N_ROWS] = 1
    lengths[d] = 0


@kernel(background=True)
def estimation(d, state):
    """Mean of the window; 0.0 when it is empty."""
    floats = state[0]
    if floats[d, WIDTH] == 0.0:
        return 0.0
    return floats[d, TOTAL] / floats[d, WIDTH]


@kernel
def _pop_front(d, r, count, lengths, totals, variances):
    """Drop the ``count`` oldest buckets of row ``r``."""
    n = lengths[d, r]
    for k in range(n - count):
        totals[d, r, k] = totals[d, r, k + count]
        variances[d, r, k] = variances[d, r, k + count]
    lengths[d, r] = n - count


@kernel
def _delete_oldest(d, state):
    floats, ints, lengths, totals, variances = state
    last = ints[d, N_ROWS] - 1
    n = float(1 << last)
    u = totals[d, last, 0]
    v = variances[d, last, 0]
    mu = u / n
    floats[d, WIDTH] -= n
    floats[d, TOTAL] -= u
    width = floats[d, WIDTH]
    mu_window = floats[d, TOTAL] / width
    floats[d, VARIANCE] -= v + n * width * (mu - mu_window) * (mu - mu_window) / (n + width)
    _pop_front(d, last, 1, lengths, totals, variances)
    if lengths[d, last] == 0:
        ints[d, N_ROWS] -= 1


@kernel
def _compress(d, state):
    ints, lengths, totals, variances = state[1], state[2], state[3], state[4]
    max_buckets = totals.shape[2] - 1
    i = 0
    while lengths[d, i] == max_buckets + 1:
        if i + 1 == totals.shape[1]:
            _delete_oldest(d, state)  # out of rows: forget the oldest bucket (module docstring)
            break
        size = float(1 << i)
        t0 = totals[d, i, 0]
        t1 = totals[d, i, 1]
        mu0 = t0 / size
        mu1 = t1 / size
        merged = variances[d, i, 0] + variances[d, i, 1] + size * 0.5 * (mu0 - mu1) * (mu0 - mu1)
        if i + 1 == ints[d, N_ROWS]:
            ints[d, N_ROWS] += 1
            lengths[d, i + 1] = 0
        k = lengths[d, i + 1]
        totals[d, i + 1, k] = t0 + t1
        variances[d, i + 1, k] = merged
        lengths[d, i + 1] = k + 1
        _pop_front(d, i, 2, lengths, totals, variances)
        if lengths[d, i + 1] <= max_buckets:
            break
        i += 1


@kernel
def _insert(d, value, state):
    floats, lengths, totals, variances = state[0], state[2], state[3], state[4]
    k = lengths[d, 0]
    totals[d, 0, k] = value
    variances[d, 0, k] = 0.0
    lengths[d, 0] = k + 1
    floats[d, WIDTH] += 1.0
    width = floats[d, WIDTH]
    increment = 0.0
    if width > 1.0:
        diff = value - floats[d, TOTAL] / (width - 1.0)
        increment = (width - 1.0) * diff * diff / width
    floats[d, VARIANCE] += increment
    floats[d, TOTAL] += value
    _compress(d, state)


@kernel
def _cut(n0, n1, delta_mean, width, variance, delta, min_length):
    delta_prime = math.log(2.0 * math.log(width) / delta)
    m_recip = 1.0 / (n0 - min_length + 1.0) + 1.0 / (n1 - min_length + 1.0)
    epsilon = (math.sqrt(2.0 * m_recip * (variance / width) * delta_prime)
               + 2.0 / 3.0 * delta_prime * m_recip)
    return abs(delta_mean) > epsilon


@kernel
def _detect(d, state, delta, clock, min_length, grace):
    floats, ints, lengths, totals = state[0], state[1], state[2], state[3]
    ints[d, TICK] += 1
    if ints[d, TICK] % clock != 0 or floats[d, WIDTH] <= grace:
        return False
    detected = False
    cut_again = True
    while cut_again:
        cut_again = False
        n0 = 0.0
        n1 = floats[d, WIDTH]
        u0 = 0.0
        u1 = floats[d, TOTAL]
        for i in range(ints[d, N_ROWS] - 1, -1, -1):
            size = float(1 << i)
            last = lengths[d, i] - 1
            for k in range(lengths[d, i]):
                total = totals[d, i, k]
                n0 += size
                n1 -= size
                u0 += total
                u1 -= total
                if i == 0 and k == last:
                    break
                if (n1 >= min_length and n0 >= min_length
                        and _cut(n0, n1, u0 / n0 - u1 / n1, floats[d, WIDTH],
                                 floats[d, VARIANCE], delta, min_length)):
                    cut_again = True
                    detected = True
                    break
            if cut_again:
                if floats[d, WIDTH] > 0:
                    _delete_oldest(d, state)
                break
    if detected:
        ints[d, N_DETECTIONS] += 1
    return detected


@kernel(background=True)
def update(d, x, state, delta, clock, min_length, grace):
    """Add ``x`` to detector ``d``; True when it detects a change (as ``ADWIN.update``).

    As in river, the update after a detection starts from an empty window.
    """
    ints = state[1]
    if ints[d, DETECTED]:
        reset(d, state)
    _insert(d, x, state)
    detected = _detect(d, state, delta, clock, min_length, grace)
    ints[d, DETECTED] = detected
    return detected


@kernel(background=True)
def update_many(d, xs, state, delta, clock, min_length, grace, detected, rose):
    """:func:`update` for each value of ``xs`` in turn, writing whether each detected a change
    into ``detected`` and whether the estimation rose with it into ``rose`` (the caller then
    looks only at the values that did). One value at a time (``learn_one``) calls it too, so it
    answers from Python while it compiles, as the one-row kernels do."""
    for i in range(xs.shape[0]):
        before = estimation(d, state)
        detected[i] = update(d, xs[i], state, delta, clock, min_length, grace)
        rose[i] = detected[i] and estimation(d, state) > before
