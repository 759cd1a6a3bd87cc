"""LinearLearner against river (standard and unscaled modes) and a numpy reference (sparse mode)."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
from river import linear_model, multioutput, preprocessing

from streamlabels.learners.linear import LinearLearner
from streamlabels.streams import datasets
from streamlabels.vocabulary import FeatureSpace, Row


@pytest.fixture(scope="module")
def yeast(data_dir):
    """``yeast(n)``: the first n rows of dense MULAN yeast, features keyed ``f0``..``f102``, the
    14 labels in file order."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STREAMLABELS_DATA", str(data_dir))
        stream = datasets.load("yeast", labels=-14)

    @functools.cache
    def first(n: int = 1000) -> tuple[list[dict], np.ndarray]:
        xs, ys = [], []
        for x, y in itertools.islice(stream, n):
            xs.append({f"f{j}": x[name] for j, name in enumerate(stream.feature_names)})
            ys.append(list(y.values()))
        return xs, np.array(ys)

    return first


@pytest.fixture(scope="module")
def medical(data_dir):
    """``medical(n)``: the first n rows of sparse MULAN medical, each a dict of the entries of
    its sparse row keyed by feature index (0..1448, file order), and the 45 labels in file order."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STREAMLABELS_DATA", str(data_dir))
        stream = datasets.load("medical", labels=-45)
    index = {name: j for j, name in enumerate(stream.feature_names)}

    @functools.cache
    def first(n: int = 400) -> tuple[list[dict], np.ndarray]:
        xs, ys = [], []
        for x, y in itertools.islice(stream, n):
            xs.append({index[name]: v for name, v in x.items()})
            ys.append(list(y.values()))
        return xs, np.array(ys)

    return first


def rows_of(xs: list[dict]) -> list[Row]:
    fs = FeatureSpace()
    return [fs.row(x) for x in xs]


def csr_of(rows: list[Row]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    indptr = np.cumsum([0] + [len(r.indices) for r in rows])
    indices = np.concatenate([r.indices for r in rows])
    return indptr, indices, np.concatenate([r.values for r in rows])


def prequential(model: LinearLearner, rows: list[Row], Y: np.ndarray) -> np.ndarray:
    """Predict then learn each row; returns the predictions, shape (n, n_outputs)."""
    out = np.empty(Y.shape)
    for i, (row, y) in enumerate(zip(rows, Y)):
        out[i] = model.predict_proba_one(row)
        model.learn_one(row, y)
    return out


def river_prequential(river_model, xs: list[dict], Y: np.ndarray) -> np.ndarray:
    """River's P(True) per output; NaN where river has no model for the output yet."""
    out = np.full(Y.shape, np.nan)
    for i, (x, y) in enumerate(zip(xs, Y)):
        for k, proba in river_model.predict_proba_one(x).items():
            out[i, k] = proba[True]
        river_model.learn_one(x, dict(enumerate(y.tolist())))
    return out


class SqrtStandardScaler(preprocessing.StandardScaler):
    """river's scaler dividing by ``math.sqrt(var)`` (correctly rounded) instead of ``var**0.5``.

    ``var**0.5`` goes through libm's ``pow``, which is off by one ulp from ``sqrt`` for some inputs;
    LinearLearner uses ``sqrt``. With this one change, river must agree bit for bit.
    """

    def transform_one(self, x):
        return {
            i: (xi - self.means[i]) / math.sqrt(self.vars[i]) if self.vars[i] else 0.0
            for i, xi in x.items()
        }


@pytest.fixture(scope="module")
def yeast_runs(yeast):
    xs, Y = yeast()
    ours = LinearLearner(n_outputs=14)
    p_ours = prequential(ours, rows_of(xs), Y)
    river = multioutput.PerOutputClassifier(
        preprocessing.StandardScaler() | linear_model.LogisticRegression()
    )
    p_river = river_prequential(river, xs, Y)
    river_sqrt = multioutput.PerOutputClassifier(
        SqrtStandardScaler() | linear_model.LogisticRegression()
    )
    p_river_sqrt = river_prequential(river_sqrt, xs, Y)
    return ours, p_ours, river, p_river, p_river_sqrt


