"""river's own estimator checks, on IHOMER.

river runs its multi-label checks on ``datasets.Music``, which it downloads. Music is the
``emotions`` benchmark (593 songs, 72 features, 6 labels), so we hand river the same data from
``STREAMLABELS_DATA`` instead and run ``river.checks`` unchanged.
"""

from __future__ import annotations

import itertools

import pytest
from river import checks
from river import datasets as river_datasets

from streamlabels.drift import ADWIN
from streamlabels.ihomer import IHOMER
from streamlabels.learners.hoeffding import HoeffdingTreeMultiLabelClassifier
from streamlabels.streams import datasets


class _LocalMusic:
    def take(self, n):
        return list(itertools.islice(datasets.load("emotions"), n))


@pytest.fixture
def local_music(data_dir, monkeypatch):
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    monkeypatch.setattr(river_datasets, "Music", _LocalMusic)


@pytest.mark.parametrize("params", list(IHOMER._unit_test_params()), ids=lambda p: str(sorted(p)))
def test_check_estimator(params, local_music):
    checks.check_estimator(IHOMER(**params))


def test_ihomer_is_a_mini_batch_classifier_so_river_checks_learn_many():
    from river import base

    model = IHOMER(n_min=50)
    assert isinstance(model, base.MiniBatchClassifier)
    names = {check.__name__ for check in checks.yield_checks(model)}
    assert {"check_learn_many_matches_learn_one", "check_predict_many_matches_predict_one"} <= names


def test_learn_many_takes_river_s_batch_of_label_dicts(data_dir, monkeypatch):
    """river batches multi-label targets as a Series of dicts; some omit negative labels."""
    import pandas as pd

    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    rows = list(itertools.islice(datasets.load("emotions"), 300))
    targets = [{k: v for k, v in y.items() if v or k == "amazed-suprised"} for _, y in rows]
    labels = list(rows[0][1])
    many, one = IHOMER(labels=labels, n_min=50), IHOMER(labels=labels, n_min=50)
    many.learn_many(pd.DataFrame([x for x, _ in rows]), pd.Series(targets))
    for (x, _), y in zip(rows, targets):
        one.learn_one(x, y)
    assert many.events == one.events
    assert many.predict_proba_one(rows[0][0]) == one.predict_proba_one(rows[0][0])


@pytest.mark.parametrize(
    "params", list(HoeffdingTreeMultiLabelClassifier._unit_test_params()), ids=lambda p: str(p)
)
def test_check_estimator_on_the_hoeffding_tree(params, local_music):
    checks.check_estimator(HoeffdingTreeMultiLabelClassifier(**params))


def test_check_estimator_on_the_adwin():
    for params in ADWIN._unit_test_params():
        checks.check_estimator(ADWIN(**params))


def test_the_tree_alone_predicts_what_the_compiled_tree_predicts():
    """The river face adds nothing to the tree: the same rows (named features in any order,
    some absent) give the same probabilities, split after split."""
    import numpy as np

    from streamlabels.learners.hoeffding import MultiLabelHoeffdingTree
    from streamlabels.vocabulary import FeatureSpace

    rng = np.random.default_rng(0)
    face = HoeffdingTreeMultiLabelClassifier(labels=["low", "high"], grace_period=50,
                                             bootstrap=False)
    tree = MultiLabelHoeffdingTree(2, grace_period=50, bootstrap=False)
    space = FeatureSpace()
    for _ in range(800):
        values = rng.uniform(-1, 1, 3)
        names = [f"f{j}" for j in rng.permutation(3) if values[j] > -0.9 or j == 1]
        x = {name: float(values[int(name[1])]) for name in names}
        y = {"low": values[1] <= 0.2, "high": values[1] > 0.2}
        expected = tree.predict_proba_one(space.row(x, grow=False)).tolist()
        got = face.predict_proba_one(x)
        assert [got["low"][True], got["high"][True]] == expected
        face.learn_one(x, y)
        tree.learn_one(space.row(x), np.array([y["low"], y["high"]]))
    assert face.tree.n_nodes == tree.n_nodes > 1
    assert face.predict_one({"f1": 0.9}) == {"low": False, "high": True}
