"""Snapshot scoring against ``predict_one``: the CPU batch scorer bit for bit, the GPU scorer
(numba's CUDA simulator in CI, a real GPU where there is one) to rounding.

The GPU tests need ``NUMBA_ENABLE_CUDASIM=1`` before numba is imported, so
``test_cuda_scorer_under_the_simulator`` reruns them in a subprocess with it set.
"""

from __future__ import annotations

import copy
import functools
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse
from river import tree

from streamlabels import IHOMER, state
from streamlabels.kernels import targets
from streamlabels.scoring import Snapshot, export, predict_many, predict_proba_many, to_csr
from streamlabels.streams import Drift, SyntheticStream, datasets
from streamlabels.vocabulary import feature_dicts, label_dicts

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


@functools.cache
def _stream(name: str) -> tuple[list[dict], list[dict], list]:
    data = datasets.load_arrays(name)
    xs = list(feature_dicts(data.X))
    return xs, list(label_dicts(data.Y, data.label_names)), data.label_names


@functools.cache
def _trained(name: str, n_train: int, **params) -> tuple[IHOMER, list[dict]]:
    """IHOMER after learning the first ``n_train`` rows of a dataset, and the 200 rows after."""
    xs, ys, labels = _stream(name)
    model = IHOMER(labels=labels, **params)
    for x, y in zip(xs[:n_train], ys[:n_train], strict=True):
        model.learn_one(x, y)
    return model, xs[n_train : n_train + 200]


