"""Decisions for the metric the user scores: one rule per target, from the decision layer's
combined scores to a label set.

Each loss has its own Bayes-optimal decision (Dembczyński et al., "On label dependence and loss
minimization in multi-label classification", MLJ 2012), so the decision layer
(:mod:`.experts`) mixes its experts into one score per label, and the target chooses:

- ``MICRO`` (micro-F1): one F-optimal threshold for every label, learned online from a decayed
  histogram of past (score, truth) pairs (:mod:`.experts`; the rule the layer always had).
- ``MACRO`` (macro-F1): macro-F1 averages per-label F1s, so each label gets its own: per label, a
  cut that maximises F1 on the label's decayed (score, truth) histogram, shrunk towards the global
  histogram by ``PRIOR`` pseudo-positives (a rare label borrows the global cut); then, per
  label, whichever of three decisions (that cut, the micro rule, the label's value in the
  previous label set) has the best F1 on the label so far.
- ``HAMMING`` (Hamming loss): the marginal mode, calibrated probability >= 0.5.
- ``EXAMPLE`` (example-F1) and ``SUBSET`` (subset accuracy): losses of whole label sets, which
  no per-label rule minimises, so they are decided over whole label sets. Set experts each
  propose a set: the marginal mode, the micro rule's set, the plug-in F1 maximiser (under label
  independence: the top k labels for the k that maximises ``2 sum_{i<=k} p_(i) / (k + sum p)``,
  or none when ``prod (1 - p)`` is larger; Jansche 2007), the marginal mode made non-empty, the
  previous set (PREV-LS), the most frequent set so far (MAJ-LS) and recently, the nearest
  neighbour's set, the most frequent among the k neighbours, and the table's set most probable
  given the row (:func:`_likeliest`: Bayes' rule over the seen sets with the calibrated
  probabilities as independent evidence). Hedge weighs them by the target's own loss (0/1, or
  1 - F1) with fixed share, and the set with the largest total weight is predicted: no worse, up
  to the regret, than the best of them, the two label-set baselines included.

The marginal mode is Bayes-optimal for Hamming loss on calibrated probabilities, so ``HAMMING``
decides on the scores calibrated (:mod:`.calibration`): the Hamming loss fell on 14 of the 20
shared (dataset, order) pairs. The cuts of the F-measures are learned on the scores themselves;
the other set experts read the scores too: calibrated, example-F1 fell on 13 pairs, subset
accuracy on 10, and subset accuracy was ahead of the best peer on 16 pairs instead of 17.

Label sets are tracked in a table of ``N_SETS`` slots (a label set's hash, its cumulative and
decayed counts); when it is full the set with the smallest decayed count gives way.
"""

from __future__ import annotations

import math

import numpy as np

from streamlabels.kernels.jit import kernel

MICRO = 0
MACRO = 1
EXAMPLE = 2
HAMMING = 3
SUBSET = 4
TARGET_NAMES = ("micro_f1", "macro_f1", "example_f1", "hamming", "subset")

MODE = 0
MICRO_SET = 1
PLUG_IN = 2
MODE_OR_BEST = 3
PREVIOUS = 4
MAJORITY = 5
RECENT = 6
NEAREST = 7
NEIGHBOURS = 8
LIKELIEST = 9
N_SET_EXPERTS = 10
SET_EXPERT_NAMES = ("mode", "micro", "plug-in", "mode-or-best", "previous", "majority",
                    "recent", "nearest", "neighbours", "likeliest")
N_SETS = 64
N_CHOICES = 3  # macro: the label's own cut, the micro rule, the previous set's bit

