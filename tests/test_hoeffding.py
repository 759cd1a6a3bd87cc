"""MultiLabelHoeffdingTree: planted rules, sparse rows, determinism, subsets, size bounds, yeast."""

from __future__ import annotations

import numpy as np
import pytest

from streamlabels.features import Row
from streamlabels.learners.hoeffding import MultiLabelHoeffdingTree
from streamlabels.streams import datasets


def dense(x: np.ndarray) -> Row:
    return Row({}, np.arange(x.shape[0], dtype=np.int64), np.asarray(x, dtype=np.float64))


def sparse(x: np.ndarray) -> Row:
    nz = np.flatnonzero(x)
    return Row({}, nz.astype(np.int64), x[nz].astype(np.float64))


def planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """y0 = x3 > 0.5, y1 = y0 and x7 < 0, over 10 uniform features in [-1, 1]."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n, 10))
    y0 = X[:, 3] > 0.5
    return X, np.column_stack([y0, y0 & (X[:, 7] < 0.0)])


def sparse_stream(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """40 features, each present with probability 0.1 (binary or signed values); y0 = x5 present,
    y1 = x12 < -0.3, y2 = y0 or y1."""
    rng = np.random.default_rng(seed)
    present = rng.random((n, 40)) < 0.1
    X = np.where(present, rng.uniform(-1.0, 1.0, (n, 40)), 0.0)
    X[:, 5] = present[:, 5].astype(float)
    Y = np.column_stack([X[:, 5] != 0.0, X[:, 12] < -0.3])
    return X, np.column_stack([Y, Y[:, 0] | Y[:, 1]])


def learn(tree: MultiLabelHoeffdingTree, X, Y, row=dense) -> MultiLabelHoeffdingTree:
    for x, y in zip(X, Y):
        tree.learn_one(row(x), y)
    return tree


def test_learns_a_planted_rule_and_splits_on_its_features():
    X, Y = planted(3000, seed=1)
    tree = learn(MultiLabelHoeffdingTree(2, grace_period=100), X, Y)
    features = [j for j, _ in tree.splits]
    assert features[0] == 3 and 7 in features
    # Gaussian estimates of a uniform feature put the first cut low; a deeper one refines it
    assert min(abs(t - 0.5) for j, t in tree.splits if j == 3) < 0.05
    X_test, Y_test = planted(1000, seed=2)
    predicted = np.array([tree.predict_proba_one(dense(x)) >= 0.5 for x in X_test])
    assert np.mean(np.all(predicted == Y_test, axis=1)) > 0.95


@pytest.mark.parametrize("leaf_model", ["majority", "br-linear", "lp-knn"])
def test_every_leaf_model_learns_the_rule(leaf_model):
    X, Y = planted(2000, seed=3)
    tree = learn(MultiLabelHoeffdingTree(2, grace_period=100, leaf_model=leaf_model), X, Y)
    X_test, Y_test = planted(500, seed=4)
    predicted = np.array([tree.predict_proba_one(dense(x)) >= 0.5 for x in X_test])
    assert np.mean(predicted == Y_test) > 0.9


def test_an_untrained_tree_predicts_no_label():
    tree = MultiLabelHoeffdingTree(3)
    assert tree.predict_proba_one(dense(np.ones(4))).tolist() == [0.0, 0.0, 0.0]
    assert (tree.n_nodes, tree.n_leaves, tree.depth, tree.splits) == (1, 1, 0, [])


def test_same_seed_same_tree_and_the_bootstrap_matters():
    X, Y = planted(1500, seed=5)
    a, b, c = (learn(MultiLabelHoeffdingTree(2, grace_period=100, seed=s), X, Y) for s in (0, 0, 1))
    probe = [dense(x) for x in planted(200, seed=6)[0]]
    assert a.splits == b.splits
    assert all(np.array_equal(a.predict_proba_one(r), b.predict_proba_one(r)) for r in probe)
    assert a.splits != c.splits  # another bootstrap sample gives other thresholds


def test_sparse_rows_equal_dense_rows_with_explicit_zeros():
    X, Y = sparse_stream(2500, seed=7)
    via_dense = learn(MultiLabelHoeffdingTree(3, grace_period=100), X, Y, dense)
    via_sparse = learn(MultiLabelHoeffdingTree(3, grace_period=100), X, Y, sparse)
    assert via_dense.splits == via_sparse.splits
    for x in sparse_stream(300, seed=8)[0]:
        assert np.array_equal(via_dense.predict_proba_one(dense(x)),
                              via_sparse.predict_proba_one(sparse(x)))
    # the binary feature 5 splits between its zeros and its ones
    assert any(j == 5 and 0.0 < t < 1.0 for j, t in via_sparse.splits)


def test_sparse_rows_learn_the_sparse_rule():
    X, Y = sparse_stream(4000, seed=9)
    tree = learn(MultiLabelHoeffdingTree(3, grace_period=100), X, Y, sparse)
    assert {5, 12} <= {j for j, _ in tree.splits}
    X_test, Y_test = sparse_stream(500, seed=10)
    predicted = np.array([tree.predict_proba_one(sparse(x)) >= 0.5 for x in X_test])
    assert np.mean(predicted == Y_test) > 0.95


def test_unseen_columns_at_prediction_are_ignored():
    X, Y = planted(500, seed=11)
    tree = learn(MultiLabelHoeffdingTree(2, grace_period=100), X, Y)
    row = dense(X[0])
    wider = Row({}, np.append(row.indices, 10_000), np.append(row.values, 3.0))
    assert np.array_equal(tree.predict_proba_one(row), tree.predict_proba_one(wider))


def test_subset_keeps_the_learned_state_and_is_independent():
    X, Y = sparse_stream(2500, seed=12)
    tree = learn(MultiLabelHoeffdingTree(3, grace_period=100, leaf_model="br-linear"), X, Y,
                 sparse)
    part = tree.subset([2, 0])
    assert part.n_outputs == 2 and part.splits == tree.splits
    probe = [sparse(x) for x in sparse_stream(200, seed=13)[0]]
    before = [tree.predict_proba_one(r) for r in probe]
    for r, p in zip(probe, before):
        assert np.array_equal(part.predict_proba_one(r), p[[2, 0]])
    learn(part, X[:300], Y[:300, [2, 0]], sparse)
    assert all(np.array_equal(tree.predict_proba_one(r), p) for r, p in zip(probe, before))
    # the label-set tables are rebuilt over the kept outputs: a leaf can have at most 3 sets now
    leaves = [s for s in part._nodes[5][: part.n_nodes] if s >= 0]
    assert all(1 <= part._slots[10][s, 0] <= 3 for s in leaves)


@pytest.mark.parametrize("outputs", [[0, 2, 5], [1.5], [], [0, 0]])
def test_subset_rejects_bad_outputs(outputs):
    with pytest.raises(ValueError):
        MultiLabelHoeffdingTree(3).subset(outputs)


def test_size_is_bounded_by_max_nodes_and_max_depth():
    X, Y = planted(4000, seed=14)
    small = learn(MultiLabelHoeffdingTree(2, grace_period=50, tau=1.0, max_nodes=5), X, Y)
    assert small.n_nodes == 5  # tau=1 forces splits: the cap, not the data, stops growth
    shallow = learn(MultiLabelHoeffdingTree(2, grace_period=50, tau=1.0, max_depth=2), X, Y)
    assert shallow.depth == 2 and shallow.n_nodes <= 7
    size = shallow.nbytes
    learn(shallow, X, Y)
    assert shallow.nbytes == size


def test_input_is_validated():
    tree = MultiLabelHoeffdingTree(2)
    with pytest.raises(ValueError, match="shape"):
        tree.learn_one(dense(np.ones(3)), np.array([True]))
    with pytest.raises(TypeError, match="bool"):
        tree.learn_one(dense(np.ones(3)), np.array([1, 0]))
    with pytest.raises(ValueError, match="leaf_model"):
        MultiLabelHoeffdingTree(2, leaf_model="nb")
    with pytest.raises(TypeError):
        MultiLabelHoeffdingTree(2.0)


def test_yeast_prequential_micro_f1_is_in_the_range_of_river_trees(data_dir, monkeypatch):
    """River's per-output Hoeffding trees reach 0.606 micro-F1 on yeast in file order."""
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    data = datasets.load_arrays("yeast")
    X, Y = np.asarray(data.X, dtype=np.float64), np.asarray(data.Y, dtype=bool)
    tree = MultiLabelHoeffdingTree(Y.shape[1])
    tp = fp = fn = 0
    for x, y in zip(X, Y):
        predicted = tree.predict_proba_one(dense(x)) >= 0.5
        tp += np.sum(predicted & y)
        fp += np.sum(predicted & ~y)
        fn += np.sum(~predicted & y)
        tree.learn_one(dense(x), y)
    micro_f1 = 2 * tp / (2 * tp + fp + fn)
    assert 0.55 < micro_f1 < 0.75