def test_standard_matches_river_on_yeast(yeast_runs):
    ours, p_ours, river, p_river, _ = yeast_runs
    # river has no per-output model before the first learn_one; ours answers 0.5 there.
    assert np.isnan(p_river[0]).all() and (p_ours[0] == 0.5).all()
    assert not np.isnan(p_river[1:]).any()
    np.testing.assert_allclose(p_ours[1:], p_river[1:], rtol=0, atol=1e-9)
    assert p_ours.std() > 0.05  # the model moved away from 0.5: the comparison is not vacuous
    # The shared scaler holds exactly river's per-output scaler statistics.
    scaler = river[0]["StandardScaler"]
    names = [f"f{j}" for j in range(103)]
    assert ours._counts[:103].tolist() == [scaler.counts[f] for f in names]
    assert ours._stat1[:103].tolist() == [scaler.means[f] for f in names]
    assert ours._stat2[:103].tolist() == [scaler.vars[f] for f in names]


def test_standard_is_bit_exact_with_river_up_to_sqrt(yeast_runs):
    _, p_ours, _, p_river, p_river_sqrt = yeast_runs
    np.testing.assert_array_equal(p_ours[1:], p_river_sqrt[1:])
    # ... and the pow/sqrt ulp differences are real, so the exact test above is the sharper one.
    assert (p_river[1:] != p_river_sqrt[1:]).any()


def test_standard_densifies_sparse_rows_like_river(medical):
    """Absent features count as 0.0 once seen: river fed dicts densified over the seen features."""
    xs, Y = medical(120)
    Y = Y[:, :5]
    seen: dict = {}
    dense_xs = []
    for x in xs:
        seen.update(dict.fromkeys(x))
        dense_xs.append({f: x.get(f, 0.0) for f in sorted(seen)})
    river = multioutput.PerOutputClassifier(
        SqrtStandardScaler() | linear_model.LogisticRegression()
    )
    p_river = river_prequential(river, dense_xs, Y)
    fs = FeatureSpace(range(1449))  # column id == feature id, so column order == sorted order
    ours = LinearLearner(n_outputs=5)
    p_ours = prequential(ours, [fs.row(x) for x in xs], Y)
    np.testing.assert_array_equal(p_ours[1:], p_river[1:])
    assert len(seen) > 10 * len(xs[0])  # most columns appeared after the first row


@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_none_matches_river_logistic_regression_on_sparse_dicts(medical, l2):
    """Unscaled mode is river's LogisticRegression fed only the non-zeros, to the bit."""
    xs, Y = medical(200)
    river = multioutput.PerOutputClassifier(
        linear_model.LogisticRegression(l2=l2, intercept_lr=0.05)
    )
    p_river = river_prequential(river, xs, Y)
    # Column id == feature id keeps the dot products summed in river's (dict) order.
    fs = FeatureSpace(range(1449))
    ours = LinearLearner(n_outputs=45, l2=l2, intercept_lr=0.05, scaling="none")
    p_ours = prequential(ours, [fs.row(x) for x in xs], Y)
    np.testing.assert_array_equal(p_ours[1:], p_river[1:])
    w = river[3].weights
    assert ours.weights[3].tolist() == [w.get(j, 0.0) for j in range(ours.weights.shape[1])]
    assert len(w) > 100 and np.abs(ours.weights[3]).max() > 0