# parameters (``target_prm``)
KIND = 0  # the target
SET_ETA = 1  # Hedge's learning rate over the set experts
SET_SHARE = 2  # its fixed share
PRIOR = 3  # pseudo-positives of the global histogram in a label's cut
SET_HORIZON = 4  # rows, of the recent label-set counts
CUT_HORIZON = 5  # rows, of the labels' histograms
N_TARGET_PARAMS = 6
VALUES = {
    MACRO: {PRIOR: 5.0, CUT_HORIZON: 2000.0},
    EXAMPLE: {SET_ETA: 1.5, SET_SHARE: 0.001, SET_HORIZON: 200.0},
    SUBSET: {SET_ETA: 0.05, SET_SHARE: 0.001, SET_HORIZON: 1000.0},
}
"""Each target's parameters (those it does not read stay 0), by leave-one-dataset-out over the
shared datasets in both orders on the target's own metric (``benchmarks/lodo.py --target``,
benchmarks/README.md; rerun with the 1,600-row kNN window and the likeliest set). For
``macro_f1`` the mean's best point (prior 0.5, 32,000 rows: +0.004 mean macro-F1) was measured
and not taken: on scene in file order, sorted by label set, it falls below PREV-LS (0.9386
against 0.9433)."""
# running scalars (``target_run``): the weights of the coming row in the labels' histograms and
# in the recent set counts (decays cost O(1) per row by scaling a growing increment)
CUT_INCREMENT = 0
SET_INCREMENT = 1
ROWS = 1  # the decision layer's decayed row count, ``layer.run[experts.TOTAL]``
# label-set table counts
TOTAL_COUNT = 0
RECENT_COUNT = 1

FIELDS = ("target_prm", "target_run", "label_hist", "label_cut", "label_choice", "set_weights",
          "sets", "set_hash", "set_counts")
"""The target's arrays in the decision layer (:class:`~.experts.Layer`), a target's unused ones
with no rows: ``target_prm`` (N_TARGET_PARAMS,), ``target_run`` (2,); for macro-F1
``label_hist`` (L, 2, n_bins) decayed (score, truth) counts per label, ``label_cut`` (L,) each
label's cut as a bin, ``label_choice`` (L, N_CHOICES, 3) each decision's tp, fp, fn on the label;
for the set targets ``set_weights`` (N_SET_EXPERTS,), ``sets`` (N_SETS, L) the label-set table,
``set_hash`` (N_SETS,) its sets' hashes, ``set_counts`` (N_SETS, 2) their total and recent counts."""
DTYPES = {"label_cut": np.int64, "sets": np.bool_, "set_hash": np.int64}
"""The dtypes of the target's arrays that are not float64."""


def shapes(kind: int, n_labels: int, n_bins: int) -> dict:
    """Each of :data:`FIELDS`' shape for target ``kind`` over ``n_labels`` labels."""
    per_label = n_labels if kind == MACRO else 0
    n_sets, n_experts = (N_SETS, N_SET_EXPERTS) if kind in (EXAMPLE, SUBSET) else (0, 0)
    return {
        "target_prm": (N_TARGET_PARAMS,), "target_run": (2,), "label_hist": (per_label, 2, n_bins),
        "label_cut": (per_label,), "label_choice": (per_label, N_CHOICES, 3),
        "set_weights": (n_experts,), "sets": (n_sets, n_labels), "set_hash": (n_sets,),
        "set_counts": (n_sets, 2),
    }


def accepts(name: str, saved: tuple, shape: tuple) -> bool:
    """Whether a saved array ``name`` of shape ``saved`` may stand for one of ``shape``: the
    same, or a set target's weights saved before the likeliest set (its first nine experts),
    which keep deciding as they did."""
    return saved == shape or (name == "set_weights" and shape == (N_SET_EXPERTS,)
                              and saved == (LIKELIEST,))


def new_state(target: str, n_labels: int, n_bins: int) -> dict:
    """Fresh arrays (:data:`FIELDS`) for deciding ``target`` (one of :data:`TARGET_NAMES`)."""
    kind = TARGET_NAMES.index(target)
    state = {name: np.zeros(shape, dtype=DTYPES.get(name, np.float64))
             for name, shape in shapes(kind, n_labels, n_bins).items()}
    state["target_prm"][KIND] = kind
    for index, value in VALUES.get(kind, {}).items():
        state["target_prm"][index] = value
    state["target_run"][:] = 1.0
    state["label_cut"][:] = n_bins // 2
    state["set_weights"][:] = 1.0 / N_SET_EXPERTS
    return state


