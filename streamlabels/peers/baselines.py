"""Baselines by name: river's multi-label models, and trivial predictors that expose ordering.

Every baseline is a ``river.base.MultiLabelClassifier`` whose ``predict_one`` returns every known
label. River models are wrapped in :class:`DenseInputs`, because river's scaler, trees and naive
Bayes read a missing key as "unknown" rather than 0.0, which wrecks them on sparse data.

The trivial baselines never look at the features. Several MULAN files are stored sorted by label
set, so ``prev-ls`` (repeat the previous label set) scores as well as published models there: every
accuracy claim is made beside it.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence

from river import base

from streamlabels.peers import ModelEntry

__all__ = ["BASELINES", "DenseInputs", "MajorityLabelSet", "PreviousLabelSet"]


class DenseInputs(base.Wrapper, base.MultiLabelClassifier):
    """Give a river model every feature seen so far, absent ones as 0.0, and every label.

    Parameters
    ----------
    model
        The river multi-label classifier to wrap.
    feature_names
        Features known up front (new ones are added as they appear).
    label_names
        Labels known up front; ``predict_one`` always answers for all of them.

    Examples
    --------
    >>> from river import linear_model, multioutput
    >>> model = DenseInputs(
    ...     multioutput.PerOutputClassifier(linear_model.LogisticRegression()),
    ...     label_names=["a", "b"],
    ... )
    >>> model.predict_one({"f": 1.0})
    {'a': False, 'b': False}
    >>> model.learn_one({"f": 1.0}, {"a": True, "b": False})
    >>> model.learn_one({"g": 2.0}, {"a": False, "b": True})
    >>> sorted(model._features)
    ['f', 'g']
    """

    def __init__(
        self,
        model: base.MultiLabelClassifier,
        feature_names: Sequence | None = None,
        label_names: Sequence | None = None,
    ):
        self.model = model
        self.feature_names = feature_names
        self.label_names = label_names
        self._features = dict.fromkeys(feature_names or (), 0.0)
        self._labels = dict.fromkeys(label_names or (), False)

    @property
    def _wrapped_model(self):
        return self.model

    @classmethod
    def _unit_test_params(cls):
        from river import linear_model, multioutput

        yield {"model": multioutput.PerOutputClassifier(linear_model.LogisticRegression())}

    def _dense(self, x: dict) -> dict:
        if len(x) == len(self._features) and x.keys() == self._features.keys():
            return x
        for name in x:
            if name not in self._features:
                self._features[name] = 0.0
        return {**self._features, **x}

    def learn_one(self, x, y):
        for label in y:
            self._labels.setdefault(label, False)
        self.model.learn_one(self._dense(x), y)

    def predict_proba_one(self, x, **kwargs):
        proba = self.model.predict_proba_one(self._dense(x), **kwargs)
        return {label: proba.get(label, {False: 1.0, True: 0.0}) for label in self._labels}

    def predict_one(self, x, **kwargs):
        pred = self.model.predict_one(self._dense(x), **kwargs)
        return {label: bool(pred.get(label, False)) for label in self._labels}


class PreviousLabelSet(base.MultiLabelClassifier):
    """``prev-ls``: predict the label set of the previous instance.

    Examples
    --------
    >>> model = PreviousLabelSet()
    >>> model.learn_one({}, {"a": True, "b": False})
    >>> model.predict_one({})
    {'a': True, 'b': False}
    """

    def __init__(self):
        self._last: dict = {}

    def learn_one(self, x, y):
        for label in y:
            self._last.setdefault(label, False)
        self._last = {label: bool(y.get(label, False)) for label in self._last}

    def predict_proba_one(self, x, **kwargs):
        return {label: {True: float(v), False: 1.0 - v} for label, v in self._last.items()}

    def predict_one(self, x, **kwargs):
        return dict(self._last)


class MajorityLabelSet(base.MultiLabelClassifier):
    """``majority-ls``: predict the most frequent label set so far (earliest wins ties).

    Examples
    --------
    >>> model = MajorityLabelSet()
    >>> for y in ({"a": True, "b": False}, {"a": False, "b": True}, {"a": True, "b": False}):
    ...     model.learn_one({}, y)
    >>> model.predict_one({})
    {'a': True, 'b': False}
    """

    def __init__(self):
        self._labels: dict = {}
        self._counts: collections.Counter = collections.Counter()
        self._best: frozenset = frozenset()
        self._best_count = 0

    def learn_one(self, x, y):
        for label in y:
            self._labels.setdefault(label, False)
        key = frozenset(label for label, v in y.items() if v)
        self._counts[key] += 1
        if self._counts[key] > self._best_count:
            self._best, self._best_count = key, self._counts[key]

    def predict_proba_one(self, x, **kwargs):
        return {
            label: {True: float(label in self._best), False: float(label not in self._best)}
            for label in self._labels
        }

    def predict_one(self, x, **kwargs):
        return {label: label in self._best for label in self._labels}


# river's model zoo takes seconds to import: each builder imports what it uses, when it is called,
# so that listing the baselines (``streamlabels models``) stays instant.


def _scaled_lr() -> base.Classifier:
    from river import linear_model, preprocessing

    return preprocessing.StandardScaler() | linear_model.LogisticRegression()


def _scaled_knn() -> base.Classifier:
    from river import neighbors, preprocessing

    return preprocessing.StandardScaler() | neighbors.KNNClassifier()


def _hoeffding_tree() -> base.Classifier:
    from river import tree

    return tree.HoeffdingTreeClassifier()


def _gaussian_nb() -> base.Classifier:
    from river import naive_bayes

    return naive_bayes.GaussianNB()


def _per_label(learner: Callable[[], base.Classifier]) -> Callable:
    """Binary relevance: a copy of ``learner`` per label."""

    def build(feature_names, label_names, seed, sparse):
        from river import multioutput

        model = multioutput.PerOutputClassifier(learner())
        return DenseInputs(model, feature_names, label_names)

    return build


def _chain(learner: Callable[[], base.Classifier]) -> Callable:
    """A classifier chain over ``learner``, in label order."""

    def build(feature_names, label_names, seed, sparse):
        from river import multioutput

        model = multioutput.ClassifierChain(learner(), order=list(label_names))
        return DenseInputs(model, feature_names, label_names)

    return build


def _label_powerset(learner: Callable[[], base.Classifier]) -> Callable:
    """Label powerset: ``learner`` predicts the label set as one class."""

    def build(feature_names, label_names, seed, sparse):
        from river import multioutput

        model = multioutput.MultiClassEncoder(learner())
        return DenseInputs(model, feature_names, label_names)

    return build


_RIVER = "river baseline"
_TRIVIAL = "trivial baseline"

BASELINES: dict[str, ModelEntry] = {
    "br-lr": ModelEntry(
        _RIVER, "binary relevance: a standard-scaled logistic regression per label",
        _per_label(_scaled_lr),
    ),
    "br-ht": ModelEntry(
        _RIVER, "binary relevance: a Hoeffding tree per label", _per_label(_hoeffding_tree)
    ),
    "br-nb": ModelEntry(
        _RIVER, "binary relevance: a Gaussian naive Bayes per label", _per_label(_gaussian_nb)
    ),
    "br-knn": ModelEntry(
        _RIVER, "binary relevance: a standard-scaled kNN per label", _per_label(_scaled_knn)
    ),
    "cc-lr": ModelEntry(
        _RIVER, "classifier chain of standard-scaled logistic regressions, in label order",
        _chain(_scaled_lr),
    ),
    "lp-ht": ModelEntry(
        _RIVER, "label powerset: one Hoeffding tree over label sets (MultiClassEncoder)",
        _label_powerset(_hoeffding_tree),
    ),
    "prev-ls": ModelEntry(
        _TRIVIAL, "repeats the previous instance's label set; never looks at the features",
        lambda feature_names, label_names, seed, sparse: PreviousLabelSet(),
    ),
    "majority-ls": ModelEntry(
        _TRIVIAL, "predicts the most frequent label set so far; never looks at the features",
        lambda feature_names, label_names, seed, sparse: MajorityLabelSet(),
    ),
}
"""The baselines by name (river's models are wrapped in :class:`DenseInputs`)."""
