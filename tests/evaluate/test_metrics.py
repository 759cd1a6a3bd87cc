"""MultiLabelMetrics against hand-computed values, river's multioutput metrics and sklearn."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from river import linear_model, multioutput, preprocessing
from river import metrics as rm

from streamlabels import state
from streamlabels.evaluate.metrics import MultiLabelMetrics, RankingMetrics
from streamlabels.streams import datasets

N_YEAST = 500


def _metrics(Y: np.ndarray, P: np.ndarray, **kw) -> MultiLabelMetrics:
    m = MultiLabelMetrics(Y.shape[1], **kw)
    m.update(Y, P)
    return m


def _sklearn(Y: np.ndarray, P: np.ndarray) -> dict[str, float]:
    """Our values expressed through sklearn calls (see the module docstring for the mapping)."""
    both_empty = float(np.mean(~Y.any(axis=1) & ~P.any(axis=1)))
    out = {
        "subset_accuracy": skm.accuracy_score(Y, P),
        "hamming_loss": skm.hamming_loss(Y, P),
        "example_accuracy": skm.jaccard_score(Y, P, average="samples", zero_division=1),
        "example_f1": skm.f1_score(Y, P, average="samples", zero_division=1),
        "example_precision": skm.precision_score(Y, P, average="samples", zero_division=0)
        + both_empty,
        "example_recall": skm.recall_score(Y, P, average="samples", zero_division=0) + both_empty,
    }
    for avg in ("micro", "macro"):
        out[f"{avg}_precision"] = skm.precision_score(Y, P, average=avg, zero_division=0)
        out[f"{avg}_recall"] = skm.recall_score(Y, P, average=avg, zero_division=0)
        out[f"{avg}_f1"] = skm.f1_score(Y, P, average=avg, zero_division=0)
    return out


def _river(Y: np.ndarray, P: np.ndarray) -> dict[str, float]:
    """river's values: every zero denominator scores 0, also when both sets are empty."""
    mo = rm.multioutput
    ms = {
        "subset_accuracy": mo.ExactMatch(),
        "example_accuracy": mo.SampleAverage(rm.Jaccard()),
        "example_precision": mo.SampleAverage(rm.Precision()),
        "example_recall": mo.SampleAverage(rm.Recall()),
        "example_f1": mo.SampleAverage(rm.F1()),
        "hamming_loss": mo.SampleAverage(rm.Accuracy()),  # 1 - Hamming loss
    }
    for avg, wrapper in (("micro", mo.MicroAverage), ("macro", mo.MacroAverage)):
        ms[f"{avg}_precision"] = wrapper(rm.Precision())
        ms[f"{avg}_recall"] = wrapper(rm.Recall())
        ms[f"{avg}_f1"] = wrapper(rm.F1())
    for y, p in zip(Y, P):
        yd = {i: bool(v) for i, v in enumerate(y)}
        pd = {i: bool(v) for i, v in enumerate(p)}
        for m in ms.values():
            m.update(yd, pd)
    out = {k: m.get() for k, m in ms.items()}
    out["hamming_loss"] = 1 - out["hamming_loss"]
    return out


def _assert_close(got: dict[str, float], want: dict[str, float], tol: float = 1e-12) -> None:
    assert set(got) == set(want)
    bad = {k: (got[k], want[k]) for k in got if abs(got[k] - want[k]) > tol}
    assert not bad, bad


# --- hand-computed --------------------------------------------------------------------------


def test_hand_computed_with_macro_zero_convention():
    # 3 labels; label 2 is never seen nor predicted and counts as F1 = 0 in the macro average
    # (docs/algorithm.md §3.2, §7.4 (vii)). Instance 3 has empty truth and prediction.
    Y = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=bool)
    P = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0]], dtype=bool)
    m = MultiLabelMetrics(3)
    for y, p in zip(Y, P):
        m.update(y, p)
    assert m.n == 3
    assert m.tp.tolist() == [2, 0, 0]
    assert m.fp.tolist() == [0, 1, 0]
    assert m.fn.tolist() == [0, 1, 0]
    want = {
        "subset_accuracy": 1 / 3,
        "hamming_loss": 2 / 9,
        "example_accuracy": (1 / 2 + 1 / 2 + 1) / 3,
        "example_precision": (1 + 1 / 2 + 1) / 3,
        "example_recall": (1 / 2 + 1 + 1) / 3,
        "example_f1": (2 / 3 + 2 / 3 + 1) / 3,
        "micro_precision": 2 / 3,
        "micro_recall": 2 / 3,
        "micro_f1": 2 / 3,
        "macro_precision": (1 + 0 + 0) / 3,
        "macro_recall": (1 + 0 + 0) / 3,
        "macro_f1": (1 + 0 + 0) / 3,
    }
    _assert_close(m.get(), want, tol=1e-15)

    # river's convention scores the both-empty instance 0
    r = MultiLabelMetrics(3, both_empty_score=0.0)
    r.update(Y, P)
    got = r.get()
    assert got["example_accuracy"] == pytest.approx(1 / 3, abs=1e-15)
    assert got["example_f1"] == pytest.approx(4 / 9, abs=1e-15)
    assert got["macro_f1"] == pytest.approx(1 / 3, abs=1e-15)