@kernel
def _f_optimal_cut(hist, glob, prior, n_bins):
    """The bin ``b`` whose cut (predict ``p >= b / n_bins``) maximises F1 on ``hist`` (2, n_bins)
    plus ``prior`` times the global histogram ``glob``; ``n_bins`` when there is no positive."""
    positives = 0.0
    for b in range(n_bins):
        positives += hist[1, b] + prior * glob[1, b]
    if positives <= 0.0:
        return n_bins
    tp = 0.0
    fp = 0.0
    best = -1.0
    cut = n_bins
    for b in range(n_bins - 1, 0, -1):
        tp += hist[1, b] + prior * glob[1, b]
        fp += hist[0, b] + prior * glob[0, b]
        f = 2.0 * tp / (tp + fp + positives) if tp > 0.0 else 0.0
        if f > best:
            best = f
            cut = b
    return cut


@kernel
def _set_hash(labels):
    """A hash of a label set (its positive ids, polynomial modulo a prime below 2**31: no
    product overflows int64); the table compares sets whose hashes are equal."""
    h = 0
    for l in range(labels.shape[0]):
        if labels[l]:
            h = (h * 1000003 + l + 1) % 2147483647
    return h


@kernel
def _same(a, b):
    for l in range(a.shape[0]):
        if a[l] != b[l]:
            return False
    return True


@kernel
def _f1(a, b):
    both = 0
    size = 0
    for l in range(a.shape[0]):
        both += int(a[l] and b[l])
        size += int(a[l]) + int(b[l])  # numpy's bool + bool is "or"
    return 1.0 if size == 0 else 2.0 * both / size


@kernel
def _plug_in(p, taken, out):
    """The plug-in F1 maximiser into ``out`` (``taken`` is scratch, left all False). Adding the
    next best label raises ``2 S_k / (k + T)`` exactly while its score exceeds half of it, and
    once it does not, no later one does: the top labels are taken until then."""
    n = p.shape[0]
    total = 0.0
    empty = 1.0
    for l in range(n):
        total += p[l]
        empty *= 1.0 - min(max(p[l], 0.0), 1.0)
    chosen = 0.0
    f = -1.0
    k = 0
    while k < n:
        top = -1
        for l in range(n):
            if not taken[l] and (top < 0 or p[l] > p[top]):
                top = l
        rising = 2.0 * (chosen + p[top]) / (k + 1 + total)
        if rising <= f:
            break
        taken[top] = True
        chosen += p[top]
        f = rising
        k += 1
    for l in range(n):
        out[l] = taken[l] and f > empty
        taken[l] = False


@kernel
def _table_set(sets, counts, column, out):
    """The table's set with the largest count in ``column`` into ``out`` (empty table: none)."""
    best = -1
    for s in range(sets.shape[0]):
        if counts[s, TOTAL_COUNT] > 0.0 and (best < 0 or counts[s, column] > counts[best, column]):
            best = s
    for l in range(out.shape[0]):
        out[l] = sets[best, l] if best >= 0 else False


@kernel
def _likeliest(q, layer, odds, out):
    """The table's set most probable given the row, into ``out`` (empty table: none).

    Bayes' rule over the seen sets, the labels' evidence taken as independent: P(S | x) is
    proportional to P(S) times, per label, P(label's value | x) / P(label's value), so
    ``log count(S) + sum over l in S of odds[l]`` ranks the sets, where ``odds[l]`` (filled here)
    is the log odds of the calibrated ``q[l]`` less the log odds of the label's frequency."""
    run, frequency = layer.run, layer.frequency
    for l in range(q.shape[0]):
        ql = min(max(q[l], 1e-6), 1.0 - 1e-6)
        f = frequency[l] / run[ROWS] if run[ROWS] > 0.0 else 0.5
        f = min(max(f, 1e-6), 1.0 - 1e-6)
        odds[l] = math.log(ql / (1.0 - ql)) - math.log(f / (1.0 - f))
    sets, counts = layer.sets, layer.set_counts
    best = -1
    best_score = 0.0
    for s in range(sets.shape[0]):
        if counts[s, TOTAL_COUNT] > 0.0:
            score = math.log(counts[s, TOTAL_COUNT])
            for l in range(q.shape[0]):
                if sets[s, l]:
                    score += odds[l]
            if best < 0 or score > best_score:
                best, best_score = s, score
    for l in range(out.shape[0]):
        out[l] = sets[best, l] if best >= 0 else False


