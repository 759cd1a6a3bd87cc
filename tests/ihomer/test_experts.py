"""The decision layer against references computed another way: the threshold against a
brute-force F-optimal cut, the kNN against brute-force neighbours, Hedge against a hand-computed
step, and the label context against a leak."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamlabels import IHOMER
from streamlabels.evaluate.metrics import MultiLabelMetrics
from streamlabels.kernels import experts, knn
from streamlabels.streams import datasets
from streamlabels.streams.arrays import ArrayStream

EMPTY_IDS = np.empty(0, dtype=np.int64)
EMPTY_VALUES = np.empty(0)


def _layer(n_labels, names=(), **kwargs):
    params = {"weighting": "uniform", "threshold": "f-optimal", "k": 1, "window": 1,
              "dense": False, **kwargs}
    layer = experts.new_layer(n_labels, 1, names, params["weighting"], params["threshold"],
                              params["k"], params["window"], params["dense"])
    return layer, experts.new_scratch(layer)


def _best_cut(history, keep, n_bins):
    """The highest cut b / n_bins with the best micro-F1 over the decayed (scores, truths)."""
    t = len(history)
    weights = np.array([keep ** (t - 1 - j) for j in range(t)])
    scores = np.stack([s for s, _ in history])
    truths = np.stack([y for _, y in history])
    positives = float(np.sum(weights[:, None] * truths))
    best, cut, f_of = -1.0, 0.5, {}
    for b in range(n_bins - 1, 0, -1):
        chosen = scores >= b / n_bins
        tp = float(np.sum(weights[:, None] * (chosen & truths)))
        fp = float(np.sum(weights[:, None] * (chosen & ~truths)))
        f = 2 * tp / (tp + fp + positives) if tp > 0 else 0.0
        f_of[b / n_bins] = f
        if f > best + 1e-12:
            best, cut = f, b / n_bins
    return cut, best, f_of


def _threshold_answer(p, tau, run):
    """The micro rule written out: labels at or above the threshold; none, then the top label if
    P(l | x) = P(Y not empty) p_l / (1 - prod(1 - p)) reaches it."""
    out = (p >= tau) & (p > 0)
    if not out.any() and p.max() > 0 and run[experts.TOTAL] > 0:
        top = int(np.argmax(p))
        labelled = 1.0 - run[experts.EMPTY] / run[experts.TOTAL]
        out[top] = labelled * p[top] / (1.0 - np.prod(1.0 - np.clip(p, 0, 1))) >= tau
    return out


def test_threshold_is_the_f_optimal_cut_of_the_decayed_history():
    rng = np.random.default_rng(0)
    layer, scratch = _layer(7)  # the model's scores alone, so combined = model scores
    keep = 1.0 - 1.0 / layer.prm[experts.THRESHOLD_HORIZON]
    history = []
    out = np.zeros(7, dtype=bool)
    for t in range(2_400):
        scores = rng.random(7) ** 2
        # the truth drifts: after row 600 a score means less, and the best cut moves up, which
        # the decayed history must follow
        truth = rng.random(7) < (np.sqrt(scores) if t < 600 else scores**3)
        experts.decide_row(scores, EMPTY_IDS, EMPTY_VALUES, layer, scratch, out)
        np.testing.assert_array_equal(scratch.scores, scores)
        np.testing.assert_array_equal(
            out, _threshold_answer(scores, layer.run[experts.TAU], layer.run))
        experts.learn_row(truth, EMPTY_IDS, EMPTY_VALUES, layer, scratch)
        history.append((scores, truth))
        if t % 300 == 299:
            cut, best, f_of = _best_cut(history, keep, experts.N_BINS)
            tau = layer.run[experts.TAU]
            assert f_of[tau] == pytest.approx(best, abs=1e-9)
            assert tau == pytest.approx(cut) or f_of[cut] == pytest.approx(f_of[tau], abs=1e-9)
    assert 0.05 < layer.run[experts.TAU] < 0.95


def test_fixed_threshold_cuts_at_one_half():
    layer, scratch = _layer(3, threshold="fixed")
    out = np.zeros(3, dtype=bool)
    experts.decide_row(np.array([0.49, 0.5, 0.9]), EMPTY_IDS, EMPTY_VALUES, layer, scratch, out)
    assert out.tolist() == [False, True, True]


def _random_rows(rng, n, n_columns, density=0.3):
    rows = []
    for _ in range(n):
        ids = np.flatnonzero(rng.random(n_columns) < density).astype(np.int64)
        rows.append((ids, rng.normal(size=ids.size)))
    return rows


def test_knn_scores_are_the_label_shares_of_the_nearest_rows():
    rng = np.random.default_rng(1)
    n_columns, n_labels, k, size = 12, 4, 5, 30
    window = knn.new_window(n_labels, n_columns, k, size, dense=False)
    scratch = knn.new_scratch(window)
    rows = _random_rows(rng, 50, n_columns)
    labels = rng.random((50, n_labels)) < 0.4
    for (ids, values), y in zip(rows, labels):
        knn.insert(y, ids, values, window, scratch)
    # the window holds the last 30 rows; row r sits in slot r % 30
    held = {r % size: r for r in range(20, 50)}
    for ids, values in _random_rows(rng, 20, n_columns):
        got = np.zeros(n_labels)
        knn.scores(ids, values, window, scratch, got)
        query = np.zeros(n_columns)
        query[ids] = values
        similarity = {}
        for slot, r in held.items():
            stored = np.zeros(n_columns)
            stored[rows[r][0]] = rows[r][1]
            norms = np.linalg.norm(query) * np.linalg.norm(stored)
            similarity[slot] = query @ stored / norms if norms else 0.0
        nearest = sorted(similarity, key=lambda slot: (-similarity[slot], slot))[:k]
        expected = labels[[held[slot] for slot in nearest]].mean(axis=0)
        np.testing.assert_allclose(got, expected, atol=1e-12)


def test_the_sparse_index_finds_what_a_scan_finds_bit_for_bit(monkeypatch):
    """Through evictions, new columns and a rebuild from saved arrays, a window that walks its
    inverted index gives the similarities, neighbours and scores of one that scans every row."""
    rng = np.random.default_rng(4)
    n_labels, k, size = 3, 4, 25
    walking = knn.new_window(n_labels, 6, k, size, dense=False)
    budgets = {"scan": 0, "drop": 10 * size}  # no room for an index; room up to 10 columns
    windows = {}
    for name, budget in budgets.items():
        monkeypatch.setattr(knn, "INDEX_BUDGET", budget)
        windows[name] = knn.new_window(n_labels, 6, k, size, dense=False)
    monkeypatch.undo()
    assert walking.starts.shape == (6,) and windows["scan"].starts.shape == (0,)
    for step in range(150):
        n_columns = 6 + step // 10
        walking = knn.grown(walking, n_columns)
        for name, budget in budgets.items():
            monkeypatch.setattr(knn, "INDEX_BUDGET", budget)
            windows[name] = knn.grown(windows[name], n_columns)
        monkeypatch.undo()
        if step == 30:  # past ten columns, the index gave way to the scan
            assert windows["drop"].starts.shape == (0,)
        if step == 90:  # loaded from the saved arrays: the index is rebuilt from the rows
            walking = knn.indexed({name: getattr(walking, name) for name in knn.SAVED})
        ids = np.flatnonzero(rng.random(n_columns) < 0.4).astype(np.int64)
        values = rng.normal(size=ids.size)
        y = rng.random(n_labels) < 0.4
        answers = []
        for window in (walking, windows["scan"], windows["drop"]):
            scratch = knn.new_scratch(window)
            got = np.zeros(n_labels)
            knn.scores(ids, values, window, scratch, got)
            answers.append((got, scratch.neighbours.copy(), scratch.similarities.copy()))
            knn.insert(y, ids, values, window, scratch)
        for other in answers[1:]:
            for a, b in zip(answers[0], other):
                np.testing.assert_array_equal(a, b, err_msg=f"row {step}")
    assert walking.starts.shape[0] == walking.stats.shape[1]
    assert walking.counts.sum() == walking.sizes.sum()  # every stored entry, once


def test_knn_finds_a_repeated_dense_row_and_ignores_columns_it_never_learned():
    rng = np.random.default_rng(2)
    window = knn.new_window(2, 8, 1, 40, dense=True)
    scratch = knn.new_scratch(window)
    X = rng.normal(size=(40, 5))
    labels = rng.random((40, 2)) < 0.5
    ids = np.arange(5, dtype=np.int64)
    for x, y in zip(X, labels):
        knn.insert(y, ids, x, window, scratch)
    for i in (3, 17, 31):
        got = np.zeros(2)
        knn.scores(ids, X[i], window, scratch, got)
        np.testing.assert_array_equal(got, labels[i].astype(float))
        widened = np.zeros(2)
        knn.scores(np.arange(7, dtype=np.int64), np.append(X[i], [50.0, -50.0]), window,
                   scratch, widened)
        np.testing.assert_array_equal(widened, got)  # columns 5 and 6 were never learned


def test_hedge_step_matches_a_hand_computation():
    layer, scratch = _layer(1, names=("knn",), weighting="hedge")
    on = np.array([1.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(layer.weights[0], on / 2)
    scratch.experts[0] = [0.9, 0.2, 0.6, 0.1]
    scratch.scores[0] = 0.55
    experts.learn_row(np.array([True]), EMPTY_IDS, EMPTY_VALUES, layer, scratch)
    eta, share = layer.prm[experts.ETA], layer.prm[experts.SHARE]
    assert (eta, share) == (0.5, 0.005)  # the defaults chosen by benchmarks/lodo.py
    raw = 0.5 * np.exp(-eta * (np.array([0.9, 0.2, 0.6, 0.1]) - 1.0) ** 2) * on
    expected = (1 - share) * raw / raw.sum() + share * on / 2
    np.testing.assert_allclose(layer.weights[0], expected, rtol=1e-15)
    assert expected[0] > 0.5 > expected[1]  # the expert closer to the truth gains


def _stream(rng, n, n_labels, sticky):
    """Noise features; label sets drawn independently at random, or (``sticky``) repeating the
    previous set nine times in ten."""
    X = rng.normal(size=(n, 6))
    Y = rng.random((n, n_labels)) < 0.3
    if sticky:
        for t in range(1, n):
            if rng.random() < 0.9:
                Y[t] = Y[t - 1]
    return X, Y


def _micro_f1(experts_used, X, Y):
    model = IHOMER(labels=[f"l{j}" for j in range(Y.shape[1])], experts=experts_used)
    predicted = model.predict_learn_many(X, Y)
    metrics = MultiLabelMetrics(Y.shape[1])
    metrics.update(Y, predicted)
    return metrics.get()["micro_f1"]


def test_label_context_sees_no_label_before_predicting_it():
    """On label sets drawn independently of everything, the previous labels carry nothing: the
    context must gain nothing (a leak of the current labels would gain a lot), while on a stream
    that repeats its label sets it must gain a lot."""
    rng = np.random.default_rng(3)
    X, Y = _stream(rng, 3_000, 6, sticky=False)
    random_gain = _micro_f1(("knn", "context"), X, Y) - _micro_f1(("knn", "prior"), X, Y)
    assert abs(random_gain) < 0.02
    X, Y = _stream(rng, 3_000, 6, sticky=True)
    sticky_gain = _micro_f1(("knn", "context"), X, Y) - _micro_f1(("knn", "prior"), X, Y)
    assert sticky_gain > 0.2
    assert math.isfinite(random_gain) and math.isfinite(sticky_gain)


def test_expert_weights_are_visible_per_label():
    rng = np.random.default_rng(4)
    X, Y = _stream(rng, 500, 3, sticky=True)
    model = IHOMER(labels=["a", "b", "c"])
    model.predict_learn_many(X, Y)
    weights = model.expert_weights
    assert list(weights) == ["a", "b", "c"]
    for per_label in weights.values():
        assert list(per_label) == ["model", "knn", "context"]
        assert sum(per_label.values()) == pytest.approx(1.0)
        assert per_label["context"] > per_label["model"]  # the sequence explains the labels
    assert IHOMER(labels=["a"], decision="routing").expert_weights == {}


def test_window_state_is_cut_to_its_longest_row_and_forgets_what_slots_held_before():
    """A restored layer continues with the same state as the layer it came from, although the
    restored window lacks the entries that evicted, longer rows left past each slot's row."""
    from streamlabels.ihomer.experts import ExpertLayer
    from streamlabels.vocabulary import Row

    def layer():
        return ExpertLayer(2, ("model", "knn"), "hedge", "f-optimal", 1, 4, False, "micro_f1")

    def learn(target, size, seed):
        rng = np.random.default_rng(seed)
        row = Row({}, np.sort(rng.choice(40, size, replace=False)), rng.random(size) + 0.1)
        target.reserve(40)
        _, kept = target.decide(np.array([0.3, 0.6]), row)
        target.learn(np.array([seed % 2 == 0, True]), row, kept)

    original = layer()
    for seed, size in enumerate([10, 10, 10, 10, 3, 3, 3, 3]):  # short rows over long ones
        learn(original, size, seed)
    state = original.get_state()
    assert state["window"]["ids"].shape == (4, 3)
    restored = layer()
    restored.set_state(state)
    learn(original, 6, 99)  # widens the state past the short rows of the other slots
    learn(restored, 6, 99)
    mine, theirs = original.get_state()["window"], restored.get_state()["window"]
    assert mine["ids"].shape == (4, 6)
    for name in mine:
        np.testing.assert_array_equal(mine[name], theirs[name], err_msg=name)


