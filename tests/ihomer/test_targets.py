"""Decision targets (``IHOMER(target=...)``, :mod:`streamlabels.kernels.targets`): each rule
against a brute-force statement of what it should choose, and each target against the metric it
is for on streams where the right decision is known."""

from __future__ import annotations

import itertools
from collections import namedtuple

import numpy as np
import pytest

from streamlabels.evaluate.metrics import MultiLabelMetrics
from streamlabels.ihomer import IHOMER
from streamlabels.kernels import experts, targets
from streamlabels.streams import datasets
from streamlabels.streams.arrays import ArrayStream


def test_the_plug_in_rule_takes_the_best_number_of_top_labels():
    """``_plug_in`` stops adding labels early; the brute force tries every k (and none)."""
    rng = np.random.default_rng(3)
    for _ in range(300):
        n = int(rng.integers(1, 9))
        p = rng.random(n) ** rng.choice([0.5, 1.0, 3.0])
        order = np.argsort(-p, kind="stable")
        gains = [np.prod(1.0 - p)] + [2.0 * p[order[:k]].sum() / (k + p.sum())
                                      for k in range(1, n + 1)]
        best = int(np.argmax(gains))
        expected = np.zeros(n, dtype=bool)
        expected[order[:best]] = True
        got = np.zeros(n, dtype=bool)
        taken = np.zeros(n, dtype=bool)
        targets._plug_in(p, taken, got)
        np.testing.assert_array_equal(got, expected)
        assert not taken.any()


def test_a_label_cut_maximises_f1_on_its_histogram_plus_the_prior():
    rng = np.random.default_rng(5)
    n_bins = 20
    for _ in range(200):
        hist = rng.random((2, n_bins)) * (rng.random((2, n_bins)) < 0.4)
        glob = rng.random((2, n_bins))
        prior = float(rng.choice([0.0, 0.1, 2.0]))
        total = hist + prior * glob
        f1 = {}
        for b in range(1, n_bins):
            tp, fp = total[1, b:].sum(), total[0, b:].sum()
            f1[b] = 2 * tp / (tp + fp + total[1].sum()) if tp > 0 else 0.0
        cut = targets._f_optimal_cut(hist, glob, prior, n_bins)
        if total[1].sum() == 0:
            assert cut == n_bins
        else:
            assert f1[cut] == pytest.approx(max(f1.values()), rel=1e-12)


def test_the_likeliest_set_is_the_table_set_bayes_rule_ranks_first():
    """``_likeliest`` against the posterior of every table set written out in full:
    P(S) times, per label, P(its value in S | x) / P(its value), labels independent."""
    rng = np.random.default_rng(8)
    view = namedtuple("View", ["sets", "set_counts", "run", "frequency"])  # what it reads
    n_labels = 6
    for _ in range(300):
        fields = targets.new_state("subset", n_labels, 20)
        sets, counts = fields["sets"], fields["set_counts"]
        n_sets = int(rng.integers(1, targets.N_SETS + 1))
        sets[:n_sets] = rng.random((n_sets, n_labels)) < 0.4
        counts[:n_sets, targets.TOTAL_COUNT] = rng.integers(1, 50, n_sets)
        run = np.array([1.0, float(rng.integers(1, 500)), 0.5])
        frequency = (0.05 + 0.9 * rng.random(n_labels)) * run[targets.ROWS]
        q = 0.01 + 0.98 * rng.random(n_labels)
        got = np.zeros(n_labels, dtype=bool)
        targets._likeliest(q, view(sets, counts, run, frequency), np.zeros(n_labels), got)
        f = frequency / run[targets.ROWS]
        posterior = np.array([
            np.log(counts[s, 0]) + np.sum(np.where(sets[s], np.log(q / f),
                                                   np.log((1 - q) / (1 - f))))
            for s in range(n_sets)])
        chosen = [s for s in range(n_sets) if np.array_equal(sets[s], got)]
        assert chosen and posterior[chosen].max() == pytest.approx(posterior.max(), abs=1e-9)
    got = np.ones(n_labels, dtype=bool)  # an empty table proposes the empty set
    empty = targets.new_state("subset", n_labels, 20)
    targets._likeliest(q, view(empty["sets"], empty["set_counts"], run, frequency),
                       np.zeros(n_labels), got)
    assert not got.any()