@kernel
def _propose(p, tau, layer, found, scratch):
    """Each set expert's set into ``scratch.candidates`` (``found``: the kNN's neighbours in
    ``scratch.knn.neighbours``, nearest first)."""
    c = scratch.candidates
    n = p.shape[0]
    best = 0
    any_mode = False
    for l in range(n):
        c[MODE, l] = p[l] >= 0.5
        any_mode = any_mode or c[MODE, l]
        c[MICRO_SET, l] = p[l] >= tau and p[l] > 0.0
        c[MODE_OR_BEST, l] = c[MODE, l]
        c[PREVIOUS, l] = layer.previous[l]
        if p[l] > p[best]:
            best = l
    if not any_mode and n > 0:
        c[MODE_OR_BEST, best] = True
    _plug_in(p, scratch.taken, c[PLUG_IN])
    if c.shape[0] > LIKELIEST:  # states saved before it have nine experts, and keep them
        _likeliest(scratch.calibrated, layer, scratch.odds, c[LIKELIEST])
    _table_set(layer.sets, layer.set_counts, TOTAL_COUNT, c[MAJORITY])
    _table_set(layer.sets, layer.set_counts, RECENT_COUNT, c[RECENT])
    window, neighbours = layer.window, scratch.knn.neighbours
    top = 0
    top_votes = 0
    for a in range(found):
        votes = 0
        for b in range(found):
            votes += _same(window.labels[neighbours[a]], window.labels[neighbours[b]])
        if votes > top_votes:
            top, top_votes = a, votes
    for l in range(n):
        c[NEAREST, l] = found > 0 and window.labels[neighbours[0], l]
        c[NEIGHBOURS, l] = found > 0 and window.labels[neighbours[top], l]


@kernel
def _vote(weights, candidates, out):
    """The candidate set with the largest total weight of the experts proposing it."""
    pick = 0
    best = -1.0
    for a in range(candidates.shape[0]):
        total = 0.0
        for b in range(candidates.shape[0]):
            if _same(candidates[a], candidates[b]):
                total += weights[b]
        if total > best + 1e-15:
            best = total
            pick = a
    for l in range(out.shape[0]):
        out[l] = candidates[pick, l]


@kernel(inline=True)
def calibrated(layer):
    """Whether the target decides on calibrated probabilities (:mod:`.calibration`): the
    marginal mode does, and the set targets' likeliest set."""
    return int(layer.target_prm[KIND]) in (HAMMING, EXAMPLE, SUBSET)


@kernel
def decide(p, q, tau, found, layer, scratch, out):
    """The target's labels for combined scores ``p`` into ``out`` (``q``: ``p`` calibrated,
    filled only when :func:`calibrated`; ``tau``: the micro rule's threshold, and ``out``
    already holds the micro rule's labels; ``found``: neighbours the kNN found for this row)."""
    target = int(layer.target_prm[KIND])
    if target == HAMMING:
        for l in range(p.shape[0]):
            out[l] = q[l] >= 0.5
    elif target == MACRO:
        choices = scratch.choices
        for l in range(p.shape[0]):
            choices[0, l] = p[l] > 0.0 and p[l] * layer.histogram.shape[1] >= layer.label_cut[l]
            choices[1, l] = out[l]
            choices[2, l] = layer.previous[l]
            best = 0
            best_f = -1.0
            for c in range(N_CHOICES):
                tp, fp, fn = layer.label_choice[l, c, 0], layer.label_choice[l, c, 1], \
                    layer.label_choice[l, c, 2]
                f = 2.0 * tp / (2.0 * tp + fp + fn) if tp > 0.0 else 0.0
                if f > best_f + 1e-12:
                    best, best_f = c, f
            out[l] = choices[best, l]
    elif layer.set_weights.shape[0] > 0:  # a set target: it has set experts (:func:`shapes`)
        _propose(p, tau, layer, found, scratch)
        _vote(layer.set_weights, scratch.candidates, out)


