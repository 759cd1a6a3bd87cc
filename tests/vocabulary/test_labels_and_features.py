"""The vocabulary reads targets and rows the way users and the service give them.

Targets: ``'0'`` is never positive (river's ARFF and CSV readers yield label values as strings),
a set or list names the positive labels, anything else is refused with the label named. Rows: a
list of feature dicts becomes the same CSR rows as the dicts one by one.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamlabels import IHOMER
from streamlabels.vocabulary import FeatureSpace, LabelVocabulary


@pytest.mark.parametrize(
    ("y", "positives"),
    [
        ({"a": "0", "b": "1", "c": "0"}, [1]),
        ({"a": "true", "b": "False", "c": " 1 "}, [0, 2]),
        ({"a": 1, "b": 0.0, "c": np.bool_(True)}, [0, 2]),
        ({"a": False}, []),
        ({"c", "a"}, [0, 2]),
        (["b"], [1]),
        (("a", "b", "c"), [0, 1, 2]),
    ],
)
def test_targets_in_every_form_name_the_same_positives(y, positives):
    assert LabelVocabulary(["a", "b", "c"]).positives(y).tolist() == positives


@pytest.mark.parametrize("value", ["yes", "2", "", None, 0.5, 2, "0.0"])
def test_a_value_that_is_no_truth_is_refused_naming_the_label(value):
    with pytest.raises(ValueError, match="label 'b' has the value"):
        LabelVocabulary(["a", "b"]).positives({"a": True, "b": value})


def test_unknown_labels_in_a_set_are_refused_and_other_types_named():
    with pytest.raises(ValueError, match="'z' is not in the label vocabulary"):
        LabelVocabulary(["a"]).positives({"z"})
    with pytest.raises(TypeError, match="got str"):
        LabelVocabulary(["a"]).positives("a")


def test_batches_of_targets_read_as_single_targets():
    vocabulary = LabelVocabulary(["a", "b"])
    expected = np.array([[False, True], [True, True], [False, False]])
    forms = [
        [{"a": "0", "b": "1"}, {"a": 1, "b": True}, {}],
        [["b"], {"a", "b"}, ()],
        np.array([["0", "1"], ["1", "true"], ["false", "0"]], dtype=object),
        np.array([[0, 1], [1, 1], [0, 0]]),
    ]
    for Y in forms:
        np.testing.assert_array_equal(vocabulary.matrix(Y), expected)
    with pytest.raises(ValueError, match="label 'b' has the value 2"):
        vocabulary.matrix(np.array([[0, 2]]))


def test_ihomer_never_learns_a_string_zero_as_positive():
    """``'0'`` for every label and ``False`` for every label leave the same model."""
    strings, bools = IHOMER(labels=["a", "b"]), IHOMER(labels=["a", "b"])
    for i in range(60):
        x = {"f": float(i % 3)}
        strings.learn_one(x, {"a": "0", "b": "1" if i % 2 else "0"})
        bools.learn_one(x, {"a": False, "b": bool(i % 2)})
    assert strings.predict_proba_one({"f": 1.0}) == bools.predict_proba_one({"f": 1.0})
    assert not any(strings.predict_one({"f": v})["a"] for v in (0.0, 1.0, 2.0))


def test_ihomer_learns_sets_of_positives_as_dicts_and_batches_of_dicts_as_rows():
    labels = ["a", "b", "c"]
    rng = np.random.default_rng(0)
    xs = [{f"f{j}": float(v) for j, v in enumerate(rng.random(4)) if v > 0.3} for _ in range(150)]
    ys = [{label for label, on in zip(labels, (x.get("f0", 0) > 0.5, "f1" in x, "f3" in x)) if on}
          for x in xs]
    one, many = IHOMER(labels=labels, n_min=50), IHOMER(labels=labels, n_min=50)
    for x, y in zip(xs[:100], ys[:100]):
        one.learn_one(x, y)
    many.learn_many(xs[:100], [sorted(y) for y in ys[:100]])  # a service's batch: lists
    labels_one = np.array([one.score_one(x)[0] for x in xs[100:]])
    np.testing.assert_array_equal(many.score_many(xs[100:])[0], labels_one)
    with pytest.raises(ValueError, match="pass labels="):
        IHOMER().learn_one({"f": 1.0}, {"a"})  # a set cannot name every label


def _rows_one_by_one(space: FeatureSpace, rows: list[dict], grow: bool):
    built = [space.row(x, grow=grow) for x in rows]
    indptr = np.cumsum([0] + [len(row.indices) for row in built])
    return indptr, built


@pytest.mark.parametrize("poisoned", [False, True])  # one pass; row by row around NaN and inf
def test_a_list_of_dicts_becomes_the_rows_of_the_dicts_one_by_one(poisoned):
    rows = [{"b": 2.0, "a": 1.0}, {}, {"c": 0.0, "new": 5.0}, {"d": 1.0, "a": 3.0}]
    if poisoned:
        rows += [{"a": math.nan, "e": 1.0}, {"f": math.inf}]
    for grow in (True, False):
        single, batch = FeatureSpace(["a", "b", "c"]), FeatureSpace(["a", "b", "c"])
        expected_indptr, expected = _rows_one_by_one(single, rows, grow)
        indptr, indices, values = batch.csr(rows, grow=grow)
        np.testing.assert_array_equal(indptr, expected_indptr)
        for i, row in enumerate(expected):
            np.testing.assert_array_equal(indices[indptr[i] : indptr[i + 1]], row.indices)
            np.testing.assert_array_equal(values[indptr[i] : indptr[i + 1]], row.values)
        assert batch.names == single.names and batch.n_nonfinite == single.n_nonfinite
