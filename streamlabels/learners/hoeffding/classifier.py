"""The compiled multi-label Hoeffding tree as a river multi-label classifier, usable alone.

Inside iHOMER the tree is a :class:`~streamlabels.learners.base.MultiOutputLearner` fed arrays;
this face takes river's feature and label dicts, so the tree can be evaluated, piped and checked
like any river model (``river.checks.check_estimator`` passes).
"""

from __future__ import annotations

from collections.abc import Sequence

from river import base

from streamlabels.learners.hoeffding.params import DEFAULTS, HoeffdingParams, names
from streamlabels.learners.hoeffding.tree import MultiLabelHoeffdingTree
from streamlabels.vocabulary import FeatureSpace, LabelVocabulary

__all__ = ["HoeffdingTreeMultiLabelClassifier"]


class HoeffdingTreeMultiLabelClassifier(base.MultiLabelClassifier):
    """Multi-label Hoeffding adaptive tree over feature dicts (river's multi-label API).

    Parameters
    ----------
    labels
        The label vocabulary. Default: the keys of the first ``y`` given to ``learn_one``.
    grace_period, delta, tau, leaf_model, max_depth, max_nodes, n_splits
        Hyper-parameters of the tree, meaning and default as in
        :class:`~streamlabels.learners.hoeffding.params.HoeffdingParams`; so are the remaining
        parameters (min_branch_fraction, lr, knn_k, knn_window, cardinality_th, entropy_th,
        labelset_capacity, bootstrap, seed, drift_detection, drift_delta, switch_significance,
        drift_window_threshold).

    Examples
    --------
    >>> from river import metrics
    >>> from streamlabels.streams.synthetic import SyntheticStream
    >>> stream = SyntheticStream(n_instances=2_000, seed=7)
    >>> model = HoeffdingTreeMultiLabelClassifier(labels=stream.label_names, seed=1)
    >>> metric = metrics.multioutput.MicroAverage(metrics.F1())
    >>> for x, y in stream:
    ...     metric.update(y, model.predict_one(x))
    ...     model.learn_one(x, y)
    >>> metric
    MicroAverage(F1): 44.15%
    """

    def __init__(
        self,
        labels: Sequence | None = None,
        grace_period: float = DEFAULTS.grace_period,
        delta: float = DEFAULTS.delta,
        tau: float = DEFAULTS.tau,
        leaf_model: str = DEFAULTS.leaf_model,
        max_depth: int = DEFAULTS.max_depth,
        max_nodes: int = DEFAULTS.max_nodes,
        n_splits: int = DEFAULTS.n_splits,
        min_branch_fraction: float = DEFAULTS.min_branch_fraction,
        lr: float = DEFAULTS.lr,
        knn_k: int = DEFAULTS.knn_k,
        knn_window: int = DEFAULTS.knn_window,
        cardinality_th: float = DEFAULTS.cardinality_th,
        entropy_th: float = DEFAULTS.entropy_th,
        labelset_capacity: int = DEFAULTS.labelset_capacity,
        bootstrap: bool = DEFAULTS.bootstrap,
        seed: int = DEFAULTS.seed,
        drift_detection: bool = DEFAULTS.drift_detection,
        drift_delta: float = DEFAULTS.drift_delta,
        switch_significance: float = DEFAULTS.switch_significance,
        drift_window_threshold: float = DEFAULTS.drift_window_threshold,
    ):
        for name, value in locals().items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)
        HoeffdingParams(**self._tree_params())  # invalid parameters fail here, now
        self._features = FeatureSpace()
        self._tree: MultiLabelHoeffdingTree | None = None
        self._labels: LabelVocabulary | None = None
        if labels is not None:
            self._start(list(labels))

    @classmethod
    def _unit_test_params(cls):
        yield {"grace_period": 20}
        yield {"grace_period": 20, "leaf_model": "br-linear", "bootstrap": False,
               "drift_detection": False}

    def _tree_params(self) -> dict:
        return {name: getattr(self, name) for name in names()}

    def _start(self, labels: list) -> None:
        if not labels:
            raise ValueError("labels must name at least one label")
        self._labels = LabelVocabulary(labels)
        self._tree = MultiLabelHoeffdingTree(len(labels), **self._tree_params())

    def learn_one(self, x: dict, y: dict) -> None:
        if self._tree is None:
            self._start(LabelVocabulary.names_of([y]))
        self._tree.learn_one(self._features.row(x), self._labels.truth(y))

    def predict_proba_one(self, x: dict, **kwargs) -> dict:
        """Each label's probability at the leaf ``x`` reaches (no label is known before the
        first ``learn_one`` unless ``labels`` was given; then all are 0)."""
        if self._tree is None:
            return {}
        proba = self._tree.predict_proba_one(self._features.row(x, grow=False)).tolist()
        return {label: {True: p, False: 1.0 - p} for label, p in zip(self._labels.names, proba)}

    def predict_one(self, x: dict, **kwargs) -> dict:
        """The labels whose probability reaches 0.5 (every known label, True or False)."""
        return {label: p[True] >= 0.5 for label, p in self.predict_proba_one(x).items()}

    @property
    def tree(self) -> MultiLabelHoeffdingTree | None:
        """The compiled tree (its ``n_nodes``, ``depth``, ``splits``...); None before labels."""
        return self._tree