def sparse_reference(xs: list[dict], Y: np.ndarray, n_features: int, lr=0.01, l2=0.0, ilr=0.01):
    """The "sparse" mode in plain numpy on dense arrays: population variance over all instances
    (zeros included, Welford), non-zeros divided by the standard deviation, SGD on present columns.
    """
    n_outputs = Y.shape[1]
    W, b = np.zeros((n_outputs, n_features)), np.zeros(n_outputs)
    mean, m2 = np.zeros(n_features), np.zeros(n_features)

    def scaled(x, n):
        cols = np.array(sorted(x), dtype=np.int64)
        vals = np.array([x[c] for c in cols])
        var = m2[cols] / n if n else np.zeros(len(cols))
        return cols, np.where(var > 0, vals / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)

    preds = np.empty(Y.shape)
    for n, (x, y) in enumerate(zip(xs, Y), start=1):
        cols, s = scaled(x, n - 1)
        preds[n - 1] = 1 / (1 + np.exp(-(W[:, cols] @ s + b)))
        dense = np.zeros(n_features)
        dense[list(x)] = list(x.values())
        delta = dense - mean
        mean += delta / n
        m2 += delta * (dense - mean)
        cols, s = scaled(x, n)
        p = 1 / (1 + np.exp(-(W[:, cols] @ s + b)))
        g = p - y  # d log-loss / d raw score
        b -= ilr * g
        W[:, cols] -= lr * (np.outer(g, s) + l2 * W[:, cols])
    return preds, W, b


@pytest.mark.parametrize("l2", [0.0, 0.001])
def test_sparse_matches_numpy_reference_on_medical(medical, l2):
    xs, Y = medical(400)
    fs = FeatureSpace(range(1449))
    # The reference's dense Welford variance rounds differently (~1e-14 relative); at river's
    # default learning rate SGD does not amplify that, larger rates (0.05) reach ~1e-9.
    ours = LinearLearner(n_outputs=45, l2=l2, scaling="sparse")
    p_ours = prequential(ours, [fs.row(x) for x in xs], Y)
    p_ref, W_ref, b_ref = sparse_reference(xs, Y, 1449, l2=l2)
    np.testing.assert_allclose(p_ours, p_ref, rtol=0, atol=1e-13)
    np.testing.assert_allclose(ours.intercepts, b_ref, rtol=0, atol=1e-13)
    W = ours.weights
    np.testing.assert_allclose(W, W_ref[:, : W.shape[1]], rtol=0, atol=1e-13)
    assert np.abs(W).max() > 0.3 and p_ours.std() > 0.01


def test_sparse_keeps_constant_columns_at_zero():
    """A column equal to 0.3 in every row has zero variance: it must not blow up to 0.3 / 1e-9."""
    fs = FeatureSpace()
    model = LinearLearner(n_outputs=1, scaling="sparse")
    for i in range(50):
        model.learn_one(fs.row({"c": 0.3, "x": float(i % 3)}), np.array([i % 3 == 0]))
    assert model.weights[0, 0] == 0.0
    assert model.weights[0, 1] != 0.0


@pytest.mark.parametrize("scaling", ["standard", "sparse", "none"])
def test_late_columns_grow_the_state_and_are_ignored_until_learned(scaling):
    fs = FeatureSpace()
    model = LinearLearner(n_outputs=2, scaling=scaling, lr=0.1)
    for i in range(30):
        row = fs.row({"a": float(i % 2), "b": float(i % 5)})
        model.learn_one(row, np.array([i % 2 == 0, True]))
    for j in range(200):
        fs.column(f"unused{j}")
    late = fs.row({"a": 1.0, "b": 2.0, "late": 7.0})
    without = fs.row({"a": 1.0, "b": 2.0})
    before = model.predict_proba_one(without)
    np.testing.assert_array_equal(model.predict_proba_one(late), before)  # never learned: ignored
    model.learn_one(late, np.array([True, False]))
    model.learn_one(fs.row({"a": 0.0, "late": 3.0}), np.array([False, True]))  # non-zero variance
    assert model.weights.shape == (2, 203)
    assert model._weights.shape == (256, 2)  # capacity doubled from 64 (columns x outputs)
    assert (model.weights[:, 2:202] == 0).all() and (model.weights[:, 202] != 0).all()
    assert (model.predict_proba_one(late) != model.predict_proba_one(without)).all()


