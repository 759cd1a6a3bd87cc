"""iHOMER's decision layer: experts per label, weighted by Hedge, cut by an F-optimal threshold.

For each label ``l`` of a row, experts give a score in [0, 1]:

- ``MODEL``: the hierarchy's score, router times group learner (``predict_proba_one``);
- ``KNN``: the share of the row's nearest recent rows that carry ``l`` (:mod:`.knn`);
- ``CONTEXT``: P(l | whether l was in the previous row's label set), from decayed 2x2 counts,
  smoothed towards the label's frequency by one pseudo-row: on a stream sorted by label set it
  acts as "repeat the previous set", on a shuffled one as the label's frequency;
- ``PRIOR``: the label's decayed frequency (off by default; the ablation of the context).

**Combination** (per label): Hedge with squared loss and fixed share. ``p_l = sum_e w_le s_le``;
after the truth, ``w_le *= exp(-eta (s_le - y_l)^2)``, renormalised, then mixed with the uniform
weights by ``share``. Against the best expert of each label the regret is at most
``ln(E)/eta + eta T/8``; fixed share bounds it against the best sequence of experts with few
switches, which is what a drifting or label-sorted stream needs. With ``eta <= 1/2`` the squared
loss is exp-concave on [0, 1] and the bound tightens to ``ln(E)/eta``.

**Decision**: ``l`` is predicted when ``p_l >= tau`` (and ``p_l > 0``), one threshold for every
label. For micro-F1 the optimal rule on calibrated scores is one threshold, F*/2 (Busa-Fekete et
al., NeurIPS 2015); ``tau`` is its plug-in estimate, the micro-F-maximising cut of a decayed
histogram of past (score, truth) pairs. The guard for rare labels is in the scores: a label
without evidence scores about its frequency, far below ``tau``. (The self-referential update
``tau = F/2`` of the layer's own predictions stalls low after early false positives, and per-label
thresholds are 0 for a label without a true positive yet: both lost; docs/algorithm.md §8.)

Every default was chosen by leave-one-dataset-out over the shared datasets in both orders
(benchmarks/README.md). All state has a fixed size set up front; decays cost O(1) per row by
scaling one growing increment instead of every count.
"""

from __future__ import annotations

import functools
import math
from collections import namedtuple

import numpy as np

from streamlabels.kernels import calibration, knn, targets
from streamlabels.kernels.jit import kernel

MODEL = 0
KNN = 1
CONTEXT = 2
PRIOR = 3
N_EXPERTS = 4
EXPERT_NAMES = ("model", "knn", "context", "prior")

# parameters (``prm``)
ETA = 0
SHARE = 1
HORIZON = 2  # rows, of the context and prior counts
THRESHOLD_HORIZON = 3  # rows, of the threshold histogram
F_OPTIMAL = 4  # 1: the F-optimal threshold; 0: a fixed 0.5
HEDGE = 5  # 1: Hedge weights; 0: the uniform mix
ON = 6  # ON + e: expert e is used
N_PARAMS = ON + N_EXPERTS
# running scalars (``run``)
INCREMENT = 0  # the weight of the coming row in the decayed counts
TOTAL = 1  # decayed row count
TAU = 2  # the threshold
EMPTY = 3  # decayed count of rows without a label (-1: not counted, in states saved before it)
N_RUN = 4

DEFAULTS = {"eta": 0.5, "share": 0.005, "horizon": 200.0, "threshold_horizon": 2000.0}
N_BINS = 200
Layer = namedtuple(
    "Layer",
    ["prm", "run", "weights", "previous", "frequency", "context", "histogram", *targets.FIELDS,
     "window"],
)
"""The layer's state: ``prm`` (N_PARAMS,), ``run`` (N_RUN,), ``weights`` (L, E), ``previous`` (L,)
bool, the previous row's labels; ``frequency`` (L,) decayed positive counts; ``context`` (L, 4)
decayed counts (previous row had l: rows, positives; had not: rows, positives); ``histogram``
(2, N_BINS) decayed counts of past scores of negatives and positives; the decision target's
arrays (:data:`.targets.FIELDS`); ``window``, a :class:`~streamlabels.kernels.knn.KnnWindow`."""