def test_an_empty_answer_gives_way_to_the_top_label_as_the_formula_says():
    """``_not_empty_by_default`` against the rule written out (:func:`_threshold_answer`) for
    random scores, thresholds and shares of empty rows; it does change answers."""
    rng = np.random.default_rng(11)
    added = kept_empty = 0
    for _ in range(500):
        n = int(rng.integers(1, 7))
        p = rng.random(n) * rng.choice([0.3, 1.0])
        tau = float(rng.uniform(0.05, 0.9))
        run = np.array([1.0, 100.0, tau, float(rng.choice([0.0, 10.0, 60.0]))])
        out = (p >= tau) & (p > 0)
        before = out.any()
        experts._not_empty_by_default(p, tau, run, out)
        np.testing.assert_array_equal(out, _threshold_answer(p, tau, run))
        added += not before and out.any()
        kept_empty += not out.any()
    assert added > 20 and kept_empty > 20


def test_a_stream_whose_rows_all_have_labels_gets_no_empty_answers_it_need_not(data_dir):
    """scene in file order (sorted by label set, every row labelled): the threshold alone left
    31 rows empty and example-F1 below PREV-LS's; given that rows have labels, the default
    answers at least PREV-LS's example-F1, and the layer counts no empty row."""
    stream = ArrayStream.read(datasets.load("scene"))
    model = IHOMER(labels=stream.label_names, features=stream.feature_names)
    predicted = model.predict_learn_many(stream.X, stream.Y, stream.feature_names)
    Y = np.asarray(stream.Y, dtype=bool)
    metrics, previous = MultiLabelMetrics(Y.shape[1]), MultiLabelMetrics(Y.shape[1])
    metrics.update(Y, predicted)
    previous.update(Y, np.vstack([np.zeros((1, Y.shape[1]), dtype=bool), Y[:-1]]))
    assert metrics.get()["example_f1"] >= previous.get()["example_f1"]
    assert (~predicted[1000:].any(axis=1)).sum() <= 5
    assert model._state.experts.layer.run[experts.EMPTY] == 0.0
