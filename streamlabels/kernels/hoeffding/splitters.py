"""Gaussian split statistics of a leaf and the multivariate-Bernoulli split merit, compiled.

A leaf keeps, per feature, weighted Welford statistics ``(weight, mean, M2)`` of the feature's
*non-zero* values over all instances (``g_all``) and over the instances where output ``k`` is
positive (``g_pos``, one per output plus the "empty label set" indicator). Zeros are never stored:
their mass is the leaf's weight minus the non-zero weight, and it sits exactly at 0.0. So a sparse
row costs O(nnz * (|y| + 1)) to learn, a missing feature and an explicit 0.0 are the same thing,
and sparse binary features (all non-zeros equal) still get a split, between 0 and the non-zeros.

The merit of a split is the drop of the leaf's impurity, the sum over outputs of the binary
entropy of their positive rate (a multivariate Bernoulli under independence, docs/algorithm.md §2.2),
children weighted by their weight. Each output's class-conditional mass left of a threshold is
the exact zero mass plus a Gaussian estimate of the non-zero mass.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_SQRT2 = math.sqrt(2.0)


@njit(cache=True)
def welford_add(stats, x, w):
    """Add ``x`` with weight ``w`` to ``stats = (weight, mean, M2)`` in place."""
    n = stats[0] + w
    d = x - stats[1]
    stats[1] += d * w / n
    stats[2] += w * d * (x - stats[1])
    stats[0] = n


@njit(cache=True)
def binary_entropy(p):
    """Entropy in bits of a Bernoulli(p); 0 at p <= 0 or p >= 1."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -p * math.log2(p) - (1.0 - p) * math.log2(1.0 - p)


@njit(cache=True)
def impurity(counts, weight):
    """Sum of the binary entropies of every output's positive rate ``counts / weight``."""
    if weight <= 0.0:
        return 0.0
    total = 0.0
    for k in range(counts.shape[0]):
        total += binary_entropy(counts[k] / weight)
    return total


@njit(cache=True)
def _mass_below(weight, mean, m2, t):
    """Weight of a Gaussian ``(weight, mean, M2)`` at or below ``t`` (a point mass if var is 0)."""
    if weight <= 0.0:
        return 0.0
    var = m2 / (weight - 1.0) if weight > 1.0 else 0.0
    if var <= 1e-300:
        return weight if t >= mean else 0.0
    return weight * 0.5 * (1.0 + math.erf((t - mean) / (math.sqrt(var) * _SQRT2)))


@njit(cache=True)
def _children(all_stats, pos_stats, counts, weight, t, left_pos, left_tot):
    """Per output, the positive and total weight left of ``t`` (``x <= t`` goes left).

    The negatives' statistics are the leaf's minus the positives' (Chan's merge run backwards).
    Returns the total left weight by the feature's own statistics, used for the branch sizes.
    """
    zeros = max(weight - all_stats[0], 0.0)
    zeros_left = zeros if t >= 0.0 else 0.0
    for k in range(counts.shape[0]):
        wa = pos_stats[k, 0]
        ma = pos_stats[k, 1]
        wb = all_stats[0] - wa
        mb = 0.0
        m2b = 0.0
        if wb > 1e-9:
            mb = (all_stats[0] * all_stats[1] - wa * ma) / wb
            m2b = max(all_stats[2] - pos_stats[k, 2] - (ma - mb) ** 2 * wa * wb / all_stats[0], 0.0)
        else:
            wb = 0.0
        zeros_pos = min(max(counts[k] - wa, 0.0), zeros)
        below_t = 1.0 if t >= 0.0 else 0.0
        pos = zeros_pos * below_t + _mass_below(wa, ma, pos_stats[k, 2], t)
        neg = (zeros - zeros_pos) * below_t + _mass_below(wb, mb, m2b, t)
        left_pos[k] = pos
        left_tot[k] = pos + neg
    return zeros_left + _mass_below(all_stats[0], all_stats[1], all_stats[2], t)


@njit(cache=True)
def children_impurity(all_stats, pos_stats, counts, weight, t, left_pos, left_tot):
    """Weighted impurity of the two children of ``x <= t``, and the left branch's weight."""
    left = _children(all_stats, pos_stats, counts, weight, t, left_pos, left_tot)
    total = 0.0
    for k in range(counts.shape[0]):
        lt = min(max(left_tot[k], 0.0), weight)
        lp = min(max(left_pos[k], 0.0), lt)
        rt = weight - lt
        rp = min(max(counts[k] - lp, 0.0), rt)
        if lt > 0.0:
            total += lt * binary_entropy(lp / lt)
        if rt > 0.0:
            total += rt * binary_entropy(rp / rt)
    return total / weight, left


@njit(cache=True)
def best_threshold(all_stats, pos_stats, lo, hi, counts, weight, n_splits, min_branch, scratch):
    """Best ``(merit, threshold)`` of one feature; merit is -inf when no split is allowed.

    Candidates are ``n_splits`` points evenly inside the non-zero range ``(lo, hi)``, plus the
    midpoint between 0 and the non-zeros when they all lie on one side of 0 (where zeros exist).
    A candidate is skipped when a branch would get less than ``min_branch`` of the weight.
    """
    best = -np.inf
    best_t = 0.0
    if all_stats[0] <= 0.0:
        return best, best_t
    parent = impurity(counts, weight)
    has_zeros = weight - all_stats[0] > 1e-9
    n_cand = n_splits if hi > lo else 0
    extra = has_zeros and (lo > 0.0 or hi < 0.0)
    left_pos = scratch[0]
    left_tot = scratch[1]
    for i in range(n_cand + (1 if extra else 0)):
        if i < n_cand:
            t = lo + (hi - lo) * (i + 1) / (n_splits + 1)
        else:
            t = lo / 2.0 if lo > 0.0 else hi / 2.0
        child, left = children_impurity(all_stats, pos_stats, counts, weight, t, left_pos, left_tot)
        if min(left, weight - left) < min_branch * weight:
            continue
        merit = parent - child
        if merit > best:
            best = merit
            best_t = t
    return best, best_t