def test_the_set_targets_read_the_row_count_where_the_layer_keeps_it():
    assert targets.ROWS == experts.TOTAL


def _featureless_stream(sets, weights, n, seed):
    """Rows whose features are noise and whose label set is drawn from ``sets``."""
    rng = np.random.default_rng(seed)
    n_labels = len(sets[0])
    picks = rng.choice(len(sets), size=n, p=weights)
    Y = np.array([sets[i] for i in picks], dtype=bool)
    X = rng.normal(size=(n, 5))
    return ArrayStream(X, Y, [f"x{i}" for i in range(5)], [f"y{j}" for j in range(n_labels)])


def _replay(stream, **params):
    model = IHOMER(labels=stream.label_names, features=stream.feature_names, n_min=100,
                   **params)
    predicted = model.predict_learn_many(stream.X, stream.Y, stream.feature_names)
    metrics = MultiLabelMetrics(len(stream.label_names))
    metrics.update(stream.Y, predicted)
    return metrics.get()


def test_subset_target_finds_the_most_frequent_set_when_features_say_nothing():
    """Three correlated label sets with probabilities 0.55, 0.3, 0.15: the Bayes-optimal subset
    decision is always the first (subset accuracy 0.55), while each label's marginal mode mixes
    sets that are never seen together."""
    sets = [[1, 1, 0, 0, 1, 0], [0, 1, 1, 1, 0, 0], [1, 0, 1, 0, 0, 1]]
    stream = _featureless_stream(sets, [0.55, 0.3, 0.15], 3_000, seed=1)
    subset = _replay(stream, target="subset")["subset_accuracy"]
    micro = _replay(stream)["subset_accuracy"]
    assert subset > 0.5 and subset > micro + 0.05


def test_hamming_target_predicts_the_marginal_mode_of_the_scores():
    stream = ArrayStream.read(datasets.load("emotions"), 400)
    model = IHOMER(labels=stream.label_names, features=stream.feature_names, target="hamming")
    for x, y in stream:
        answer = model.predict_one(x)
        proba = model.predict_proba_one(x)
        assert answer == {label: proba[label][True] >= 0.5 for label in answer}
        model.learn_one(x, y)


def test_macro_target_gives_rare_labels_their_own_cut(data_dir):
    """On yeast (14 labels, four with fewer than 8% positives) one threshold for all labels
    leaves the rare ones nearly unpredicted; macro-F1 asks for each label's own cut."""
    stream = ArrayStream.read(datasets.load("yeast"))
    macro = _replay(stream, target="macro_f1")["macro_f1"]
    micro = _replay(stream)["macro_f1"]
    assert macro > micro + 0.02


@pytest.mark.parametrize("target", targets.TARGET_NAMES)
def test_every_target_survives_a_checkpoint(target):
    stream = _featureless_stream([[1, 0, 1], [0, 1, 1], [1, 1, 0]], [0.5, 0.3, 0.2], 600, seed=2)
    model = IHOMER(labels=stream.label_names, target=target, n_min=50)
    for x, y in itertools.islice(stream, 300):
        model.predict_one(x)
        model.learn_one(x, y)
    twin = IHOMER.from_state(model.get_state())
    assert twin.target == target
    for x, y in itertools.islice(stream, 300, None):
        assert twin.predict_one(x) == model.predict_one(x)
        model.learn_one(x, y)
        twin.learn_one(x, y)


def test_a_target_needs_the_decision_layer():
    with pytest.raises(ValueError, match="needs decision='experts'"):
        IHOMER(decision="routing", target="subset")
    with pytest.raises(ValueError, match="target must be one of"):
        IHOMER(target="f1")
