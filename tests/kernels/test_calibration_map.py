"""The decision layer's calibration map: isotonic regression on the (score, truth) histogram."""

from __future__ import annotations

import numpy as np
import pytest

from streamlabels import IHOMER
from streamlabels.evaluate.metrics import CalibrationMetrics
from streamlabels.kernels import calibration
from streamlabels.streams import datasets

N_BINS = 200
CENTRES = (np.arange(N_BINS) + 0.5) / N_BINS


def _fitted(histogram: np.ndarray) -> np.ndarray:
    work = np.zeros((calibration.N_ROWS, histogram.shape[1]))
    calibration.fit(histogram, work)
    return work


def _isotonic_by_minimax(rates: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted isotonic fit by its closed form, max over a <= i of min over b >= i of the
    weighted mean of a..b: independent of pooling adjacent violators."""
    n = len(rates)
    fit = np.empty(n)
    for i in range(n):
        fit[i] = max(
            min(np.dot(rates[a:b + 1], weights[a:b + 1]) / weights[a:b + 1].sum()
                for b in range(i, n))
            for a in range(i + 1)
        )
    return fit


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_is_the_weighted_isotonic_regression_of_the_smoothed_rates(seed):
    rng = np.random.default_rng(seed)
    n_bins = 40
    histogram = rng.exponential(5.0, size=(2, n_bins)) * (rng.random((2, n_bins)) < 0.7)
    centres = (np.arange(n_bins) + 0.5) / n_bins
    weights = histogram.sum(axis=0) + calibration.PSEUDO
    rates = (histogram[1] + calibration.PSEUDO * centres) / weights
    expected = _isotonic_by_minimax(rates, weights)
    knots = _fitted(histogram)[calibration.KNOT]
    tie_breaks = np.arange(n_bins) * calibration.TIE_BREAK
    np.testing.assert_allclose(knots - tie_breaks, expected, rtol=0, atol=1e-12)
    assert not np.allclose(expected, rates)  # the histogram had violators to pool


def test_an_empty_histogram_maps_scores_to_themselves():
    work = _fitted(np.zeros((2, N_BINS)))
    scores = np.linspace(CENTRES[0], CENTRES[-1], 1_001)
    out = np.empty_like(scores)
    calibration.apply(scores, work, out)
    np.testing.assert_allclose(out, scores, rtol=0, atol=1e-6)


def test_the_map_keeps_the_order_of_scores_and_stays_in_the_unit_interval():
    rng = np.random.default_rng(3)
    histogram = np.zeros((2, N_BINS))
    histogram[1, :100] = 50.0  # low scores right, high scores wrong: one pooled block
    histogram[0, 100:] = 50.0
    work = _fitted(histogram)
    scores = np.sort(np.concatenate([rng.random(2_000), [0.0, 1.0]]))
    out = np.empty_like(scores)
    calibration.apply(scores, work, out)
    assert np.all(np.diff(out) > 0.0)
    assert out[0] == 0.0 and out[-1] == 1.0
    assert np.all((out >= 0.0) & (out <= 1.0))
    middle = out[(scores > 0.01) & (scores < 0.99)]
    np.testing.assert_allclose(middle, 0.5, atol=1e-3)  # the pooled rate, not the score


@pytest.mark.parametrize("name", ["scene", "emotions"])
def test_iHOMER_reports_calibrated_probabilities_on_a_real_stream(name):
    """The Hedge mix's 10-bin ECE on these streams, shuffled, is 0.030 (scene) and 0.031
    (emotions); calibrated, under 0.02, with the predictions unchanged."""
    data = datasets.load_arrays(name)
    order = np.random.default_rng(7).permutation(data.X.shape[0])
    X, Y = data.X[order], data.Y[order]
    labels = list(data.label_names)
    model, twin = IHOMER(labels=labels, seed=1), IHOMER(labels=labels, seed=1)
    predicted, proba = model.score_learn_many(X, Y)
    assert np.array_equal(predicted, twin.predict_learn_many(X, Y))
    metrics = CalibrationMetrics(len(labels))
    metrics.update(Y, proba)
    assert metrics.get()["ece"] < 0.02


def test_a_work_array_refits_when_and_only_as_the_histogram_changes():
    """The scorers keep one work array for many rows of a frozen model; a learned row changes
    one bin's counts, and the map must follow it."""
    rng = np.random.default_rng(4)
    histogram = rng.exponential(3.0, size=(2, N_BINS))
    work = _fitted(histogram)
    calibration.fit(histogram, work)  # the same counts: the same map
    np.testing.assert_array_equal(work[calibration.KNOT], _fitted(histogram)[calibration.KNOT])
    for b in (0, N_BINS // 2, N_BINS - 1):
        histogram[1, b] += 40.0
        calibration.fit(histogram, work)
        np.testing.assert_array_equal(work[calibration.KNOT],
                                      _fitted(histogram)[calibration.KNOT])