def test_one_empty_side_scores_zero():
    m = MultiLabelMetrics(2)
    m.update(np.array([False, False]), np.array([False, True]))  # Y empty: recall 0/0 -> 0
    m.update(np.array([True, False]), np.array([False, False]))  # Ŷ empty: precision 0/0 -> 0
    s = m.get()
    for k in ("example_accuracy", "example_precision", "example_recall", "example_f1"):
        assert s[k] == 0.0
    assert s["micro_f1"] == 0.0 and s["macro_f1"] == 0.0
    assert s["hamming_loss"] == 0.5


def test_empty_and_reset_and_copy():
    m = MultiLabelMetrics(4)
    assert m.get() == dict.fromkeys(m.get(), 0.0)
    assert len(m.get()) == 12
    m.update(np.array([1, 0, 0, 1], dtype=bool), np.array([1, 0, 0, 0], dtype=bool))
    snap = m.copy()
    m.update(np.array([0, 1, 0, 0], dtype=bool), np.array([0, 1, 0, 0], dtype=bool))
    assert snap.n == 1 and m.n == 2
    assert snap.tp.tolist() == [1, 0, 0, 0]
    assert snap.get()["subset_accuracy"] == 0.0 and m.get()["subset_accuracy"] == 0.5
    m.reset()
    assert m.n == 0 and m.tp.sum() == 0 and m.get()["micro_f1"] == 0.0


def test_shape_mismatch_fails_fast():
    m = MultiLabelMetrics(3)
    with pytest.raises(ValueError, match="shape"):
        m.update(np.zeros(4, dtype=bool), np.zeros(4, dtype=bool))
    with pytest.raises(ValueError, match="shape"):
        m.update(np.zeros(3, dtype=bool), np.zeros((1, 3), dtype=bool))
    with pytest.raises(ValueError):
        MultiLabelMetrics(0)


def test_per_label_and_report():
    Y = np.array([[1, 0, 0], [1, 1, 0]], dtype=bool)
    P = np.array([[1, 1, 0], [0, 1, 0]], dtype=bool)
    m = _metrics(Y, P)
    rows = m.per_label(["a", "b", "c"])
    assert [r["label"] for r in rows] == ["a", "b", "c"]
    assert rows[0] == {
        "label": "a", "support": 2, "tp": 1, "fp": 0, "fn": 1,
        "precision": 1.0, "recall": 0.5, "f1": 2 / 3,
    }  # fmt: skip
    assert rows[1]["precision"] == 0.5 and rows[1]["recall"] == 1.0
    assert rows[2]["f1"] == 0.0 and rows[2]["support"] == 0
    sk = skm.precision_recall_fscore_support(Y, P, zero_division=0)
    np.testing.assert_allclose([r["f1"] for r in rows], sk[2], atol=1e-15)
    np.testing.assert_array_equal([r["support"] for r in rows], sk[3])
    text = m.report(["a", "b", "c"])
    assert "micro avg" in text and "macro avg" in text and "samples avg" in text
    assert text.splitlines()[2].split() == ["a", "1.0000", "0.5000", "0.6667", "2"]
    assert [r["label"] for r in m.per_label()] == [0, 1, 2]
    with pytest.raises(ValueError):
        m.per_label(["a"])


def test_label_names_instead_of_a_count():
    Y = np.array([[1, 0, 0], [1, 1, 0]], dtype=bool)
    P = np.array([[1, 1, 0], [0, 1, 0]], dtype=bool)
    named = MultiLabelMetrics(["a", "b", "c"])
    named.update(Y, P)
    counted = _metrics(Y, P)
    assert (named.n_labels, named.label_names, counted.label_names) == (3, ["a", "b", "c"], None)
    assert named.get() == counted.get()
    assert named.per_label() == counted.per_label(["a", "b", "c"])
    assert named.report() == counted.report(["a", "b", "c"])
    assert [r["label"] for r in named.per_label(["x", "y", "z"])] == ["x", "y", "z"]
    with pytest.raises(ValueError, match="shape"):
        named.update(np.zeros(2, dtype=bool), np.zeros(2, dtype=bool))


