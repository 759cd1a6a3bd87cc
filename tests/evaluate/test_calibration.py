"""CalibrationMetrics (Brier score, ECE) against brute-force numpy, and in prequential runs."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlabels.evaluate import prequential
from streamlabels.evaluate.metrics import CalibrationMetrics, MultiLabelMetrics
from streamlabels.peers.baselines import PreviousLabelSet
from streamlabels.streams import datasets


def _brute_force(Y: np.ndarray, P: np.ndarray, n_bins: int) -> dict[str, float]:
    """Brier and ECE written out: every probability kept, each bin selected by its edges."""
    y, p = Y.ravel().astype(float), P.ravel()
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ece = 0.0
    for b in range(n_bins):
        inside = (p >= edges[b]) & ((p < edges[b + 1]) if b < n_bins - 1 else (p <= 1.0))
        if inside.any():
            ece += inside.mean() * abs(p[inside].mean() - y[inside].mean())
    return {"brier": float(np.mean((p - y) ** 2)), "ece": ece}


def _calibration(Y: np.ndarray, P: np.ndarray, n_bins: int = 10) -> CalibrationMetrics:
    metrics = CalibrationMetrics(Y.shape[1], n_bins)
    metrics.update(Y, P)
    return metrics


@pytest.mark.parametrize("n_bins", [10, 15])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_brier_and_ece_equal_a_brute_force_numpy_computation(seed, n_bins):
    rng = np.random.default_rng(seed)
    P = rng.random((300, 7)) ** 2  # skewed towards 0, as sparse labels are
    Y = rng.random(P.shape) < P * 0.7 + 0.05  # miscalibrated: the ECE is far from 0
    got = _calibration(Y, P, n_bins).get()
    want = _brute_force(Y, P, n_bins)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert got["brier"] == pytest.approx(skm.brier_score_loss(Y.ravel(), P.ravel()), rel=1e-12)
    assert 0.05 < got["ece"] < 0.3


def test_hand_computed_values_and_bins():
    """p = 0.25 true 1 time in 4 is perfectly calibrated; p = 0.9 true 1 time in 2 is 0.4 off."""
    Y = np.array([[1, 0], [0, 1], [0, 0], [0, 0]], dtype=bool)
    P = np.array([[0.25, 0.9], [0.25, 0.9], [0.25, 0.0], [0.25, 1.0]])
    m = _calibration(Y, P)
    # squared errors: 0.5625 + 3 * 0.0625 on label 0; 0.81 + 0.01 + 0 + 1 on label 1
    assert m.get()["brier"] == pytest.approx((0.75 + 1.82) / 8, abs=1e-15)
    # bins: [0.2, 0.3) gap 0; [0.9, 1] holds 0.9, 0.9, 1.0 with 1 true: |2.8 - 1|; [0, 0.1) 0
    assert m.get()["ece"] == pytest.approx(1.8 / 8, abs=1e-15)
    rows = {row["bin"]: row for row in m.reliability() if row["count"]}
    assert list(rows) == ["[0, 0.1)", "[0.2, 0.3)", "[0.9, 1]"]
    assert rows["[0.9, 1]"]["count"] == 3 and rows["[0.9, 1]"]["fraction_positive"] == 1 / 3
    assert sum(row["count"] for row in m.reliability()) == Y.size
    assert CalibrationMetrics(3).get() == {"brier": 0.0, "ece": 0.0}


def test_zero_one_probabilities_score_the_hamming_loss():
    rng = np.random.default_rng(5)
    Y, G = rng.random((200, 6)) < 0.3, rng.random((200, 6)) < 0.4
    hamming = MultiLabelMetrics(6)
    hamming.update(Y, G)
    got = _calibration(Y, G.astype(float)).get()
    assert got["brier"] == pytest.approx(hamming.get()["hamming_loss"], abs=1e-15)
    assert got["ece"] == pytest.approx(hamming.get()["hamming_loss"], abs=1e-15)


def test_refuses_what_is_no_probability_and_clips_rounding():
    m = CalibrationMetrics(3)
    with pytest.raises(ValueError, match="finite"):
        m.update(np.ones(3, dtype=bool), np.array([0.1, np.nan, 0.3]))
    with pytest.raises(ValueError, match=r"within \[0, 1\], got 1.5"):
        m.update(np.ones(3, dtype=bool), np.array([0.1, 1.5, 0.3]))
    with pytest.raises(ValueError, match=r"shape \(3,\) or \(n, 3\)"):
        m.update(np.ones(2, dtype=bool), np.array([0.1, 0.2]))
    assert m.n == 0
    m.update(np.array([True, False, True]), np.array([1 + 1e-12, -1e-12, 0.5]))
    assert m.get()["brier"] == pytest.approx(0.25 / 3, abs=1e-15)
    assert m.reliability()[-1]["count"] == 1 and m.reliability()[0]["count"] == 1


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 6), st.integers(0, 40), st.integers(0, 2**32 - 1))
def test_batch_equals_single_rows_bit_for_bit_and_survives_its_state(rows, labels, cut, seed):
    rng = np.random.default_rng(seed)
    P = rng.random((rows, labels))
    Y = rng.random((rows, labels)) < P
    single = CalibrationMetrics(labels)
    for y, p in zip(Y, P):
        single.update(y, p)
    mixed = CalibrationMetrics(labels)
    cut = min(cut, rows)
    mixed.update(Y[:cut], P[:cut])
    mixed = CalibrationMetrics.from_state(mixed.get_state())
    mixed.update(Y[cut:], P[cut:])
    assert mixed.get() == single.get() and mixed.n == rows
    assert mixed.reliability() == single.reliability()


def test_a_damaged_state_is_refused():
    state = CalibrationMetrics(2).get_state()
    state["count"] = np.zeros(3, dtype=np.int64)
    with pytest.raises(ValueError, match=r"count holds \(3,\) values for 10 bins"):
        CalibrationMetrics.from_state(state)


# --- in prequential runs --------------------------------------------------------------------


def test_an_ihomer_replay_of_emotions_equals_brute_force_on_its_scores(data_dir):
    """The run's Brier and ECE are those of the scores iHOMER gave each row before learning it
    (the same model replayed by hand, every score kept)."""
    from streamlabels.ihomer import IHOMER

    stream = datasets.load("emotions")
    labels = list(stream.label_names)
    result = prequential(stream, IHOMER(labels=labels, features=stream.feature_names), labels)
    model = IHOMER(labels=labels, features=stream.feature_names)
    Y = np.array([[y[label] for label in labels] for _, y in datasets.load("emotions")])
    S = np.zeros(Y.shape)
    for i, (x, y) in enumerate(datasets.load("emotions")):
        S[i] = model.score_one(x)[1]
        model.learn_one(x, y)
    want = _brute_force(Y, S, 10)
    assert {k: result.metrics[k] for k in want} == pytest.approx(want, rel=1e-9)
    assert 0.1 < want["brier"] < 0.25 and 0 < want["ece"] < 0.1
    assert sum(row["count"] for row in result.reliability) == Y.size == 593 * 6
    assert result.history[-1]["brier"] == result.metrics["brier"]


def test_calibration_is_on_where_the_scores_come_free_and_asked_for_elsewhere():
    stream = [({}, {"a": True, "b": False})] * 3 + [({}, {"a": False, "b": True})]
    plain = prequential(stream, PreviousLabelSet(), ["a", "b"])
    assert "brier" not in plain.metrics and plain.reliability == []
    asked = prequential(stream, PreviousLabelSet(), ["a", "b"], calibration=True)
    # 0/1 answers: the first row (no answer yet: P(True) 0) errs on a, the last on a and b
    assert asked.metrics["brier"] == asked.metrics["hamming_loss"] == 3 / 8
    assert asked.metrics["ece"] == 3 / 8
    assert "calibration" in asked.counts and "calibration" not in plain.counts


def test_resume_goes_on_with_the_calibration_counts_it_finds(data_dir):
    """Counts saved without calibration (before it existed) resume without it; asking for it
    then is refused, as for the ranking metrics."""
    from streamlabels.ihomer import IHOMER

    stream = datasets.load("flags")
    labels = list(stream.label_names)
    model = IHOMER(labels=labels, features=stream.feature_names)
    first = prequential(stream, model, labels, n=100, calibration=False)
    assert "calibration" not in first.counts
    with pytest.raises(ValueError, match="calibration metrics exactly when the counts hold"):
        prequential(datasets.load("flags"), model, labels, resume=first.counts, calibration=True)
    rest = prequential(datasets.load("flags"), model, labels, resume=first.counts)
    assert "brier" not in rest.metrics and rest.n_instances == 194 - 100
