"""MultiLabelHoeffdingTree: planted rules, sparse rows, determinism, subsets, size bounds, yeast;
its compiled ADWIN against streamlabels.drift.ADWIN, drift recovery and checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from streamlabels.drift import ADWIN
from streamlabels.kernels import adwin as _adwin
from streamlabels.learners.hoeffding import MultiLabelHoeffdingTree
from streamlabels.state import dumps, loads
from streamlabels.streams import datasets
from streamlabels.vocabulary import Row


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


def drifting(n: int, at: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three outputs over 10 uniform features in [-1, 1], abrupt drift at ``at``: before it
    y0 = x3 > 0.3, y1 = y0 and x7 < 0, y2 = not y0 and x7 > 0.5; after it the same rules on
    x1 and x5, so the splits learned before are useless after."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n, 10))

    def rule(X, a, b):
        y0 = X[:, a] > 0.3
        return np.column_stack([y0, y0 & (X[:, b] < 0.0), ~y0 & (X[:, b] > 0.5)])

    return X, np.concatenate([rule(X[:at], 3, 7), rule(X[at:], 1, 5)])


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


# -- drift detection ------------------------------------------------------------------------------


def _adwin_values(kind: str, seed: int) -> np.ndarray:
    """Streams with drifts: Bernoulli errors that jump, Hamming losses (L = 22) that rise, Gaussians
    whose mean shifts twice."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3000, 12_000))
    t = np.arange(n)
    if kind == "bernoulli":
        u = rng.random(n)
        return (u < np.where(t < n // 2, rng.uniform(0, 0.4), rng.uniform(0.3, 1))) * 1.0
    if kind == "hamming":
        return rng.binomial(22, np.where(t < n // 3, 0.05, 0.15)) / 22
    return rng.normal(np.select([t < n // 3, t < 2 * n // 3], [0.0, 2.0], 0.5), 1.0)


@pytest.mark.parametrize("delta", [0.002, 0.05, 1e-5])
@pytest.mark.parametrize("kind", ["bernoulli", "hamming", "gaussian"])
def test_compiled_adwin_matches_the_reference_at_every_step(kind, delta):
    state = _adwin.new_state(3)  # detector 1 of 3: rows beside it must not interfere
    detections = 0
    for seed in range(3):
        reference = ADWIN(delta=delta)
        _adwin.reset(1, state)
        for i, value in enumerate(_adwin_values(kind, seed)):
            reference.update(value)
            detected = _adwin.update(1, value, state, delta, 32, 5, 10)
            got = (detected, state[0][1, _adwin.WIDTH], _adwin.estimation(1, state),
                   state[0][1, _adwin.VARIANCE])
            want = (reference.drift_detected, reference.width, reference.estimation,
                    reference.variance)
            assert got == want, f"seed {seed}, step {i}"
            detections += detected
        assert state[1][1, _adwin.N_DETECTIONS] == reference.n_detections
    assert detections >= 3  # the streams do drift
    assert not state[0][[0, 2]].any()


def test_compiled_adwin_memory_is_fixed_and_forgets_the_oldest_values():
    """With 3 rows of 5 buckets the window holds at most 5 * (1 + 2 + 4) + 1 values."""
    state = _adwin.new_state(1, rows=3)
    for _ in range(1000):
        _adwin.update(0, 0.5, state, 0.002, 32, 5, 10)
    assert 0 < state[0][0, _adwin.WIDTH] <= 36
    assert _adwin.estimation(0, state) == 0.5


def _prequential(tree, X, Y, snapshot_at=None):
    """Per-instance subset accuracy, test then train; optionally the state at one instance."""
    correct, snapshot = np.empty(len(X), dtype=bool), None
    for i, (x, y) in enumerate(zip(X, Y)):
        if i == snapshot_at:
            snapshot = dumps(tree.get_state())
        correct[i] = np.all((tree.predict_proba_one(dense(x)) >= 0.5) == y)
        tree.learn_one(dense(x), y)
    return correct, snapshot


def test_alternate_subtrees_recover_from_an_abrupt_drift():
    X, Y = drifting(6000, at=3000, seed=0)
    static, _ = _prequential(MultiLabelHoeffdingTree(3, drift_detection=False), X, Y)
    adaptive_tree = MultiLabelHoeffdingTree(3)
    adaptive, _ = _prequential(adaptive_tree, X, Y)
    assert np.array_equal(static[:3000], adaptive[:3000])  # nothing to detect before the drift
    # the last 2000 instances: the static tree's splits on x3, x7 are useless (0.72 in practice),
    # the adaptive tree has swapped in a tree on x1, x5 (0.96)
    assert adaptive[4000:].mean() > static[4000:].mean() + 0.15
    assert adaptive_tree.n_alternates_created >= 1 and adaptive_tree.n_switches >= 1
    assert adaptive_tree.splits[0][0] == 1
    assert adaptive_tree.n_alternates_created == (
        adaptive_tree.n_switches + adaptive_tree.n_pruned + adaptive_tree.n_alternates)


def test_a_state_round_trip_with_alternates_continues_identically():
    X, Y = drifting(4000, at=2000, seed=1)
    tree = MultiLabelHoeffdingTree(3)
    _, snapshot = _prequential(tree, X, Y, snapshot_at=2250)
    twin = MultiLabelHoeffdingTree.from_state(loads(snapshot))
    assert twin.n_alternates >= 1  # the snapshot has alternates growing
    tail, _ = _prequential(twin, X[2250:], Y[2250:])
    again, _ = _prequential(MultiLabelHoeffdingTree(3), X, Y)
    assert np.array_equal(tail, again[2250:])
    assert twin.n_switches >= 1  # the alternate was swapped in after the restore
    assert (twin.splits, twin.n_nodes, twin.n_switches, twin.n_pruned) == (
        tree.splits, tree.n_nodes, tree.n_switches, tree.n_pruned)
    probe = [dense(x) for x in planted(200, seed=2)[0]]
    assert all(np.array_equal(twin.predict_proba_one(r), tree.predict_proba_one(r)) for r in probe)
    state = tree.get_state()
    for name, value in state["nodes"].items():
        assert np.array_equal(twin.get_state()["nodes"][name], value), name


def test_a_damaged_state_is_refused():
    state = MultiLabelHoeffdingTree(2).get_state()
    state["detectors"]["totals"] = state["detectors"]["totals"][:, :4]
    with pytest.raises(ValueError, match="totals"):
        MultiLabelHoeffdingTree.from_state(state)


def test_alternates_count_against_max_nodes():
    X, Y = drifting(6000, at=3000, seed=0)
    tree = MultiLabelHoeffdingTree(3, max_nodes=15)
    sizes = []
    for x, y in zip(X, Y):
        tree.learn_one(dense(x), y)
        sizes.append(tree.n_nodes)
    assert max(sizes) == 15 and tree.n_switches >= 1
    assert tree._nodes[0].shape[0] == tree._slots[0].shape[0] == 16  # rows are reused
    # a tree that is full before the drift has no room for an alternate
    full = learn(MultiLabelHoeffdingTree(3, max_nodes=11), X, Y)
    assert full.n_alternates_created == 0


def test_without_drift_detection_no_detector_is_used():
    X, Y = drifting(4000, at=2000, seed=0)
    tree = learn(MultiLabelHoeffdingTree(3, drift_detection=False), X, Y)
    assert (tree.n_alternates_created, tree.n_alternates) == (0, 0)
    assert not tree._detectors[0].any()


def test_the_hyper_parameters_and_their_defaults_are_written_once():
    """Both signatures list exactly HoeffdingParams' fields, in its order, with its defaults
    (river needs them explicit), and each kernel slot holds the parameter it is named after."""
    import dataclasses
    import inspect

    from streamlabels.kernels.hoeffding import tree as kernels
    from streamlabels.learners.hoeffding import HoeffdingTreeMultiLabelClassifier
    from streamlabels.learners.hoeffding.params import DEFAULTS, HoeffdingParams

    defaults = {f.name: f.default for f in dataclasses.fields(HoeffdingParams)}
    for cls, own in ((MultiLabelHoeffdingTree, "n_outputs"),
                     (HoeffdingTreeMultiLabelClassifier, "labels")):
        signature = inspect.signature(cls).parameters
        assert list(signature) == [own, *defaults], cls.__name__
        assert {name: signature[name].default for name in defaults} == defaults, cls.__name__
    tree = MultiLabelHoeffdingTree(3)
    assert tree.get_params() == {"n_outputs": 3, **dataclasses.asdict(DEFAULTS)}
    assert HoeffdingTreeMultiLabelClassifier()._get_params() == {"labels": None, **defaults}

    # distinct values, so that a value in the wrong slot shows
    params = HoeffdingParams(grace_period=11.0, delta=0.012, tau=0.013, leaf_model="lp-knn",
                             max_depth=14, max_nodes=15, n_splits=16, min_branch_fraction=0.017,
                             lr=0.018, knn_k=19, cardinality_th=20.0, entropy_th=0.21,
                             drift_detection=False, drift_delta=0.022,
                             switch_significance=0.023, drift_window_threshold=24.0)
    slots = {kernels.GRACE: 11.0, kernels.DELTA: 0.012, kernels.TAU: 0.013,
             kernels.LEAF_MODEL: kernels.LP_KNN, kernels.MAX_DEPTH: 14, kernels.MAX_NODES: 15,
             kernels.N_SPLITS: 16, kernels.MIN_BRANCH: 0.017, kernels.LR: 0.018,
             kernels.KNN_K: 19, kernels.CARDINALITY_TH: 20.0, kernels.ENTROPY_TH: 0.21,
             kernels.DRIFT: 0.0, kernels.DRIFT_DELTA: 0.022, kernels.SWITCH_SIGNIFICANCE: 0.023,
             kernels.DRIFT_WINDOW: 24.0}
    vector = params.kernel_vector()
    assert vector.shape == (kernels.N_PARAMS,) and len(slots) == kernels.N_PARAMS
    assert {slot: vector[slot] for slot in slots} == slots
