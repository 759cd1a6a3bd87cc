"""SyntheticStream: replayable, calibrated, with a recoverable label structure that drifts."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from river import linear_model, multioutput, preprocessing

from streamlabels.evaluate.metrics import MultiLabelMetrics
from streamlabels.streams.synthetic import Drift, SyntheticStream


def _arrays(stream: SyntheticStream) -> tuple[np.ndarray, np.ndarray]:
    X, Y = [], []
    for x, y in stream:
        X.append([x[f] for f in stream.feature_names])
        Y.append([y[lab] for lab in stream.label_names])
    return np.array(X), np.array(Y, dtype=bool)


def _jaccard_distances(Y: np.ndarray) -> np.ndarray:
    Yf = Y.astype(float)
    inter = Yf.T @ Yf
    count = np.diag(inter)
    union = count[:, None] + count[None, :] - inter
    return 1 - inter / np.maximum(union, 1)


def _recovered_groups(Y: np.ndarray, names: list[str], threshold: float = 0.6) -> list[list[str]]:
    """Connected components of the 'Jaccard distance < threshold' graph, sorted like
    ``structure_at``."""
    close = _jaccard_distances(Y) < threshold
    seen: set[int] = set()
    groups = []
    for start in range(len(names)):
        if start in seen:
            continue
        stack, comp = [start], []
        seen.add(start)
        while stack:
            i = stack.pop()
            comp.append(i)
            for j in np.flatnonzero(close[i]):
                if int(j) not in seen:
                    seen.add(int(j))
                    stack.append(int(j))
        groups.append(sorted(comp))
    return [[names[i] for i in g] for g in sorted(groups)]


def _within_across(Y: np.ndarray, groups: list[list[str]], names: list[str]):
    """Largest within-group and smallest across-group Jaccard distance."""
    gid = {lab: k for k, g in enumerate(groups) for lab in g}
    g = np.array([gid[n] for n in names])
    same = g[:, None] == g[None, :]
    off = ~np.eye(len(names), dtype=bool)
    D = _jaccard_distances(Y)
    return D[same & off].max(), D[~same].min()


def test_shape_names_and_types():
    s = SyntheticStream(n_instances=5, n_features=3, n_labels=4, n_groups=2)
    assert s.feature_names == ["x0", "x1", "x2"] and s.label_names == ["y0", "y1", "y2", "y3"]
    assert (s.n_features, s.n_labels, s.n_instances) == (3, 4, 5)
    assert s.n_outputs == 4 and s.n_samples == 5 and s.task == "Multi-output binary classification"
    rows = list(s)
    assert len(rows) == 5
    for x, y in rows:
        assert list(x) == s.feature_names and all(type(v) is float for v in x.values())
        assert list(y) == s.label_names and all(type(v) is bool for v in y.values())
    assert list(SyntheticStream(n_instances=0)) == []


def test_replay_and_seeds():
    drifts = [Drift(600, width=200, kind="both")]
    s = SyntheticStream(n_instances=1200, drifts=drifts, seed=3)
    first = list(s)
    assert list(s) == first  # re-iterable
    assert list(SyntheticStream(n_instances=1200, drifts=drifts, seed=3)) == first
    # A shorter stream is a prefix of a longer one (across the internal chunk boundaries).
    assert list(SyntheticStream(n_instances=700, drifts=drifts, seed=3)) == first[:700]
    other = list(SyntheticStream(n_instances=1200, drifts=drifts, seed=4))
    assert other[0][0] != first[0][0]
    assert sum(a[1] != b[1] for a, b in zip(first, other)) > 300


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"n_labels": 40, "n_groups": 5, "cardinality": 4.0, "noise": 0.1, "n_features": 30},
        {"n_labels": 6, "n_groups": 2, "cardinality": 1.2, "noise": 0.0, "n_features": 5},
        {"cardinality": 3.0, "drifts": [Drift(1500, kind="both"), Drift(3000, 400, "concept")]},
    ],
)
def test_cardinality_matches_request(params):
    s = SyntheticStream(n_instances=4000, **params)
    _, Y = _arrays(s)
    card = Y.sum(axis=1).mean()
    want = params.get("cardinality", 2.0)
    assert abs(card - want) <= 0.15 * want, card


def test_default_stream_replays_whole():
    # The default stream is the project's demo stream: 10k instances, all replayed here.
    n = 0
    sizes = 0
    for _, y in SyntheticStream():
        n += 1
        sizes += sum(y.values())
    assert n == 10_000
    assert abs(sizes / n - 2.0) < 0.1


def test_planted_groups_are_recoverable():
    s = SyntheticStream(n_instances=3000)
    _, Y = _arrays(s)
    within, across = _within_across(Y, s.structure_at(0), s.label_names)
    assert within < 0.55 and across > 0.7, (within, across)
    assert _recovered_groups(Y, s.label_names) == s.structure_at(0)
    assert [len(g) for g in s.structure_at(0)] == [4, 4, 4]


def test_cooccurrence_drift_moves_the_measured_structure():
    s = SyntheticStream(n_instances=6000, drifts=[Drift(3000, kind="cooccurrence")])
    _, Y = _arrays(s)
    before, after = s.structure_at(2999), s.structure_at(3000)
    assert before != after
    assert [s.concept_at(t) for t in (0, 2999, 3000, 5999)] == [0, 0, 1, 1]
    assert _recovered_groups(Y[:3000], s.label_names) == before
    assert _recovered_groups(Y[3000:], s.label_names) == after
    # The stale partition no longer separates the labels after the drift.
    within, across = _within_across(Y[3000:], before, s.label_names)
    assert within > across


def test_concept_drift_keeps_groups_but_changes_feature_mapping():
    s = SyntheticStream(n_instances=6000, drifts=[Drift(3000, kind="concept")])
    X, Y = _arrays(s)
    assert s.structure_at(0) == s.structure_at(5999)
    assert _recovered_groups(Y[3000:], s.label_names) == s.structure_at(0)

    def label_means(lo: int, hi: int) -> np.ndarray:
        """Mean feature vector of each label's positives, normalised: its direction in x."""
        m = (Y[lo:hi].T.astype(float) @ X[lo:hi]) / Y[lo:hi].sum(axis=0)[:, None]
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.sum(a * b, axis=1)

    first, second = label_means(0, 1500), label_means(1500, 3000)
    after = label_means(3000, 4500)
    assert cosines(first, second).min() > 0.8  # same concept: stable
    assert np.abs(cosines(first, after)).mean() < 0.4  # new concept: new directions


