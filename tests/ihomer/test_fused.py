"""The compiled test-then-train path (IHOMER.predict_learn_many) against the one-at-a-time path.

The fused kernel is trusted only because these tests compare it, bit for bit, with the clear
``predict_one`` then ``learn_one`` loop it replaces: the same predictions at every row and the same
checkpoint bytes at the end, on real datasets and across the model's options.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

from streamlabels.evaluate import prequential
from streamlabels.ihomer import IHOMER, batches
from streamlabels.learners.linear import LinearLearner, stack
from streamlabels.scoring.batch import SERIAL_ROWS
from streamlabels.state import dumps, loads
from streamlabels.streams import Drift, SyntheticStream, datasets
from streamlabels.streams.arrays import ArrayStream
from streamlabels.vocabulary import FeatureSpace, feature_dicts


def _one_at_a_time(model: IHOMER, stream: ArrayStream, scores: np.ndarray | None = None):
    """``predict_one`` then ``learn_one`` row by row; ``score_one``'s scores go into
    ``scores`` when given (zeros before the model has started, as for its empty answer)."""
    predicted = np.zeros(stream.Y.shape, dtype=bool)
    for i, (x, y) in enumerate(stream):
        answer = model.predict_one(x)
        predicted[i] = [answer.get(label, False) for label in stream.label_names]
        if scores is not None and model._state.started:
            scores[i] = model.score_one(x)[1]
        model.learn_one(x, y)
    return predicted


def _in_blocks(model: IHOMER, stream: ArrayStream, size: int) -> np.ndarray:
    blocks = [
        model.predict_learn_many(X, Y, stream.feature_names) for X, Y in stream.batches(size)
    ]
    return np.concatenate(blocks)


def _assert_same(params: dict, stream: ArrayStream, size: int) -> tuple[IHOMER, IHOMER]:
    """The fused path (``predict_learn_many``, and ``score_learn_many`` with its scores) against
    the one-at-a-time loop: every row's labels and scores, and the final state's bytes."""
    one, fused, scored = (
        IHOMER(labels=stream.label_names, features=stream.feature_names, **params)
        for _ in range(3)
    )
    expected_scores = np.zeros(stream.Y.shape)
    expected = _one_at_a_time(one, stream, expected_scores)
    got = _in_blocks(fused, stream, size)
    mismatched = np.flatnonzero((expected != got).any(axis=1))
    assert mismatched.size == 0, f"first differing row: {mismatched[:1]}"
    pairs = [scored.score_learn_many(X, Y, stream.feature_names) for X, Y in stream.batches(size)]
    np.testing.assert_array_equal(np.concatenate([labels for labels, _ in pairs]), expected)
    np.testing.assert_array_equal(np.concatenate([s for _, s in pairs]), expected_scores)
    assert dumps(fused.get_state()) == dumps(one.get_state()) == dumps(scored.get_state())
    _assert_score_many_is_score_one(params, stream, size, dumps(one.get_state()))
    return one, fused


def _assert_score_many_is_score_one(params: dict, stream: ArrayStream, size: int, final: bytes):
    """Before each block is learned, ``score_many`` on it (in one block per thread) and on its
    first rows (in this thread) gives ``score_one``'s labels and scores row by row, and changes
    nothing: the model ends in the same state."""
    assert size > 2 * SERIAL_ROWS
    model = IHOMER(labels=stream.label_names, features=stream.feature_names, **params)
    for X, Y in stream.batches(size):
        rows = [model.score_one(x) for x in feature_dicts(X, stream.feature_names)]
        for n in (X.shape[0], min(X.shape[0], SERIAL_ROWS)):
            labels, scores = model.score_many(X[:n], stream.feature_names)
            np.testing.assert_array_equal(labels, np.array([f for f, _ in rows[:n]]))
            np.testing.assert_array_equal(scores, np.array([s for _, s in rows[:n]]))
        model.learn_many(X, Y, stream.feature_names)
    assert dumps(model.get_state()) == final


@pytest.mark.parametrize(
    ("name", "n", "scaling", "decision"),
    [
        ("enron", 1_702, "sparse", "experts"),
        ("yeast", 2_417, "standard", "experts"),
        ("medical", 978, "sparse", "routing"),
    ],
)
def test_fused_path_equals_one_at_a_time_on_real_data(name, n, scaling, decision, data_dir):
    stream = ArrayStream.read(datasets.load(name), n)
    # 137-row blocks cut runs between checkpoints at every offset.
    params = {"scaling": scaling, "n_min": 100, "decision": decision}
    one, _ = _assert_same(params, stream, 137)
    kinds = {event["kind"] for event in one.events}
    assert "commit" in kinds, "the stream must restructure, so that shadows take part"


@pytest.mark.parametrize(
    "params",
    [
        {"ensure_nonempty": True, "group_nonempty": True, "decision": "routing"},
        {"restructure": "cold", "local_training": "all"},
        {"global_drift": "odac_only", "router_warmup": 0, "local_warmup": 1, "decision": "routing"},
        {"scaling": "none", "theta_route": 0.3, "m_min": 1, "decision": "routing"},
        {"threshold": "fixed", "weighting": "uniform", "experts": ("prior",)},
        {"experts": ("knn",), "knn_k": 3, "knn_window": 50, "scaling": "sparse"},
    ],
)
def test_fused_path_equals_one_at_a_time_across_options(params):
    stream = ArrayStream.read(SyntheticStream(n_instances=2_500, seed=11))
    one, _ = _assert_same({"n_min": 100, **params}, stream, 333)
    assert any(event["kind"] == "commit" for event in one.events)


def test_fused_path_equals_one_at_a_time_across_a_drift_reset():
    """The loss detector's reset of the label tree falls inside a block (the batch path takes a
    block's losses in one call and splits its counting there)."""
    stream = ArrayStream.read(
        SyntheticStream(n_instances=2_500, drifts=(Drift(at=1_500, kind="both"),), seed=1)
    )
    one, _ = _assert_same({"n_min": 100}, stream, 333)
    resets = [event["t"] for event in one.events if event["kind"] == "drift"]
    assert resets and all(t % 333 and t % 100 for t in resets)