def test_label_names_survive_the_state_and_a_copy():
    m = MultiLabelMetrics(("spam", "ham"))
    m.update(np.array([True, False]), np.array([True, True]))
    restored = MultiLabelMetrics.from_state(state.loads(state.dumps(m.get_state())))
    assert restored.label_names == m.copy().label_names == ["spam", "ham"]
    assert restored.get() == m.get()
    saved_before_names = {k: v for k, v in m.get_state().items() if k != "label_names"}
    assert MultiLabelMetrics.from_state(saved_before_names).label_names is None


def test_label_names_are_distinct_names_not_a_string():
    with pytest.raises(TypeError, match="string"):
        MultiLabelMetrics("abc")
    with pytest.raises(ValueError, match="distinct"):
        MultiLabelMetrics(["a", "b", "a"])
    with pytest.raises(ValueError, match=">= 1"):
        MultiLabelMetrics([])


# --- property tests vs sklearn ----------------------------------------------------------------


@st.composite
def _pairs(draw, min_labels: int = 1):
    n = draw(st.integers(1, 25))
    L = draw(st.integers(min_labels, 7))
    Y = draw(arrays(np.bool_, (n, L)))
    P = draw(arrays(np.bool_, (n, L)))
    # Force empty rows and never-seen labels often: they are where the conventions bite.
    if draw(st.booleans()):
        Y[draw(st.integers(0, n - 1))] = False
        P[draw(st.integers(0, n - 1))] = False
    if draw(st.booleans()):
        j = draw(st.integers(0, L - 1))
        Y[:, j] = False
        P[:, j] = False
    return Y, P


@settings(max_examples=150, deadline=None)
@given(_pairs(min_labels=2))  # sklearn reads a single column as binary, not multi-label
def test_matches_sklearn_on_random_matrices(pair):
    Y, P = pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = _sklearn(Y, P)
    _assert_close(_metrics(Y, P).get(), want)


@settings(max_examples=100, deadline=None)
@given(_pairs(), st.integers(0, 25))
def test_batch_equals_single_updates(pair, cut):
    Y, P = pair
    single = MultiLabelMetrics(Y.shape[1])
    for y, p in zip(Y, P):
        single.update(y, p)
    mixed = MultiLabelMetrics(Y.shape[1])  # a batch, then single rows, then a batch
    cut = min(cut, len(Y))
    mixed.update(Y[:cut], P[:cut])
    for y, p in zip(Y[cut : cut + 2], P[cut : cut + 2]):
        mixed.update(y, p)
    mixed.update(Y[cut + 2 :], P[cut + 2 :])
    assert mixed.get() == single.get()  # exactly, not approximately
    assert mixed.n == single.n == len(Y)
    np.testing.assert_array_equal(mixed.tp, single.tp)
    np.testing.assert_array_equal(mixed.fn, single.fn)


# --- real predictions on yeast ----------------------------------------------------------------


def _read_yeast(n: int) -> tuple[list[dict[str, float]], np.ndarray]:
    """The first n rows of MULAN yeast: 103 features, then 14 labels in file order."""
    X, Y = [], []
    for x, y in itertools.islice(datasets.load("yeast", labels=-14), n):
        X.append({f"a{i}": v for i, v in enumerate(x.values())})
        Y.append(list(y.values()))
    return X, np.array(Y, dtype=bool)


@pytest.fixture(scope="module")
def yeast_predictions(data_dir) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STREAMLABELS_DATA", str(data_dir))
        X, Y = _read_yeast(N_YEAST)
    L = Y.shape[1]
    model = multioutput.PerOutputClassifier(
        preprocessing.StandardScaler() | linear_model.LogisticRegression()
    )
    P_lr = np.zeros_like(Y)
    for i, (x, y) in enumerate(zip(X, Y)):
        pred = model.predict_one(x)  # {} before the first learn_one: scored as empty
        P_lr[i] = [bool(pred.get(j, False)) for j in range(L)]
        model.learn_one(x, {j: bool(v) for j, v in enumerate(y)})
    P_prev = np.vstack([np.zeros((1, L), dtype=bool), Y[:-1]])
    assert 0 < P_lr.sum() < P_lr.size and (P_lr != Y).any()
    # Yeast's rarest labels: many rows have empty truth and prediction, so the example-based
    # conventions are exercised on real predictions too.
    rare = np.argsort(Y.mean(axis=0))[:4]
    out = {"lr": (Y, P_lr), "prev": (Y, P_prev), "lr_rare": (Y[:, rare], P_lr[:, rare])}
    out["prev_rare"] = (Y[:, rare], P_prev[:, rare])
    return out