@pytest.mark.parametrize("scaling", ["standard", "sparse", "none"])
def test_batch_paths_equal_one_at_a_time(medical, scaling):
    xs, Y = medical(250)
    rows = rows_of(xs)
    one = LinearLearner(n_outputs=45, l2=0.001, scaling=scaling)
    for row, y in zip(rows[:200], Y[:200]):
        one.learn_one(row, y)
    many = LinearLearner(n_outputs=45, l2=0.001, scaling=scaling)
    many.learn_many(*csr_of(rows[:120]), Y[:120])
    many.learn_many(*csr_of(rows[120:200]), Y[120:200])
    np.testing.assert_array_equal(many.weights, one.weights)
    np.testing.assert_array_equal(many.intercepts, one.intercepts)
    for name in ("_counts", "_stat1", "_stat2", "_meta"):
        size = one._meta[1]
        np.testing.assert_array_equal(getattr(many, name)[:size], getattr(one, name)[:size])
    batch = many.predict_proba_many(*csr_of(rows[200:]))
    loop = np.array([one.predict_proba_one(row) for row in rows[200:]])
    np.testing.assert_array_equal(batch, loop)
    assert batch.shape == (50, 45) and batch.std() > 0


@pytest.mark.parametrize("scaling", ["standard", "sparse"])
def test_subset_keeps_state_and_is_independent(medical, scaling):
    xs, Y = medical(200)
    rows = rows_of(xs)
    model = LinearLearner(n_outputs=45, scaling=scaling)
    for row, y in zip(rows[:100], Y[:100]):
        model.learn_one(row, y)
    outputs = [7, 0, 31]
    sub = model.subset(outputs)
    assert sub.n_outputs == 3
    np.testing.assert_array_equal(
        sub.predict_proba_one(rows[100]), model.predict_proba_one(rows[100])[outputs]
    )
    # Outputs are independent and the scaler is replicated, so learning on together stays exact.
    for row, y in zip(rows[100:], Y[100:]):
        model.learn_one(row, y)
        sub.learn_one(row, y[outputs])
    np.testing.assert_array_equal(sub.weights, model.weights[outputs])
    # Independence: learning on the copy does not touch the original, and vice versa.
    frozen = model.weights.copy()
    sub.learn_one(rows[0], np.array([True, True, True]))
    np.testing.assert_array_equal(model.weights, frozen)
    sub_weights = sub.weights.copy()
    model.learn_one(rows[1], np.ones(45, dtype=bool))
    np.testing.assert_array_equal(sub.weights, sub_weights)


def test_predict_is_pure_and_runs_are_deterministic(yeast):
    xs, Y = yeast(300)
    rows = rows_of(xs)
    a, b = LinearLearner(n_outputs=14), LinearLearner(n_outputs=14)
    for row, y in zip(rows, Y):
        a.learn_one(row, y)
        b.predict_proba_one(row)  # extra predictions must not change anything
        b.learn_one(row, y)
        b.predict_proba_one(row)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.intercepts, b.intercepts)
    np.testing.assert_array_equal(a._stat2, b._stat2)


def test_invalid_input_is_rejected_with_a_reason():
    with pytest.raises(ValueError, match="scaling"):
        LinearLearner(n_outputs=2, scaling="minmax")
    with pytest.raises(ValueError, match="lr"):
        LinearLearner(n_outputs=2, lr=-0.1)
    with pytest.raises(ValueError, match="n_outputs"):
        LinearLearner(n_outputs=0)
    model = LinearLearner(n_outputs=2)
    row = FeatureSpace().row({"a": 1.0})
    with pytest.raises(ValueError, match="shape"):
        model.learn_one(row, np.array([True, False, True]))
    with pytest.raises(TypeError, match="bool"):
        model.learn_one(row, np.array([1, 0]))
    with pytest.raises(ValueError, match="ascending"):
        model.learn_many([0, 2], [3, 1], [1.0, 1.0], np.array([[True, False]]))
    with pytest.raises(ValueError, match="indptr"):
        model.predict_proba_many([0, 3], [1, 2], [1.0, 1.0])
    with pytest.raises(ValueError, match="repeat"):
        model.subset([1, 1])
    with pytest.raises(ValueError, match="lie in"):
        model.subset([2])