Scratch = namedtuple(
    "Scratch",
    ["experts", "scores", "knn", "candidates", "choices", "taken", "calibration", "calibrated",
     "odds"],
)
"""Per-row work arrays: ``experts`` (L, E), each expert's score; ``scores`` (L,), the combined
scores; ``knn``, a :class:`~streamlabels.kernels.knn.KnnScratch`; the target's
(:mod:`.targets`) ``candidates`` (set experts x L) and ``choices`` (3 x L) bool, ``taken`` (L,)
bool; ``calibration``, the work array of :func:`.calibration.fit`, and ``calibrated`` (L,),
the calibrated scores (:func:`probabilities`); ``odds`` (L,), the set targets' per-label
evidence. :func:`learn_row` reads
``experts``, ``scores``, ``candidates`` and ``choices`` as :func:`decide_row` left them for the
same row (:data:`KEPT`)."""

KEPT = ("experts", "scores", "candidates", "choices")
"""The scratch fields that carry a row's decision over to its learning."""


def new_layer(n_labels: int, n_columns: int, experts, weighting: str, threshold: str, k: int,
              window: int, dense: bool, target: str = "micro_f1") -> Layer:
    """A fresh layer over ``n_labels`` labels using the named ``experts``, deciding for
    ``target`` (:data:`~streamlabels.kernels.targets.TARGET_NAMES`)."""
    on = np.array([name in experts for name in EXPERT_NAMES], dtype=np.float64)
    on[MODEL] = 1.0
    prm = np.zeros(N_PARAMS)
    prm[ETA], prm[SHARE] = DEFAULTS["eta"], DEFAULTS["share"]
    prm[HORIZON], prm[THRESHOLD_HORIZON] = DEFAULTS["horizon"], DEFAULTS["threshold_horizon"]
    prm[F_OPTIMAL] = float(threshold == "f-optimal")
    prm[HEDGE] = float(weighting == "hedge")
    prm[ON:] = on
    weights = np.zeros((n_labels, N_EXPERTS))
    weights[:] = on / on.sum()
    return Layer(
        prm, np.array([1.0, 0.0, 0.5, 0.0]), weights, np.zeros(n_labels, dtype=np.bool_),
        np.zeros(n_labels), np.zeros((n_labels, 4)), np.zeros((2, N_BINS)),
        **targets.new_state(target, n_labels, N_BINS),
        window=knn.new_window(n_labels, n_columns, max(k, 1), max(window, 1), dense),
    )


def saved_run(run) -> np.ndarray:
    """A saved ``run`` in this release's shape (N_RUN,): one saved before the count of empty rows
    gets -1 there, not counted, so the layer answers empty sets as the release that saved it did
    (:func:`_not_empty_by_default` stays off). Other shapes are left for the caller to refuse."""
    run = np.asarray(run, dtype=np.float64)
    return np.append(run, -1.0) if run.shape == (N_RUN - 1,) else run


@functools.cache
def no_layer() -> Layer:
    """A one-label layer of the kernels' types, passed (and never read) when the routing rule
    decides."""
    return new_layer(1, 0, ("model",), "uniform", "fixed", 1, 1, False)


@kernel(background=True)
def new_scratch(layer: Layer) -> Scratch:
    """Scratch for deciding and learning rows with ``layer`` (compiled, so that parallel kernels
    make their own)."""
    n_labels = layer.weights.shape[0]
    n_choices = targets.N_CHOICES if layer.label_cut.shape[0] else 0
    return Scratch(np.zeros((n_labels, N_EXPERTS)), np.zeros(n_labels),
                   knn.new_scratch(layer.window),
                   np.zeros((layer.set_weights.shape[0], n_labels), dtype=np.bool_),
                   np.zeros((n_choices, n_labels), dtype=np.bool_),
                   np.zeros(n_labels, dtype=np.bool_),
                   np.zeros((calibration.N_ROWS, layer.histogram.shape[1])), np.zeros(n_labels),
                   np.zeros(n_labels))


