"""iHOMER: an incremental hierarchy of multi-label classifiers (docs/algorithm.md).

An online Jaccard label tree clusters the labels (:mod:`.structure`); its committed partition
defines label groups. A router predicts which groups are relevant, each group's learner predicts
the labels inside it, and the prediction is the union over routed groups (:mod:`.hierarchy`,
decided by :mod:`streamlabels.kernels.decision`). When the committed partition changes, learners
are restructured with warm starts and a shadow warm-up (:mod:`.transition`). This class is the
river-facing coordinator of those parts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from river import base

from streamlabels.features import FeatureSpace, Row
from streamlabels.ihomer.batches import BatchMethods
from streamlabels.ihomer.compiled import CompiledLayout
from streamlabels.ihomer.experts import ExpertLayer
from streamlabels.ihomer.hierarchy import Hierarchy
from streamlabels.ihomer.introspection import Introspection
from streamlabels.ihomer.persist import Checkpoints
from streamlabels.ihomer.structure import LabelStructure
from streamlabels.ihomer.transition import Transition
from streamlabels.ihomer.vocabulary import LabelVocabulary
from streamlabels.kernels.decision import Rule
from streamlabels.learners.base import MultiOutputLearner
from streamlabels.learners.hoeffding import MultiLabelHoeffdingTree
from streamlabels.learners.linear import LinearLearner
from streamlabels.learners.river import RiverLearner

__all__ = ["IHOMER"]

_CHOICES = {
    "scaling": ("standard", "sparse", "none"),
    "evidence": ("relevant", "instances"),
    "restructure": ("warm", "cold"),
    "global_drift": ("adwin_rebuild", "odac_only"),
    "local_training": ("relevant", "all"),
    "decision": ("experts", "routing"),
    "threshold": ("f-optimal", "fixed"),
    "weighting": ("hedge", "uniform"),
    "nonfinite": ("skip", "raise"),
}


def _check_params(model) -> None:
    for name, allowed in _CHOICES.items():
        if getattr(model, name) not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {getattr(model, name)!r}")
    if isinstance(model.learner, str) and model.learner not in ("linear", "tree"):
        raise ValueError(
            f"learner must be 'linear', 'tree' or a river classifier, got {model.learner!r}"
        )
    if model.n_min < 1:
        raise ValueError(f"n_min must be >= 1, got {model.n_min}")
    if model.max_events < 0:
        raise ValueError(f"max_events must be >= 0, got {model.max_events}")
    unknown = set(model.experts) - {"knn", "context", "prior"}
    if isinstance(model.experts, str) or unknown:
        raise ValueError(f"experts must name some of 'knn', 'context', 'prior', got {model.experts!r}")
    if model.knn_k < 1 or model.knn_window < 1:
        raise ValueError("knn_k and knn_window must be >= 1")


class IHOMER(
    BatchMethods, Introspection, Checkpoints, base.MultiLabelClassifier, base.MiniBatchClassifier
):
    """Incremental Hierarchy Of Multi-label classifiERs.

    Parameters
    ----------
    labels
        The label vocabulary. Default: the keys of the first ``y`` given to ``learn_one``.
    features
        Feature names known up front, in the order rows list them (e.g. a file's attributes).
        Optional: new names are added as they appear; knowing them saves a sort per instance.
    learner
        Base learner of the router and of every group: ``"linear"`` (compiled binary-relevance
        logistic regression with online scaling), ``"tree"`` (the compiled multi-label Hoeffding
        adaptive tree, :class:`~streamlabels.learners.hoeffding.MultiLabelHoeffdingTree` with
        its defaults, seeded by ``seed``) or any river classifier (one clone per output). Only
        ``"linear"`` has the fused batch path and the snapshot scorers; on the shared datasets
        it is also the more accurate (benchmarks/README.md).
    scaling
        Feature scaling of the ``"linear"`` learner: ``"standard"`` (centre and scale as river's
        StandardScaler; absent features count as 0.0) or ``"sparse"`` (divide by the running
        standard deviation, O(non-zeros) per instance). Neither wins everywhere: "sparse" is
        better on the sparse text files and on scene, "standard" on emotions and the synthetic
        stream (benchmarks/README.md); ``streamlabels replay`` picks by the file's form.
    lr
        SGD learning rate of the ``"linear"`` learner (0.007 came out of a sweep over 0.002-0.05
        on yeast, medical, enron and scene with "sparse" scaling; benchmarks/README.md).
    n_min
        Instances between two checkpoints of the label tree.
    delta
        Error probability of the Hoeffding bound in the label tree's split and merge tests.
    tau
        Tie-break threshold of the split test.
    evidence
        Instances counted as evidence for a label cluster: ``"relevant"`` (one of its labels is
        positive) or ``"instances"`` (all, as ODAC).
    m_min
        Smallest learner group (``"auto"``: the most frequent number of positive labels).
    m_max
        Largest group the coarsening creates by merging (None: no limit).
    commit_after_stable
        Commit a new partition only after this many checkpoints without structural change.
    decision
        ``"experts"``: each label's score is a Hedge-weighted mix of experts (the hierarchy's
        score, the kNN, the label context), cut by one learned F-optimal threshold
        (:mod:`streamlabels.kernels.experts`; docs/algorithm.md §8); ``"routing"``: a routed
        group's labels whose score within the group reaches 0.5 (the plain iHOMER rule).
    threshold
        ``"f-optimal"`` (learned online) or ``"fixed"`` (0.5), for ``decision="experts"``.
    experts
        The experts besides the hierarchy's score: ``"knn"``, ``"context"`` (the previous label
        set), ``"prior"`` (the label's recent frequency).
    weighting
        ``"hedge"`` (exponential weights by each expert's loss, per label) or ``"uniform"``.
    knn_k, knn_window
        Neighbours and window (rows) of the kNN expert.
    nonfinite
        A NaN or infinite feature value is ``"skip"``: treated as missing and counted
        (:attr:`n_nonfinite`), or ``"raise"``: refused with a ``ValueError`` when learning.
    theta_route
        A group is routed when the router's score reaches this value.
    group_nonempty
        A routed group predicts at least its most probable label (a routed group means that at
        least one of its labels is positive).
    ensure_nonempty
        Never predict the empty set: fall back to the best group and its best label.
    restructure
        ``"warm"``: split groups start from a copy of their old learner and other new groups are
        predicted by the previous hierarchy while they warm up; ``"cold"``: new and split groups
        (and the router) start fresh, unchanged groups keep their learners.
    router_warmup
        Instances during which a new router is backed by the previous one.
    local_warmup
        Relevant instances during which a new (merged) group is predicted by the previous hierarchy.
    global_drift
        ``"adwin_rebuild"``: reset the label tree when an ADWIN on the Hamming loss detects a rise;
        ``"odac_only"``: rely on the tree's own split and merge tests.
    drift_delta
        Confidence of that ADWIN.
    local_training
        ``"relevant"``: a group learns only instances where one of its labels is positive;
        ``"all"``: every group learns every instance.
    max_events
        How many of the latest structure events :attr:`events` keeps. Older ones are dropped, so
        that memory stays bounded on an endless stream: after each drift reset the label tree
        splits anew, and every event lists label names (on delicious replayed 100 times, the
        full history grew by 4.3 KB per pass; benchmarks/README.md).
    seed
        Seed of every random choice.

    Examples
    --------
    >>> from streamlabels.streams.synthetic import SyntheticStream
    >>> from streamlabels.evaluate import prequential
    >>> stream = SyntheticStream(n_instances=2_000, seed=7)
    >>> model = IHOMER()
    >>> result = prequential(stream, model, stream.label_names)
    >>> result.metrics["micro_f1"] > 0.5
    True
    >>> len(model.groups) >= 1
    True
    """

    def __init__(
        self,
        labels: Sequence | None = None,
        features: Sequence | None = None,
        learner: str | base.Classifier = "linear",
        scaling: str = "standard",
        lr: float = 0.007,
        n_min: int = 200,
        delta: float = 0.1,
        tau: float = 0.1,
        evidence: str = "relevant",
        m_min: int | str = "auto",
        m_max: int | None = None,
        commit_after_stable: int = 1,
        theta_route: float = 0.5,
        group_nonempty: bool = False,
        ensure_nonempty: bool = False,
        restructure: str = "warm",
        router_warmup: int = 200,
        local_warmup: int = 200,
        global_drift: str = "adwin_rebuild",
        drift_delta: float = 0.002,
        local_training: str = "relevant",
        max_events: int = 1_000,
        decision: str = "experts",
        threshold: str = "f-optimal",
        experts: Sequence[str] = ("knn", "context"),
        weighting: str = "hedge",
        knn_k: int = 5,
        knn_window: int = 400,
        nonfinite: str = "skip",
        seed: int = 42,
    ):
        for name, value in locals().items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)
        _check_params(self)
        self._features = FeatureSpace(features, nonfinite)
        self._dense_template: dict = {}  # river learners get every feature seen so far
        self._t = 0
        self._vocabulary: LabelVocabulary | None = None
        self._structure: LabelStructure | None = None
        self._transition: Transition | None = None
        self._experts: ExpertLayer | None = None
        # predict_one's (x, labels, row, experts' scores, final scores, the hierarchy's labels)
        self._cache: tuple | None = None
        self._compiled = CompiledLayout()  # the parts as the kernels' arrays
        if labels is not None:
            self._start(list(labels))

    @classmethod
    def _unit_test_params(cls):
        from river import linear_model, tree

        yield {"n_min": 50}
        yield {"n_min": 50, "decision": "routing"}
        yield {"n_min": 50, "learner": "tree"}
        yield {"n_min": 50, "learner": tree.HoeffdingTreeClassifier(), "restructure": "cold"}
        yield {"n_min": 30, "learner": linear_model.LogisticRegression(), "m_min": 1}

    @property
    def _multiclass(self):
        return False

    # -- parts ------------------------------------------------------------------------------

    def _start(self, labels: list) -> None:
        self._vocabulary = LabelVocabulary(labels)
        self._structure = LabelStructure(
            labels, self.n_min, self.delta, self.tau, self.evidence, self.m_min, self.m_max,
            self.commit_after_stable, self.global_drift, self.drift_delta, self.max_events,
        )
        rule = Rule(float(self.theta_route), bool(self.group_nonempty), bool(self.ensure_nonempty),
                    self.decision == "experts")
        self._transition = Transition(
            self._hierarchy(self._structure.first_partition(), {}), self._hierarchy, rule,
            self.restructure == "warm", self.router_warmup, self.local_warmup,
        )
        if self.decision == "experts":
            self._experts = ExpertLayer(len(labels), self.experts, self.weighting, self.threshold,
                                        self.knn_k, self.knn_window, self.scaling == "standard")

    def _learner(self, n_outputs: int) -> MultiOutputLearner:
        if self.learner == "tree":
            return MultiLabelHoeffdingTree(n_outputs, seed=self.seed)
        if isinstance(self.learner, str):
            return LinearLearner(n_outputs, lr=self.lr, scaling=self.scaling)
        return RiverLearner(self.learner, n_outputs)

    def _hierarchy(self, groups, warm) -> Hierarchy:
        return Hierarchy(groups, len(self._vocabulary), self._learner, warm=warm,
                         relevant_only=self.local_training == "relevant")

    def _row(self, x: dict, grow: bool) -> Row:
        row = self._features.row(x, grow=grow)
        if isinstance(self.learner, str):
            return row
        if grow:
            for name in x:
                self._dense_template.setdefault(name, 0.0)
        dense = {**self._dense_template, **x} if len(x) < len(self._dense_template) else x
        return Row(dense, row.indices, row.values)

    # -- one instance -----------------------------------------------------------------------

    def predict_one(self, x: dict, **kwargs) -> dict:
        if self._transition is None:
            return {}
        return dict(zip(self._labels, self._predict_row_of(x).tolist()))

    def score_one(self, x: dict) -> tuple[np.ndarray, np.ndarray]:
        """``predict_one`` and ``predict_proba_one``'s P(True) as arrays in label order, from one
        scoring pass (a service publishes both for every message)."""
        labels, _, scores = self._score(x)
        return labels, scores

    def predict_proba_one(self, x: dict, **kwargs) -> dict:
        """Each label's score: the experts' weighted mix (``decision="experts"``, cut at the
        learned threshold) or r_k(x) * P(label | x, group k relevant); not calibrated."""
        if self._transition is None:
            return {}
        proba = self._score(x)[2].tolist()
        return {label: {True: p, False: 1.0 - p} for label, p in zip(self._labels, proba)}

    def _score(self, x: dict) -> tuple:
        """Labels, experts' scores (None without experts) and final scores of ``x``, kept with
        the hierarchy's own labels (the loss detector's) for a ``learn_one(x)`` right after (the
        prequential loop's pattern)."""
        row = self._row(x, grow=False)
        routing, local = self._transition.scores(row, every_group=True)
        model_scores = self._transition.label_scores(routing, local)
        labels = own = self._transition.decide(routing, local)
        experts, scores = None, model_scores
        if self._experts is not None:
            labels, experts, scores = self._experts.decide(model_scores, row)
        self._cache = (x, labels, row, experts, scores, own)
        return labels, experts, scores

    def _predict_row_of(self, x: dict) -> np.ndarray:
        """The labels of ``x``, kept as :meth:`_score` keeps them (the routing rule asks only
        the routed groups)."""
        if self._experts is not None:
            return self._score(x)[0]
        row = self._row(x, grow=False)
        labels = self._transition.predict(row)
        self._cache = (x, labels, row, None, None, labels)
        return labels

    def learn_one(self, x: dict, y: dict) -> None:
        if self._transition is None:
            self._start(list(y))
        positives = self._vocabulary.positives(y)
        truth = np.zeros(len(self._vocabulary), dtype=bool)
        truth[positives] = True
        if self._cache is None or self._cache[0] is not x:
            self._cache = None
            if self._experts is not None or self.global_drift == "adwin_rebuild":
                self._predict_row_of(x)
        cached, self._cache = self._cache, None
        loss = None
        if self.global_drift == "adwin_rebuild":
            loss = float(np.count_nonzero(cached[5] != truth)) / len(truth)
        if cached and isinstance(self.learner, str) and len(cached[2].indices) == len(x):
            row = cached[2]
        else:
            row = self._row(x, grow=True)  # the last check (non-finite values): nothing changed yet
        self._t += 1
        self._structure.track(self._t, positives, loss)
        self._transition.learn(row, truth, positives)
        if self._experts is not None:
            self._experts.learn(truth, row, cached[3], cached[4])
        self._checkpoint()

    def _checkpoint(self) -> None:
        partition = self._structure.checkpoint(self._t)
        if partition is not None and partition != self._transition.active.groups:
            self._restructure(partition)

    def _restructure(self, partition: list[tuple[int, ...]]) -> None:
        self._transition.restructure(partition)
        self._structure.record_commit(self._t, partition)
