"""Our ADWIN against river 0.26.1's, step by step, and its state round trip."""

from __future__ import annotations

import numpy as np
import pytest
from river import drift as river_drift

from streamlabels.drift import ADWIN
from streamlabels.state import dumps, loads


def _stream(kind: str, seed: int) -> list[float]:
    """Streams with drifts of several shapes; lengths up to 20k."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(200, 20_000))
    t = np.arange(n)
    if kind == "abrupt":
        p = np.where(t < n // 2, rng.uniform(0, 0.5), rng.uniform(0.3, 1.0))
        values = (rng.random(n) < p).astype(float)
    elif kind == "gradual":
        p = 0.1 + 0.5 * np.clip((t - n / 3) / (n / 3), 0.0, 1.0)
        values = (rng.random(n) < p).astype(float)
    elif kind == "gaussian":
        values = rng.normal(np.where(t < n // 3, 0.0, 1.5), rng.uniform(0.1, 3.0))
    else:  # per-instance Hamming losses with 1/L granularity, L = 53 as enron
        values = rng.binomial(53, np.where(t < n // 2, 0.05, 0.2)) / 53
    return values.tolist()


CASES = [(kind, seed) for kind in ("abrupt", "gradual", "gaussian", "hamming") for seed in range(6)]


@pytest.mark.parametrize("kind, seed", CASES)
def test_matches_river_at_every_step(kind, seed):
    ours, theirs = ADWIN(), river_drift.ADWIN()
    for i, value in enumerate(_stream(kind, seed)):
        ours.update(value)
        theirs.update(value)
        got = (ours.drift_detected, ours.estimation, ours.width, ours.variance, ours.total)
        want = (
            theirs.drift_detected,
            theirs.estimation,
            theirs.width,
            theirs.variance,
            theirs.total,
        )
        assert got == want, f"step {i}"
        assert ours.n_detections == theirs.n_detections


@pytest.mark.parametrize("kind, seed", CASES[::3])
def test_many_updates_at_once_equal_one_at_a_time(kind, seed):
    """``update_many`` flags exactly the updates that detect a change with the estimation risen,
    and leaves the detector as the loop does (saved states equal)."""
    values = _stream(kind, seed)
    one, many = ADWIN(), ADWIN()
    rose = []
    for value in values:
        before = one.estimation
        one.update(value)
        rose.append(one.drift_detected and one.estimation > before)
    cuts = [0, len(values) // 3, len(values) // 3, len(values)]  # an empty stretch too
    flags = np.concatenate([many.update_many(np.array(values[a:b]))
                            for a, b in zip(cuts, cuts[1:])])
    assert flags.tolist() == rose
    assert many.drift_detected == one.drift_detected
    assert dumps(many.get_state()) == dumps(one.get_state())


def test_the_parity_streams_do_detect_drifts():
    """The parity test would be weak on streams where nothing ever happens."""
    detections = 0
    for kind, seed in CASES:
        detector = ADWIN()
        for value in _stream(kind, seed):
            detector.update(value)
            detections += detector.drift_detected
    assert detections >= 20


def test_matches_river_with_other_parameters():
    params = {
        "delta": 0.05,
        "clock": 1,
        "max_buckets": 2,
        "min_window_length": 3,
        "grace_period": 4,
    }
    ours, theirs = ADWIN(**params), river_drift.ADWIN(**params)
    detected = 0
    for value in _stream("abrupt", 11):
        ours.update(value)
        theirs.update(value)
        assert (ours.drift_detected, ours.estimation) == (theirs.drift_detected, theirs.estimation)
        detected += ours.drift_detected
    assert detected > 0


@pytest.mark.parametrize("stop", [0, 1, 31, 32, 1_000, 2_719])
def test_state_round_trip_continues_identically(stop):
    values = _stream("abrupt", 3)
    original = ADWIN()
    for value in values[:stop]:
        original.update(value)
    restored = ADWIN.from_state(loads(dumps(original.get_state())))
    for i, value in enumerate(values[stop:]):
        original.update(value)
        restored.update(value)
        assert (restored.drift_detected, restored.estimation, restored.width) == (
            original.drift_detected,
            original.estimation,
            original.width,
        ), f"step {stop + i}"
    assert dumps(restored.get_state()) == dumps(original.get_state())


def test_state_right_after_a_detection_resets_on_the_next_update():
    values = _stream("abrupt", 0)
    detector = ADWIN()
    for stop, value in enumerate(values):
        detector.update(value)
        if detector.drift_detected:
            break
    else:
        pytest.fail("no drift detected")
    restored = ADWIN.from_state(detector.get_state())
    assert restored.drift_detected
    restored.update(values[stop + 1])
    assert restored.width == 1.0 and restored.n_detections == 0


def test_set_state_refuses_inconsistent_rows():
    state = ADWIN().get_state()
    state["row_lengths"] = np.array([3])
    with pytest.raises(ValueError, match="row_lengths"):
        ADWIN().set_state(state)