@kernel(background=True)
def decide_row(model_scores, xi, xv, layer, scratch, out):
    """Write the row's labels into ``out`` and its combined scores into ``scratch.scores``.

    ``model_scores`` are the hierarchy's label scores; ``xi``, ``xv`` the row's column ids
    (ascending) and values, for the kNN.
    """
    prm, run, ex, p = layer.prm, layer.run, scratch.experts, scratch.scores
    for l in range(ex.shape[0]):
        ex[l, MODEL] = min(max(model_scores[l], 0.0), 1.0)
    if prm[ON + KNN] > 0.0:
        knn.scores(xi, xv, layer.window, scratch.knn, ex[:, KNN])
    g = run[INCREMENT]  # one row's weight now: the smoothing pseudo-row of the context
    tau = run[TAU] if prm[F_OPTIMAL] > 0.0 else 0.5
    for l in range(ex.shape[0]):
        prior = layer.frequency[l] / run[TOTAL] if run[TOTAL] > 0.0 else 0.0
        ex[l, PRIOR] = prior
        c = 0 if layer.previous[l] else 2
        ex[l, CONTEXT] = (layer.context[l, c + 1] + g * prior) / (layer.context[l, c] + g)
        s = 0.0
        for e in range(N_EXPERTS):
            s += layer.weights[l, e] * ex[l, e]
        p[l] = s
        out[l] = s >= tau and s > 0.0
    if run[EMPTY] >= 0.0:
        _not_empty_by_default(p, tau, run, out)
    found = min(layer.window.meta[knn.FILL], layer.window.meta[knn.K]) if prm[ON + KNN] else 0
    if targets.calibrated(layer):
        _calibrate(layer, scratch)
    targets.decide(p, scratch.calibrated, tau, found, layer, scratch, out)


@kernel
def _not_empty_by_default(p, tau, run, out):
    """Where no label reaches the threshold, the top label, if its probability given what the
    stream says of empty rows reaches it: P(l | x) = P(Y is not empty) P(l | x, Y is not empty),
    and with the labels independent given x, P(l | x, Y is not empty) = p_l / (1 - prod (1 - p)).
    On a stream whose rows all have labels (scene, medical, bibtex) the threshold alone answers
    empty sets that are certainly wrong; where empty rows are common it seldom changes a thing."""
    top = -1
    for l in range(p.shape[0]):
        if out[l]:
            return
        if top < 0 or p[l] > p[top]:
            top = l
    if top < 0 or p[top] <= 0.0 or run[TOTAL] <= 0.0:
        return
    none = 1.0
    for l in range(p.shape[0]):
        none *= 1.0 - min(max(p[l], 0.0), 1.0)
    labelled = 1.0 - run[EMPTY] / run[TOTAL]
    if none < 1.0 and labelled * p[top] / (1.0 - none) >= tau:
        out[top] = True


@kernel
def _calibrate(layer, scratch):
    """``scratch.scores`` calibrated on the layer's (score, truth) histogram
    (:mod:`.calibration`) into ``scratch.calibrated``."""
    calibration.fit(layer.histogram, scratch.calibration)
    calibration.apply(scratch.scores, scratch.calibration, scratch.calibrated)


@kernel(background=True)
def probabilities(layer, scratch, out):
    """The calibrated P(True) of the row :func:`decide_row` decided last into ``out`` (computed
    there already when the target decides on it)."""
    if not targets.calibrated(layer):
        _calibrate(layer, scratch)
    for l in range(out.shape[0]):
        out[l] = scratch.calibrated[l]