@pytest.mark.parametrize("target", ["macro_f1", "example_f1", "hamming", "subset"])
def test_fused_path_equals_one_at_a_time_for_every_target(target, data_dir):
    stream = ArrayStream.read(datasets.load("yeast"), 1_200)
    _assert_same({"n_min": 100, "target": target}, stream, 137)


def test_fused_path_continues_a_restored_model_exactly(data_dir):
    stream = ArrayStream.read(datasets.load("enron"), 1_200)
    head = ArrayStream(stream.X[:500], stream.Y[:500], stream.feature_names, stream.label_names)
    tail = ArrayStream(stream.X[500:], stream.Y[500:], stream.feature_names, stream.label_names)
    model = IHOMER(labels=stream.label_names, features=stream.feature_names, n_min=100)
    _in_blocks(model, head, 500)
    twin = IHOMER.from_state(model.get_state())
    expected = _one_at_a_time(model, tail)
    assert np.array_equal(_in_blocks(twin, tail, 250), expected)
    assert dumps(twin.get_state()) == dumps(model.get_state())


def test_first_prediction_of_a_fresh_model_is_empty_as_predict_one_says():
    stream = ArrayStream.read(SyntheticStream(n_instances=50, seed=2))
    # would predict a label from an untrained model
    params = {"ensure_nonempty": True, "decision": "routing"}
    one = IHOMER(**params)
    fused = IHOMER(**params)
    assert one.predict_one(next(iter(stream))[0]) == {}
    labels, scores = fused.score_many(stream.X[:3], stream.feature_names)  # no labels known yet
    assert labels.shape == scores.shape == (3, 0)
    X, Y = stream.X, stream.Y
    got = fused.predict_learn_many(X, Y, stream.feature_names)
    assert not got[0].any()
    assert np.array_equal(got[1:], _one_at_a_time(one, stream)[1:])


@pytest.mark.parametrize(("decision", "learner"), [("experts", "linear"), ("routing", "linear"),
                                                  ("routing", "tree")])
def test_positives_many_are_predict_many_in_sparse_form(decision, learner, data_dir, monkeypatch):
    """Blocks of rows (here 7 of enron's 53 labels' rows, so the last block is short) kept by
    their positives give ``predict_many``'s labels, and leave the model as it was."""
    stream = ArrayStream.read(datasets.load("enron"), 1_300)
    model = IHOMER(labels=stream.label_names, features=stream.feature_names, n_min=100,
                   scaling="sparse", decision=decision, learner=learner)
    assert model.predict_positives_many(stream.X[:4], stream.feature_names).nnz == 0
    model.learn_many(stream.X[:1_000], stream.Y[:1_000], stream.feature_names)
    before = dumps(model.get_state())
    monkeypatch.setattr(batches, "BLOCK_CELLS", 7 * len(stream.label_names))
    X = stream.X[1_000:]
    positives = model.predict_positives_many(X, stream.feature_names)
    assert isinstance(positives, scipy.sparse.csr_array) and positives.dtype == bool
    expected = model.predict_many(X, feature_names=stream.feature_names)
    assert positives.shape == expected.shape and positives.nnz == expected.sum() > 0
    np.testing.assert_array_equal(positives.toarray(), expected)
    assert dumps(model.get_state()) == before


def test_positives_many_of_a_model_without_labels_have_no_columns():
    positives = IHOMER().predict_positives_many([{"f": 1.0}, {"g": 2.0}])
    assert positives.shape == (2, 0) and positives.nnz == 0


@pytest.mark.parametrize("ranking", [False, True])
def test_prequential_batched_and_per_instance_runs_agree(ranking, data_dir):
    stream = datasets.load("medical")

    class PerInstance(IHOMER):  # hides the batched paths from prequential
        predict_learn_many = property()
        score_learn_many = property()

    params = {"labels": stream.label_names, "features": stream.feature_names, "scaling": "sparse"}
    batched = prequential(stream, IHOMER(**params), stream.label_names, window=300,
                          ranking=ranking)
    looped = prequential(list(stream), PerInstance(**params), stream.label_names, window=300,
                         ranking=ranking)
    assert ("ranking_loss" in batched.metrics) == ranking
    assert batched.n_instances == looped.n_instances == 978
    assert batched.metrics == looped.metrics
    assert [p["window_micro_f1"] for p in batched.history] == [
        p["window_micro_f1"] for p in looped.history
    ]