@pytest.fixture(scope="module")
def trained(data_dir):
    """``trained(name, n_train, **params)``: a model and its held-out rows (cached per module)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STREAMLABELS_DATA", str(data_dir))
        yield _trained


def one_at_a_time(model: IHOMER, rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """``predict_proba_one``'s P(True) and ``predict_one``'s labels, row by row."""
    proba = [[model.predict_proba_one(x)[label][True] for label in model._labels] for x in rows]
    labels = [list(model.predict_one(x).values()) for x in rows]
    return np.array(proba), np.array(labels, dtype=bool)


def assert_batch_equals_one_at_a_time(model: IHOMER, rows: list[dict]) -> Snapshot:
    snapshot = export(model)
    proba, labels = one_at_a_time(model, rows)
    X = to_csr(snapshot, rows)
    small = 8  # a batch this small is scored without the thread pool
    for form, n in ((X, len(rows)), (X.toarray(), len(rows)), (X[:small], small),
                    (X[:small].toarray(), small)):
        np.testing.assert_array_equal(predict_proba_many(snapshot, form), proba[:n])
        np.testing.assert_array_equal(predict_many(snapshot, form), labels[:n])
    return snapshot


@pytest.mark.parametrize("scaling", ["standard", "sparse", "none"])
@pytest.mark.parametrize("name, n_train", [("yeast", 1200), ("medical", 600)])
def test_cpu_batch_equals_predict_one_on_real_data(trained, name, n_train, scaling):
    model, rows = trained(name, n_train, scaling=scaling)
    snapshot = assert_batch_equals_one_at_a_time(model, rows)
    assert snapshot.n_groups == len(model.groups) and snapshot.groups == model.groups


@pytest.mark.parametrize(
    "params",
    [
        {"group_nonempty": True, "ensure_nonempty": True},
        {"ensure_nonempty": True, "theta_route": 0.9, "scaling": "sparse"},
        {"theta_route": 0.2, "local_training": "all"},
        {"target": "macro_f1"},
        {"target": "example_f1"},
        {"target": "hamming"},
        {"target": "subset"},
    ],
)
def test_cpu_batch_follows_the_decision_parameters(trained, params):
    model, rows = trained("yeast", 800, **params)
    assert_batch_equals_one_at_a_time(model, rows)


@functools.cache
def _drifting() -> list[tuple[dict, dict]]:
    stream = SyntheticStream(
        n_instances=6000, drifts=(Drift(at=3000, kind="cooccurrence"),), seed=1
    )
    return list(stream)


@functools.cache
def _warm_up_moments() -> list[tuple[str, IHOMER]]:
    """Copies of a model on a co-occurrence drift at moments of its restructuring warm-up."""
    data = _drifting()
    model = IHOMER()
    moments = []
    for t, (x, y) in enumerate(data[:4701], start=1):
        model.learn_one(x, y)
        if t in (3801, 4101, 4701):
            moments.append((t, copy.deepcopy(model)))
    return moments


def test_cpu_batch_equals_predict_one_during_a_shadow_warm_up():
    rows = [x for x, _ in _drifting()[5000:5200]]
    seen = set()
    for t, model in _warm_up_moments():
        assert model._state.transition.shadow is not None, t
        router_warming = model._state.transition.router_left > 0
        groups_warming = any(left > 0 for left in model._state.transition.groups_left.values())
        seen.add((router_warming, groups_warming))
        snapshot = assert_batch_equals_one_at_a_time(model, rows)
        warmup = snapshot.model.warmup
        assert snapshot.warming_up and (warmup.left[1] > 0) == router_warming
        assert bool(np.any(warmup.warming & (warmup.warm_left > 0))) == groups_warming
        assert snapshot.model.shadow is not snapshot.model.active
    assert seen == {(True, True), (False, True), (True, False)}


def test_untrained_models_predict_their_fallbacks():
    model = IHOMER(labels=["a", "b", "c"])
    rows = [{"x": 1.0}, {}]
    assert_batch_equals_one_at_a_time(model, rows)
    model.learn_one({"x": 1.0, "z": -2.0}, {"a": True, "b": True, "c": False})
    snapshot = assert_batch_equals_one_at_a_time(model, rows + [{"z": 3.0, "unknown": 1.0}])
    assert snapshot.feature_names == ["x", "z"]


def test_export_is_a_frozen_copy_and_leaves_the_model_alone(trained):
    xs, ys, labels = _stream("yeast")
    model, twin = IHOMER(labels=labels), IHOMER(labels=labels)
    for x, y in zip(xs[:400], ys[:400], strict=True):
        model.learn_one(x, y)
        twin.learn_one(x, y)
    snapshot = export(model)
    X = to_csr(snapshot, xs[400:500])
    before = predict_proba_many(snapshot, X)
    for x, y in zip(xs[400:600], ys[400:600], strict=True):
        model.learn_one(x, y)
        twin.learn_one(x, y)
    np.testing.assert_array_equal(predict_proba_many(snapshot, X), before)
    np.testing.assert_array_equal(
        one_at_a_time(model, xs[600:700])[0], one_at_a_time(twin, xs[600:700])[0]
    )
    for array in (snapshot.model.bank.weights, snapshot.model.layer.weights,
                  snapshot.model.active.local_seen):  # copies: scribbling on them changes nothing
        array[...] = 0
    np.testing.assert_array_equal(
        one_at_a_time(model, xs[600:700])[0], one_at_a_time(twin, xs[600:700])[0]
    )


def test_state_round_trip_scores_the_same_and_refuses_damage(trained):
    model, rows = trained("medical", 600, scaling="sparse")
    snapshot = export(model)
    X = to_csr(snapshot, rows)
    restored = Snapshot.from_state(state.loads(state.dumps(snapshot.to_state())))
    np.testing.assert_array_equal(predict_proba_many(restored, X), predict_proba_many(snapshot, X))
    assert restored.labels == snapshot.labels and restored.feature_names == snapshot.feature_names

    def damaged(part: str, **arrays) -> dict:
        state_ = snapshot.to_state()
        return {**state_, part: {**state_[part], **arrays}}

    active = snapshot.model.active
    members = active.members.copy()
    members[0] = snapshot.n_labels
    with pytest.raises(ValueError, match="members"):
        Snapshot.from_state(damaged("active", members=members))
    with pytest.raises(ValueError, match="locals_"):
        Snapshot.from_state(damaged("active", locals_=active.locals_ + 1000))
    with pytest.raises(ValueError, match="weights"):
        Snapshot.from_state(damaged("bank", weights=snapshot.model.bank.weights[:-1]))
    with pytest.raises(ValueError, match="version"):
        Snapshot.from_state({**snapshot.to_state(), "version": 99})
    window = {name: np.array(a) for name, a in snapshot.to_state()["layer"]["window"].items()}
    window["ids"][0, 0] = window["stats"].shape[1]  # an entry past the columns it may read
    window["sizes"][0] = max(window["sizes"][0], 1)
    with pytest.raises(ValueError, match="window"):
        Snapshot.from_state(damaged("layer", window=window))
    target = snapshot.model.layer.target_prm.copy()
    target[0] = 7
    with pytest.raises(ValueError, match="decision target"):
        Snapshot.from_state(damaged("layer", target_prm=target))
    target[0] = 1  # macro-F1, whose cuts per label this layer does not hold
    with pytest.raises(ValueError, match="label_hist"):
        Snapshot.from_state(damaged("layer", target_prm=target))


def test_a_version_3_snapshot_reads_as_the_default_target(trained):
    """Version 3 (before decision targets) had no target arrays: it decides for micro-F1."""
    model, rows = trained("medical", 600, scaling="sparse")
    snapshot = export(model)
    _, body = state.unwrap(snapshot.to_state(), "streamlabels.scoring.Snapshot", (4,))
    layer = {k: v for k, v in body["layer"].items() if k not in targets.FIELDS}
    old = Snapshot.from_state(state.wrap("streamlabels.scoring.Snapshot", 3,
                                         {**body, "layer": layer}))
    X = to_csr(snapshot, rows)
    np.testing.assert_array_equal(predict_many(old, X), predict_many(snapshot, X))


def test_inputs_are_checked_and_any_sparse_layout_is_accepted(trained):
    model, rows = trained("medical", 600, scaling="sparse")
    snapshot = export(model)
    X = to_csr(snapshot, rows[:50])
    expected = predict_proba_many(snapshot, X)
    shuffled = scipy.sparse.coo_array(X)
    order = np.random.default_rng(0).permutation(shuffled.nnz)
    halves = scipy.sparse.coo_array(
        (
            np.concatenate([shuffled.data[order] / 2, shuffled.data[order] / 2]),
            (np.tile(shuffled.row[order], 2), np.tile(shuffled.col[order], 2)),
        ),
        shape=X.shape,
    )
    np.testing.assert_array_equal(predict_proba_many(snapshot, halves), expected)
    csc = scipy.sparse.csc_matrix(X)
    np.testing.assert_array_equal(predict_proba_many(snapshot, csc), expected)
    assert predict_many(snapshot, X[:0]).shape == (0, snapshot.n_labels)
    with pytest.raises(ValueError, match="columns"):
        predict_many(snapshot, X[:, :-1])
    with pytest.raises(ValueError, match="shape"):
        predict_many(snapshot, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="device"):
        predict_many(snapshot, X, device="tpu")
    with pytest.raises(TypeError, match="Snapshot"):
        predict_many(model, X)


def test_only_linear_ihomer_models_can_be_exported():
    with pytest.raises(TypeError, match="linear"):
        export(IHOMER(labels=["a"], learner=tree.HoeffdingTreeClassifier()))
    with pytest.raises(ValueError, match="no labels"):
        export(IHOMER())
    with pytest.raises(TypeError, match="IHOMER"):
        export(object())


def _cuda_ready() -> bool:
    if SIMULATED:
        return True
    from numba import cuda

    return cuda.is_available()


@pytest.mark.skipif(not _cuda_ready(), reason="needs a GPU or NUMBA_ENABLE_CUDASIM=1 (see below)")
def test_cuda_scorer_equals_the_cpu_scorer(trained):
    # The simulator runs each GPU thread in Python: few rows, and dense forms only when narrow.
    cases = [
        (*trained("yeast", 1200, scaling="standard"), True),
        (*trained("medical", 600, scaling="sparse"), False),
        (*trained("yeast", 800, target="subset"), False),
        (*trained("yeast", 800, target="macro_f1"), False),
        (_warm_up_moments()[0][1], [x for x, _ in _drifting()[5000:5004]], True),
        (IHOMER(labels=["a", "b"]), [{"x": 1.0}], True),
    ]
    for model, rows, dense_too in cases:
        snapshot = export(model)
        X = to_csr(snapshot, rows[:4])
        for form in (X, X.toarray()) if dense_too else (X,):
            np.testing.assert_allclose(
                predict_proba_many(snapshot, form, device="cuda"),
                predict_proba_many(snapshot, form), rtol=0, atol=1e-6,
            )
            np.testing.assert_array_equal(
                predict_many(snapshot, form, device="cuda"), predict_many(snapshot, form)
            )


@pytest.mark.skipif(SIMULATED, reason="this is the simulator run's launcher")
def test_cuda_scorer_under_the_simulator(data_dir):
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "STREAMLABELS_DATA": str(data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"{__file__}::test_cuda_scorer_equals_the_cpu_scorer"],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "1 passed" in result.stdout