@kernel
def _hedge(y, layer, ex):
    """The Hedge update of every label's weights. An expert that is off has weight 0 and keeps
    it, so it is skipped: the same sums, bit for bit, without its exp per label."""
    prm, w = layer.prm, layer.weights
    eta, share = prm[ETA], prm[SHARE]
    n_on = 0.0
    for e in range(N_EXPERTS):
        n_on += prm[ON + e]
    for l in range(ex.shape[0]):
        truth = 1.0 if y[l] else 0.0
        z = 0.0
        for e in range(N_EXPERTS):
            if prm[ON + e] > 0.0:
                d = ex[l, e] - truth
                w[l, e] *= math.exp(-eta * d * d)
                z += w[l, e]
        for e in range(N_EXPERTS):
            if prm[ON + e] > 0.0:
                w[l, e] = (1.0 - share) * w[l, e] / z + share * prm[ON + e] / n_on


@kernel
def _threshold(y, layer, p):
    """Add the row's (score, truth) pairs to the decayed histogram, then move ``tau`` to the cut
    with the best micro-F1 on it."""
    hist = layer.histogram
    n_bins = hist.shape[1]
    keep = 1.0 - 1.0 / layer.prm[THRESHOLD_HORIZON]
    for b in range(n_bins):
        hist[0, b] *= keep
        hist[1, b] *= keep
    for l in range(y.shape[0]):
        b = min(max(int(p[l] * n_bins), 0), n_bins - 1)
        hist[1 if y[l] else 0, b] += 1.0
    positives = 0.0
    for b in range(n_bins):
        positives += hist[1, b]
    if positives <= 0.0:
        return
    tp = 0.0
    fp = 0.0
    best = -1.0
    for b in range(n_bins - 1, 0, -1):  # predict p >= b / n_bins
        tp += hist[1, b]
        fp += hist[0, b]
        f = 2.0 * tp / (tp + fp + positives) if tp > 0.0 else 0.0
        if f > best:
            best = f
            layer.run[TAU] = b / n_bins


@kernel
def _counts(y, layer):
    """Decayed counts: each row adds the increment, which grows by 1 / (1 - 1/horizon) per row
    (all counts rescaled when it gets large), so older rows weigh exponentially less."""
    run, freq, ctx = layer.run, layer.frequency, layer.context
    growth = 1.0 / (1.0 - 1.0 / layer.prm[HORIZON])
    g = run[INCREMENT] * growth
    for l in range(y.shape[0]):
        c = 0 if layer.previous[l] else 2
        ctx[l, c] += g
        if y[l]:
            ctx[l, c + 1] += g
    run[INCREMENT] = g
    if g > 1e100:
        inv = 1.0 / g
        freq *= inv
        ctx *= inv
        run[TOTAL] *= inv
        if run[EMPTY] >= 0.0:
            run[EMPTY] *= inv
        run[INCREMENT] = 1.0
        g = 1.0
    run[TOTAL] += g
    empty = True
    for l in range(y.shape[0]):
        if y[l]:
            freq[l] += g
            empty = False
        layer.previous[l] = y[l]
    if empty and run[EMPTY] >= 0.0:
        run[EMPTY] += g


@kernel(background=True)
def learn_row(y, xi, xv, layer, scratch):
    """Learn the truth ``y`` (bool per label) of the row :func:`decide_row` decided last: expert
    weights, threshold, context and frequency counts, previous label set and the kNN window."""
    if layer.prm[HEDGE] > 0.0:
        _hedge(y, layer, scratch.experts)
    if layer.prm[F_OPTIMAL] > 0.0:
        _threshold(y, layer, scratch.scores)
    targets.learn(y, layer, scratch)
    _counts(y, layer)
    if layer.prm[ON + KNN] > 0.0:
        knn.insert(y, xi, xv, layer.window, scratch.knn)