def test_rows_and_labels_must_agree_in_number():
    model = IHOMER(labels=["a", "b"])
    with pytest.raises(ValueError, match="X has 3 rows but Y has 2"):
        model.predict_learn_many(np.ones((3, 2)), np.ones((2, 2), dtype=bool))
    with pytest.raises(ValueError, match="3 columns but the model knows 2 labels"):
        model.predict_learn_many(np.ones((2, 2)), np.ones((2, 3), dtype=bool))
    assert model.n_instances == 0


def test_river_learners_take_the_loop_and_agree_too():
    from river import tree

    stream = ArrayStream.read(SyntheticStream(n_instances=300, seed=4))
    params = {"learner": tree.HoeffdingTreeClassifier(), "n_min": 50, "restructure": "cold"}
    one = IHOMER(labels=stream.label_names, **params)
    fused = IHOMER(labels=stream.label_names, **params)
    assert np.array_equal(_in_blocks(fused, stream, 100), _one_at_a_time(one, stream))
    assert fused.events == one.events


def test_feature_space_csr_grows_as_rows_would():
    X = scipy.sparse.csr_array(np.array([[0.0, 2.0, 0.0, 0.0], [3.0, 0.0, 0.0, 1.0]]))
    names = ["a", "b", "c", "d"]
    by_rows = FeatureSpace(["d"])
    rows = [by_rows.row({names[j]: v for j, v in zip(r.indices, r.data)}) for r in
            (X[[i]] for i in range(2))]
    by_batch = FeatureSpace(["d"])
    indptr, indices, values = by_batch.csr(X, names)
    assert by_batch.names == by_rows.names == ["d", "b", "a"]
    assert indptr.tolist() == [0, 1, 3]
    assert indices.tolist() == [r for row in rows for r in row.indices.tolist()]
    assert values.tolist() == [v for row in rows for v in row.values.tolist()]


def test_feature_space_csr_without_growing_leaves_out_what_rows_leave_out():
    """Prediction rows: unknown features and non-finite values left out, nothing counted."""
    X = np.array([[np.nan, 2.0, 5.0], [3.0, np.inf, 1.0], [4.0, 0.0, 7.0]])
    names = ["a", "b", "new"]
    space = FeatureSpace(["b", "a"])
    rows = [space.row(dict(zip(names, x)), grow=False) for x in X.tolist()]
    indptr, indices, values = space.csr(X, names, grow=False)
    assert indptr.tolist() == [0, 1, 2, 4]
    assert indices.tolist() == [r for row in rows for r in row.indices.tolist()] == [0, 1, 0, 1]
    assert values.tolist() == [v for row in rows for v in row.values.tolist()]
    assert space.names == ["b", "a"] and space.n_nonfinite == 0


def test_bank_views_are_the_learners_state_until_one_grows():
    learners = [LinearLearner(2), LinearLearner(3, scaling="sparse")]
    bank = stack(learners, 10, None)
    rows, weights, *_ = bank.arrays
    assert rows.tolist() == [0, 2, 5] and weights.shape == (64, 5)  # columns x outputs
    weights[1, 3] = 7.0  # column 1 of the second learner's output 1
    assert learners[1].weights.shape == (3, 0)  # no column learned yet: the view is there
    assert learners[1]._weights[1, 1] == 7.0
    assert stack(learners, 10, bank) is bank
    grown = stack(learners, 100, bank)  # capacity 128 now: the learners are stacked anew
    assert grown is not bank and grown.arrays[1].shape == (128, 5)
    assert learners[1]._weights[1, 1] == 7.0
    assert stack(list(reversed(learners)), 100, grown) is not grown


def test_tree_learners_serve_ihomer_and_checkpoint_exactly():
    stream = ArrayStream.read(SyntheticStream(n_instances=1_200, seed=6))
    head = ArrayStream(stream.X[:700], stream.Y[:700], stream.feature_names, stream.label_names)
    tail = ArrayStream(stream.X[700:], stream.Y[700:], stream.feature_names, stream.label_names)
    model = IHOMER(labels=stream.label_names, learner="tree", n_min=100)
    _one_at_a_time(model, head)
    assert type(model._state.transition.active.router).__name__ == "MultiLabelHoeffdingTree"
    labels, scores = model.score_many(tail.X[:30], tail.feature_names)  # no compiled path
    rows = [model.score_one(x) for x in feature_dicts(tail.X[:30], tail.feature_names)]
    np.testing.assert_array_equal(labels, [flags for flags, _ in rows])
    np.testing.assert_array_equal(scores, [row_scores for _, row_scores in rows])
    twin = IHOMER.from_state(loads(dumps(model.get_state())))
    assert np.array_equal(_in_blocks(twin, tail, 200), _one_at_a_time(model, tail))
    assert dumps(twin.get_state()) == dumps(model.get_state())