def test_gradual_drift_mixes_concepts_over_its_width():
    drift = Drift(at=3000, width=2000, kind="cooccurrence")
    s = SyntheticStream(n_instances=6000, drifts=[drift])
    concept = np.array([s.concept_at(t) for t in range(6000)])
    assert (concept[: drift.start] == 0).all() and (concept[drift.end :] == 1).all()
    quarters = concept[drift.start : drift.end].reshape(4, -1).mean(axis=1)
    assert 0 < quarters[0] < 0.15 and 0.85 < quarters[3] < 1
    assert quarters[1] < 0.5 < quarters[2]
    assert np.all(np.diff(quarters) > 0)
    # Inside the window each instance follows the structure of the concept it was drawn from.
    _, Y = _arrays(s)
    window = np.zeros(6000, dtype=bool)
    window[drift.start : drift.end] = True
    for k, t in ((0, 0), (1, 5999)):
        rows = window & (concept == k)
        assert rows.sum() > 800
        assert _recovered_groups(Y[rows], s.label_names) == s.structure_at(t)
    mixed = [t for t in range(drift.start, drift.end) if concept[t] == 0][-1]
    assert s.structure_at(mixed) == s.structure_at(0)


def test_learnable_beyond_trivial_baselines():
    s = SyntheticStream(n_instances=3000)
    L = s.n_labels
    model = multioutput.PerOutputClassifier(
        preprocessing.StandardScaler() | linear_model.LogisticRegression()
    )
    scores = {name: MultiLabelMetrics(L) for name in ("model", "majority", "previous")}
    seen: Counter[tuple[bool, ...]] = Counter()
    previous = np.zeros(L, dtype=bool)
    for x, y in s:
        truth = np.fromiter(y.values(), dtype=bool, count=L)
        pred = model.predict_one(x)
        scores["model"].update(truth, np.array([pred.get(lab, False) for lab in s.label_names]))
        majority = seen.most_common(1)[0][0] if seen else (False,) * L
        scores["majority"].update(truth, np.array(majority))
        scores["previous"].update(truth, previous)
        model.learn_one(x, y)
        seen[tuple(truth.tolist())] += 1
        previous = truth
    f1 = {name: m.get()["micro_f1"] for name, m in scores.items()}
    assert f1["model"] >= f1["majority"] + 0.1, f1
    assert f1["model"] >= f1["previous"] + 0.2, f1
    assert f1["model"] > 0.4, f1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"drifts": [Drift(500), Drift(400)]}, "order"),
        ({"drifts": [Drift(500, width=200), Drift(550)]}, "disjoint"),
        ({"n_groups": 1, "drifts": [Drift(500, kind="cooccurrence")]}, "co-occurrence"),
        ({"n_groups": 13}, "n_groups"),
        ({"cardinality": 11.0}, "not reachable"),
        ({"noise": 1.0}, "noise"),
    ],
)
def test_invalid_configurations_fail_fast(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SyntheticStream(**kwargs)


def test_drift_validation_and_concept_only_single_group():
    with pytest.raises(ValueError, match="kind"):
        Drift(10, kind="labels")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Drift(-1)
    s = SyntheticStream(n_instances=100, n_groups=1, drifts=[Drift(50)])
    assert s.structure_at(0) == s.structure_at(99) == [s.label_names]
    assert (s.concept_at(49), s.concept_at(50)) == (0, 1)
    with pytest.raises(ValueError):
        s.concept_at(-1)
