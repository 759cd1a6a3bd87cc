"""The positives-only face of IHOMER: ``y`` as the set of positive labels, and
``predict_positives_one``, against the dense river forms they stand for."""

from __future__ import annotations

import itertools

import pytest

from streamlabels.ihomer import IHOMER
from streamlabels.state import dumps
from streamlabels.streams import datasets


def _positives(y: dict) -> set:
    return {label for label, value in y.items() if value}


@pytest.mark.parametrize("decision", ["experts", "routing"])
def test_sets_of_positives_learn_the_model_dicts_learn_bit_for_bit(decision, data_dir):
    """On yeast, test-then-train with dicts and ``predict_one``, and with sets and
    ``predict_positives_one``: the same answers at every row, and the same saved state."""
    rows = list(itertools.islice(datasets.load("yeast"), 600))
    labels = datasets.info("yeast").label_names
    dense = IHOMER(labels=labels, n_min=100, decision=decision)
    sparse = IHOMER(labels=labels, n_min=100, decision=decision)
    answered = 0
    for x, y in rows:
        expected = _positives(dense.predict_one(x))
        assert sparse.predict_positives_one(x) == expected
        answered += bool(expected)
        dense.learn_one(x, y)
        sparse.learn_one(x, _positives(y))
    assert answered > 300 and len(dense.events) > 0  # it predicted, and it restructured
    assert dumps(sparse.get_state()) == dumps(dense.get_state())
    x = rows[-1][0]
    assert sparse.predict_proba_one(x) == dense.predict_proba_one(x)


def test_predict_positives_one_is_predict_one_s_true_labels_whatever_ran_before(data_dir):
    """Asked without a ``learn_one`` after it, or twice in a row, it answers as predict_one."""
    rows = list(itertools.islice(datasets.load("emotions"), 300))
    model = IHOMER(labels=datasets.info("emotions").label_names, n_min=50)
    for i, (x, y) in enumerate(rows):
        if i % 3 == 0:
            model.learn_one(x, y)
        probe = rows[(7 * i) % len(rows)][0]
        assert model.predict_positives_one(probe) == _positives(model.predict_one(probe))
    assert model.predict_positives_one(rows[0][0])  # not trivially empty


def test_nothing_is_predicted_before_the_labels_are_known():
    assert IHOMER().predict_positives_one({"f": 1.0}) == set() == _positives(
        IHOMER().predict_one({"f": 1.0})
    )


def test_a_frozenset_of_positives_is_learned_as_its_dict():
    one, other = IHOMER(labels=["a", "b", "c"]), IHOMER(labels=["a", "b", "c"])
    for i in range(30):
        x = {"f": float(i % 3)}
        one.learn_one(x, frozenset(["a", "c"][: i % 3]))
        other.learn_one(x, {"a": i % 3 > 0, "b": False, "c": i % 3 > 1})
    assert dumps(one.get_state()) == dumps(other.get_state())


@pytest.mark.parametrize("label", ["z", None, 0])
def test_an_unknown_label_is_refused_in_a_set_as_in_a_dict_and_nothing_is_learned(label):
    model = IHOMER(labels=["a", "b"])
    model.learn_one({"f": 1.0}, {"a"})
    before = dumps(model.get_state())
    for y in ({label, "a"}, {label: True, "a": True}):
        with pytest.raises(ValueError, match=f"label {label!r} is not in the label vocabulary"):
            model.learn_one({"f": 2.0}, y)
    assert dumps(model.get_state()) == before


def test_positives_must_be_a_collection_not_a_single_label():
    """A bare string would otherwise be read as its characters."""
    model = IHOMER(labels=["a", "b"])
    with pytest.raises(TypeError, match="got str"):
        model.learn_one({"f": 1.0}, "a")
