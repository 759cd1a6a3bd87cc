"""Calibrated probabilities from the decision layer's scores: an online isotonic map.

The layer's combined score ``p`` is a Hedge mix of experts (:mod:`.experts`); it ranks well,
but nothing makes it a probability: the mix's expected calibration error reached 0.03-0.05 on
the smaller shared streams. The layer already keeps a decayed histogram of past (score, truth)
pairs, the one its threshold is cut from. Isotonic regression on that histogram (Zadrozny and
Elkan, KDD 2002), refitted whenever the histogram has changed, maps a score to the share of
positives among past scores like it, constrained to grow with the score:

1. each bin's rate of positives, smoothed by :data:`PSEUDO` pseudo-rows at the bin's centre, so
   an empty bin (no data yet, or a fixed threshold that keeps no histogram) maps a score to
   itself;
2. pool adjacent violators over the bins, weighted by their counts;
3. ``TIE_BREAK`` per bin added, so the map is strictly increasing and the scores' order, which
   the ranking metrics read, is kept (up to rounding);
4. between bin centres, linear interpolation; from 0 to the first centre towards 0, from the
   last centre towards 1.

What is reported changes (``predict_proba_one``, ``score_one``, the scorers' scores); the layer
learns from the mix itself, and every target but ``hamming`` (the marginal mode of these
probabilities: :mod:`.targets`) decides on the mix, so their predictions are unchanged bit for
bit. The map costs one pass over the histogram each time the histogram has changed (every
learned row in a test-then-train run, once per block of a frozen model's rows), and nothing when
only labels are asked for (but for ``hamming``).
"""

from __future__ import annotations

from streamlabels.kernels.jit import kernel

PSEUDO = 1.0
"""Pseudo-rows per bin at the bin's centre: a bin's rate needs a few real rows to move away
from the identity."""
TIE_BREAK = 1e-9
"""Added per bin after pooling, so pooled bins keep their order; far below any calibration
error that 10-bin ECE or the Brier score can see."""

POSITIVES = 0
WEIGHT = 1
SIZE = 2
KNOT = 3
FITTED = 4
N_ROWS = 6
"""Rows of the work array (``(N_ROWS, n_bins)``): the pooled blocks' (smoothed) positives,
weights and sizes, the map's value at each bin centre, then the two rows of the histogram the
map was fitted to."""


@kernel
def _fitted_to(histogram, work):
    """Whether ``work[KNOT]`` is already the map of ``histogram``: a map was fitted (its knots
    are positive) and to these very counts."""
    if work[KNOT, 0] <= 0.0:
        return False
    for b in range(histogram.shape[1]):
        if work[FITTED, b] != histogram[0, b] or work[FITTED + 1, b] != histogram[1, b]:
            return False
    return True


@kernel
def fit(histogram, work):
    """The isotonic map of ``histogram`` ((2, n_bins) decayed counts of negatives and positives
    per score bin) into ``work[KNOT]``, its value at each bin's centre; nothing to do when the
    work array holds the map of these counts already (a frozen model's rows share one fit, and
    a learned row changes the counts). Blocks keep their positives and weight, and compare rates
    by cross-multiplying: one division per block."""
    if _fitted_to(histogram, work):
        return
    work[FITTED : FITTED + 2] = histogram
    n_bins = histogram.shape[1]
    positives, weight, size, knot = work[POSITIVES], work[WEIGHT], work[SIZE], work[KNOT]
    width = 1.0 / n_bins
    blocks = 0
    for b in range(n_bins):
        positives[blocks] = histogram[1, b] + PSEUDO * (b + 0.5) * width
        weight[blocks] = histogram[0, b] + histogram[1, b] + PSEUDO
        size[blocks] = 1.0
        blocks += 1
        while blocks > 1 and (positives[blocks - 2] * weight[blocks - 1]
                              > positives[blocks - 1] * weight[blocks - 2]):
            a = blocks - 2
            positives[a] += positives[a + 1]
            weight[a] += weight[a + 1]
            size[a] += size[a + 1]
            blocks -= 1
    b = 0
    for j in range(blocks):
        rate = positives[j] / weight[j]
        for _ in range(int(size[j])):
            knot[b] = rate + b * TIE_BREAK
            b += 1


@kernel
def apply(scores, work, out):
    """Each score mapped by the fitted map (:func:`fit`) into ``out``."""
    knot = work[KNOT]
    n_bins = knot.shape[0]
    for l in range(scores.shape[0]):
        x = min(max(scores[l], 0.0), 1.0) * n_bins - 0.5  # in bin centres
        if x <= 0.0:
            q = knot[0] * (x + 0.5) * 2.0
        elif x >= n_bins - 1:
            t = (x - (n_bins - 1)) * 2.0
            q = knot[n_bins - 1] + t * (1.0 - knot[n_bins - 1])
        else:
            b = int(x)
            t = x - b
            q = knot[b] + t * (knot[b + 1] - knot[b])
        out[l] = min(max(q, 0.0), 1.0)
