"""Running column statistics for feature scaling, in one place for every learner and scorer.

Sparse rows list only their non-zero (or explicit) entries, so a column keeps Welford statistics
of its explicit entries (count, mean, sum of squared deviations) and its variance over all ``n``
instances merges them with the ``n - count`` implicit zeros (Chan et al.), which stays exact for
constant columns where sum/sum-of-squares would cancel. The linear learner, its snapshot scorers
and the Hoeffding tree's leaf regressions all call these functions, so they round identically.
"""

from __future__ import annotations

from streamlabels.kernels.jit import kernel


@kernel
def welford_add(j, v, counts, means, m2s):
    """Add value ``v`` to the statistics of column ``j``."""
    c = counts[j] + 1
    counts[j] = c
    old = means[j]
    means[j] = old + (v - old) / c
    m2s[j] += (v - old) * (v - means[j])


@kernel
def sparse_variance(m2, mean, count, n):
    """Variance over ``n`` instances of a column whose ``count`` explicit entries have mean
    ``mean`` and sum of squared deviations ``m2``, the other instances being zeros."""
    if n <= 0:
        return 0.0
    c = float(count)
    nf = float(n)
    return (m2 + mean * mean * (c * (nf - c)) / nf) / nf