@kernel
def _slot(y, h, sets, counts, hashes):
    """The table slot holding the set ``y`` (hash ``h``), else an empty one, else the one with
    the smallest recent count (which gives way)."""
    free = -1
    weakest = 0
    for s in range(sets.shape[0]):
        if counts[s, TOTAL_COUNT] == 0.0:
            if free < 0:
                free = s
        elif hashes[s] == h and _same(sets[s], y):
            return s
        elif counts[s, RECENT_COUNT] < counts[weakest, RECENT_COUNT]:
            weakest = s
    return free if free >= 0 else weakest


@kernel
def _learn_sets(y, layer, scratch):
    """Hedge on the set experts' losses, then the label-set table counts ``y``."""
    prm, w = layer.target_prm, layer.set_weights
    subset = int(prm[KIND]) == SUBSET
    z = 0.0
    for e in range(w.shape[0]):
        c = scratch.candidates[e]
        loss = (0.0 if _same(c, y) else 1.0) if subset else 1.0 - _f1(c, y)
        w[e] *= math.exp(-prm[SET_ETA] * loss)
        z += w[e]
    for e in range(w.shape[0]):
        w[e] = (1.0 - prm[SET_SHARE]) * w[e] / z + prm[SET_SHARE] / w.shape[0]
    sets, counts, hashes = layer.sets, layer.set_counts, layer.set_hash
    g = layer.target_run[SET_INCREMENT] / (1.0 - 1.0 / prm[SET_HORIZON])
    layer.target_run[SET_INCREMENT] = g
    h = _set_hash(y)
    slot = _slot(y, h, sets, counts, hashes)
    if counts[slot, TOTAL_COUNT] == 0.0 or hashes[slot] != h or not _same(sets[slot], y):
        for l in range(y.shape[0]):
            sets[slot, l] = y[l]
        hashes[slot] = h
        counts[slot, TOTAL_COUNT] = 0.0
        counts[slot, RECENT_COUNT] = 0.0
    counts[slot, TOTAL_COUNT] += 1.0
    counts[slot, RECENT_COUNT] += g
    if g > 1e100:
        for s in range(sets.shape[0]):
            counts[s, RECENT_COUNT] /= g
        layer.target_run[SET_INCREMENT] = 1.0


@kernel
def _learn_macro(y, layer, scratch):
    """Each label's decisions' F1 counts; its histogram; its cut, where it may have moved."""
    choices, counts = scratch.choices, layer.label_choice
    hist, n_bins = layer.label_hist, layer.histogram.shape[1]
    g = layer.target_run[CUT_INCREMENT] / (1.0 - 1.0 / layer.target_prm[CUT_HORIZON])
    layer.target_run[CUT_INCREMENT] = g
    positives = 0.0
    for b in range(n_bins):
        positives += layer.histogram[1, b]
    prior = layer.target_prm[PRIOR] / positives if positives > 0.0 else 0.0
    for l in range(y.shape[0]):
        for c in range(N_CHOICES):
            said = choices[c, l]
            counts[l, c, 0] += said and y[l]
            counts[l, c, 1] += said and not y[l]
            counts[l, c, 2] += y[l] and not said
        b = min(max(int(scratch.scores[l] * n_bins), 0), n_bins - 1)
        hist[l, 1 if y[l] else 0, b] += g
        if y[l] or choices[0, l]:  # a negative below the cut cannot move it
            layer.label_cut[l] = _f_optimal_cut(hist[l], layer.histogram, g * prior, n_bins)
    if g > 1e100:
        for l in range(hist.shape[0]):
            for b in range(n_bins):
                hist[l, 0, b] /= g
                hist[l, 1, b] /= g
        layer.target_run[CUT_INCREMENT] = 1.0


@kernel
def learn(y, layer, scratch):
    """Learn the truth ``y`` of the row :func:`decide` decided last (before the layer's counts
    and previous set move on)."""
    target = int(layer.target_prm[KIND])
    if target == MACRO:
        _learn_macro(y, layer, scratch)
    elif layer.set_weights.shape[0] > 0:
        _learn_sets(y, layer, scratch)