@pytest.mark.parametrize("name", ["lr", "prev", "lr_rare", "prev_rare"])
def test_yeast_parity_with_sklearn(yeast_predictions, name):
    Y, P = yeast_predictions[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = _sklearn(Y, P)
    single = MultiLabelMetrics(Y.shape[1])
    for y, p in zip(Y, P):
        single.update(y, p)
    _assert_close(single.get(), want)
    assert single.get() == _metrics(Y, P).get()


@pytest.mark.parametrize("name", ["lr", "prev", "lr_rare", "prev_rare"])
def test_yeast_parity_with_river(yeast_predictions, name):
    Y, P = yeast_predictions[name]
    want = _river(Y, P)
    _assert_close(_metrics(Y, P, both_empty_score=0.0).get(), want)
    # With our default the example-based scores exceed river's by the both-empty share exactly.
    ours = _metrics(Y, P)
    share = ours.n_both_empty / ours.n
    if name.endswith("rare"):
        assert share > 0.3
    shifted = {k: v - share if k.startswith("example_") else v for k, v in ours.get().items()}
    _assert_close(shifted, want)


# --- ranking metrics -------------------------------------------------------------------------


def _sklearn_ranking(Y: np.ndarray, S: np.ndarray) -> dict[str, float]:
    """sklearn's three ranking metrics, and one-error written out row by row (sklearn has none):
    a row errs when a label sharing the top score is false; a row without true labels never."""
    top = [np.flatnonzero(s == s.max()) for s in S]
    one_error = [float(y.any() and not y[t].all()) for y, t in zip(Y, top)]
    return {
        "one_error": float(np.mean(one_error)),
        "coverage": skm.coverage_error(Y, S),
        "ranking_loss": skm.label_ranking_loss(Y, S),
        "average_precision": skm.label_ranking_average_precision_score(Y, S),
    }


@pytest.fixture(scope="module")
def yeast_scores(data_dir) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Prequential scores of iHOMER on yeast (each row scored before it is learned)."""
    from streamlabels.ihomer import IHOMER

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STREAMLABELS_DATA", str(data_dir))
        stream = list(itertools.islice(datasets.load("yeast"), N_YEAST))
    labels = list(datasets.info("yeast").label_names)
    model = IHOMER(labels=labels)
    Y = np.array([[y[label] for label in labels] for _, y in stream], dtype=bool)
    S = np.zeros(Y.shape)
    for i, (x, y) in enumerate(stream):
        S[i] = model.score_one(x)[1]
        model.learn_one(x, y)
    rare = np.argsort(Y.mean(axis=0))[:4]  # most rows have no true label among these
    assert (~Y[:, rare].any(axis=1)).mean() > 0.3 and len(np.unique(S)) > 1000
    return {"all": (Y, S), "rare": (Y[:, rare], S[:, rare]), "rounded": (Y, S.round(1))}


@pytest.mark.parametrize("name", ["all", "rare", "rounded"])
def test_ranking_metrics_equal_sklearn_on_yeast(yeast_scores, name):
    """``rounded`` ties many scores: ties count against the model in both."""
    Y, S = yeast_scores[name]
    metrics = RankingMetrics(Y.shape[1])
    metrics.update(Y, S)
    got, want = metrics.get(), _sklearn_ranking(Y, S)
    assert got == pytest.approx(want, abs=1e-12)
    assert 0 < got["ranking_loss"] < 0.5 and got["average_precision"] > 0.4


def test_ranking_rows_without_or_with_only_true_labels_follow_sklearn():
    S = np.array([[0.2, 0.9, 0.5], [0.3, 0.3, 0.1]])
    for Y in (np.zeros((2, 3), dtype=bool), np.ones((2, 3), dtype=bool)):
        metrics = RankingMetrics(3)
        metrics.update(Y, S)
        assert metrics.get() == pytest.approx(_sklearn_ranking(Y, S), abs=1e-12)
    empty = RankingMetrics(3)
    empty.update(np.zeros(3, dtype=bool), S[0])
    assert empty.get() == {"one_error": 0.0, "coverage": 0.0, "ranking_loss": 0.0,
                           "average_precision": 1.0}
    with pytest.raises(ValueError, match="finite"):
        empty.update(np.ones(3, dtype=bool), np.array([0.1, np.nan, 0.3]))


@settings(max_examples=100, deadline=None)
@given(_pairs(), st.integers(0, 25), st.integers(0, 2**32 - 1))
def test_ranking_batch_equals_single_rows_and_survives_its_state(pair, cut, seed):
    Y, _ = pair
    S = np.random.default_rng(seed).integers(0, 4, Y.shape) / 4  # many ties
    single = RankingMetrics(Y.shape[1])
    for y, s in zip(Y, S):
        single.update(y, s)
    mixed = RankingMetrics(Y.shape[1])
    cut = min(cut, len(Y))
    mixed.update(Y[:cut], S[:cut])
    mixed = RankingMetrics.from_state(mixed.get_state())
    mixed.update(Y[cut:], S[cut:])
    assert mixed.get() == single.get() and mixed.n == len(Y)
