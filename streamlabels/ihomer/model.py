"""iHOMER: an incremental hierarchy of multi-label classifiers (docs/algorithm.md).

An online Jaccard label tree clusters the labels (:mod:`.structure`); its committed partition
defines label groups. A router predicts which groups are relevant, each group's learner predicts
the labels inside it, and the prediction is the union over routed groups (:mod:`.hierarchy`,
decided by :mod:`streamlabels.kernels.decision`). When the committed partition changes, learners
are restructured with warm starts and a shadow warm-up (:mod:`.transition`).

:class:`IHOMER` is the river-facing face of one explicit state object,
:class:`~streamlabels.ihomer.learned.LearnedState`: it holds the hyper-parameters and that
object, and delegates to it (one instance), to :mod:`.batches` (many) and to :mod:`.persist`
(saved state).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy as np
import pandas as pd
from river import base

from streamlabels.ihomer import batches, persist
from streamlabels.ihomer.learned import LearnedState
from streamlabels.kernels.experts import EXPERT_NAMES
from streamlabels.kernels.targets import TARGET_NAMES
from streamlabels.labeltree import group_id, render_text
from streamlabels.scoring.snapshot import Snapshot, freeze
from streamlabels.state import StateError
from streamlabels.vocabulary import LabelVocabulary, feature_dicts

__all__ = ["IHOMER"]

_CHOICES = {
    "scaling": ("standard", "sparse", "none"),
    "evidence": ("relevant", "instances"),
    "restructure": ("warm", "cold"),
    "global_drift": ("adwin_rebuild", "odac_only"),
    "local_training": ("relevant", "all"),
    "decision": ("experts", "routing"),
    "threshold": ("f-optimal", "fixed"),
    "target": TARGET_NAMES,
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
        raise ValueError(
            f"experts must name some of 'knn', 'context', 'prior', got {model.experts!r}"
        )
    if model.decision == "routing" and model.target != "micro_f1":
        raise ValueError(f"target={model.target!r} needs decision='experts'")
    if model.knn_k < 1 or model.knn_window < 1:
        raise ValueError("knn_k and knn_window must be >= 1")


class IHOMER(base.MultiLabelClassifier, base.MiniBatchClassifier):
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
        Instances between two test points of the label tree.
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
        Commit a new partition only after this many test points without structural change.
    decision
        ``"experts"``: each label's score is a Hedge-weighted mix of experts (the hierarchy's
        score, the kNN, the label context), cut by one learned F-optimal threshold
        (:mod:`streamlabels.kernels.experts`; docs/algorithm.md §8); ``"routing"``: a routed
        group's labels whose score within the group reaches 0.5 (the plain iHOMER rule).
    threshold
        ``"f-optimal"`` (learned online) or ``"fixed"`` (0.5), for ``decision="experts"``.
    target
        The metric the labels are chosen for (``decision="experts"``), each with its own
        Bayes-optimal decision (:mod:`streamlabels.kernels.targets`): ``"micro_f1"`` (one
        F-optimal threshold), ``"macro_f1"`` (a cut per label), ``"example_f1"`` and
        ``"subset"`` (subset accuracy: whole label sets, weighed by Hedge among set experts,
        the previous and the most frequent set included), ``"hamming"`` (score >= 0.5).
    experts
        The experts besides the hierarchy's score: ``"knn"``, ``"context"`` (the previous label
        set), ``"prior"`` (the label's recent frequency).
    weighting
        ``"hedge"`` (exponential weights by each expert's loss, per label) or ``"uniform"``.
    knn_k, knn_window
        Neighbours and window (rows) of the kNN expert: the longest window of
        ``benchmarks/knn_window.py``'s grid whose cost keeps tmc2007-500 above 20,000 rows/s.
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
    Test-then-train on a synthetic stream whose labels come in planted groups:

    >>> from river import metrics
    >>> from streamlabels.streams.synthetic import SyntheticStream
    >>> stream = SyntheticStream(n_instances=2_000, seed=7)
    >>> model = IHOMER(labels=stream.label_names)
    >>> metric = metrics.multioutput.MicroAverage(metrics.F1())
    >>> for x, y in stream:
    ...     metric.update(y, model.predict_one(x))
    ...     model.learn_one(x, y)
    >>> metric
    MicroAverage(F1): 55.46%
    >>> model.groups
    [['y0', 'y1', 'y2', 'y9'], ['y3', 'y4', 'y5', 'y6', 'y7', 'y8', 'y10', 'y11']]
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
        target: str = "micro_f1",
        experts: Sequence[str] = ("knn", "context"),
        weighting: str = "hedge",
        knn_k: int = 5,
        knn_window: int = 1600,
        nonfinite: str = "skip",
        seed: int = 42,
    ):
        for name, value in locals().items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)
        _check_params(self)
        self._state = LearnedState(self._settings())
        if labels is not None:
            self._state.start(list(labels))

    @classmethod
    def _unit_test_params(cls):
        from river import linear_model, tree

        yield {"n_min": 50}
        yield {"n_min": 50, "decision": "routing"}
        yield {"n_min": 50, "learner": "tree"}
        yield {"n_min": 50, "learner": tree.HoeffdingTreeClassifier(), "restructure": "cold"}
        yield {"n_min": 30, "learner": linear_model.LogisticRegression(), "m_min": 1}

    def _unit_test_skips(self) -> set[str]:
        """river's many-vs-one probability check compares each cell of ``predict_proba_many``
        with ``predict_proba_one``'s ``{True: p, False: 1 - p}`` of a single target; a
        multi-label model's cell is one label's P(True), so that check cannot apply.
        ``tests/ihomer/test_ihomer.py`` checks the batch methods against the ``_one`` methods instead."""
        return {"check_predict_proba_many_matches_predict_proba_one"}

    @property
    def _multiclass(self):
        return False

    def _settings(self) -> dict:
        """The hyper-parameters as given (river's ``_get_params`` describes estimators instead)."""
        return {name: getattr(self, name) for name in inspect.signature(IHOMER).parameters}

    @property
    def _labels(self) -> list:
        return self._state.labels.names if self._state.started else []

    # -- one instance -----------------------------------------------------------------------

    def predict_one(self, x: dict, **kwargs) -> dict:
        if not self._state.started:
            return {}
        return dict(zip(self._labels, self._state.predict(x).tolist()))

    def predict_positives_one(self, x: dict) -> set:
        """The labels ``predict_one`` sets True, and only those: no dict over every label, for
        label spaces in the thousands with a few positives per instance (``learn_one`` takes
        such a set back as ``y``). Not a river method; it leaves the model as ``predict_one``
        does, so a test-then-train loop may use either.

        >>> model = IHOMER(labels=["a", "b", "c"], decision="routing")
        >>> for i in range(40):
        ...     model.learn_one({"f": float(i % 2)}, {"a", "c"} if i % 2 else {"b"})
        >>> sorted(model.predict_positives_one({"f": 1.0}))
        ['a', 'c']
        >>> model.predict_one({"f": 1.0})
        {'a': True, 'b': False, 'c': True}
        """
        if not self._state.started:
            return set()
        return self._state.labels.named(self._state.predict(x))

    def predict_proba_one(self, x: dict, **kwargs) -> dict:
        """Each label's P(True): the experts' weighted mix calibrated online by isotonic
        regression on past (mix, truth) pairs (``decision="experts"``; the label set is still
        cut from the mix itself), or r_k(x) * P(label | x, group k relevant), not calibrated."""
        if not self._state.started:
            return {}
        proba = self._state.score(x)[2].tolist()
        return {label: {True: p, False: 1.0 - p} for label, p in zip(self._labels, proba)}

    def score_one(self, x: dict) -> tuple[np.ndarray, np.ndarray]:
        """``predict_one`` and ``predict_proba_one``'s P(True) as arrays in label order, from one
        scoring pass (a service publishes both for every message)."""
        labels, _, scores = self._state.score(x)
        return labels, scores

    def learn_one(self, x: dict, y) -> None:
        """Learn ``x`` with its labels ``y``: a dict ``{label: truth}`` (truths are bools, 0/1 or
        ``'0'``/``'1'``/``'false'``/``'true'``) or a set or list of the positive labels."""
        if not self._state.started:
            self._state.start(LabelVocabulary.names_of([y]))
        self._state.learn(x, y)

    # -- batches ----------------------------------------------------------------------------

    def learn_many(self, X, Y, feature_names: Sequence | None = None) -> None:
        """Learn the rows of ``X`` in order, as ``learn_one`` would: a DataFrame, a numpy or
        scipy.sparse array, or a list of feature dicts. ``Y`` is a DataFrame of label columns, a
        Series or list of targets (as ``learn_one`` takes them), or a bool array whose columns
        follow the labels. ``feature_names`` names the columns of an array (default: positions).
        """
        batches.test_then_train(self._state, X, Y, feature_names, with_scores=False)

    def predict_learn_many(self, X, Y, feature_names: Sequence | None = None):
        """Test-then-train over a batch (read as :meth:`learn_many` reads it): what
        ``predict_one(x)`` answered for each row before ``learn_one(x, y)``, the model left as
        that loop leaves it, bit for bit. A bool DataFrame over the labels for a DataFrame
        ``X``, else a bool array. With the linear learners each run of rows up to the label
        tree's next test point is one compiled call.

        >>> rng = np.random.default_rng(0)
        >>> X = rng.random((500, 4))
        >>> Y = np.column_stack([X[:, 0] > 0.5, X[:, 1] > 0.5, X[:, 0] + X[:, 1] > 1])
        >>> model = IHOMER(labels=["a", "b", "c"], n_min=100)
        >>> predicted = model.predict_learn_many(X, Y)
        >>> predicted.shape, bool((predicted[250:] == Y[250:]).mean() > 0.8)
        ((500, 3), True)
        """
        predicted, _ = batches.test_then_train(self._state, X, Y, feature_names, False)
        return self._framed(X, predicted)

    def score_learn_many(self, X, Y, feature_names: Sequence | None = None):
        """:meth:`predict_learn_many`, returning ``score_one``'s labels and scores of each row
        before it was learned (two arrays whose columns follow the labels).

        >>> model, twin = IHOMER(labels=["a", "b"]), IHOMER(labels=["a", "b"])
        >>> labels, scores = model.score_learn_many(np.eye(2), np.eye(2, dtype=bool))
        >>> twin.learn_one({0: 1.0, 1: 0.0}, {"a": True, "b": False})
        >>> bool(np.array_equal(scores[1], twin.score_one({0: 0.0, 1: 1.0})[1]))
        True
        """
        return batches.test_then_train(self._state, X, Y, feature_names, with_scores=True)

    def score_many(self, X, feature_names: Sequence | None = None):
        """``score_one`` for every row of ``X`` (read as :meth:`predict_many` reads it) from the
        model as it stands: the labels and the scores, two arrays whose columns follow the
        labels. With the linear learners one compiled call on the live model (nothing to export),
        or one per thread for more than 64 rows.

        >>> model = IHOMER(labels=["a", "b"])
        >>> model.learn_many(np.eye(2), np.eye(2, dtype=bool))
        >>> labels, scores = model.score_many(np.array([[0.0, 1.0]]))
        >>> bool(np.array_equal(scores[0], model.score_one({0: 0.0, 1: 1.0})[1]))
        True
        """
        return batches.score_many(self._state, X, feature_names)

    def predict_many(self, X, device: str = "cpu", feature_names: Sequence | None = None):
        """``predict_one`` for every row: a bool DataFrame for a DataFrame, else a bool array.

        A bare array is read by position only when the model learned positions from arrays as
        wide; otherwise (named features, another width) it raises rather than mix up columns.
        On the CPU the rows are scored as :meth:`score_many` scores them; with ``device="cuda"``
        a :meth:`snapshot` is scored on a GPU (:mod:`streamlabels.scoring`).
        """
        return self._framed(X, self._batch(X, device, feature_names)[0])

    def predict_positives_many(self, X, feature_names: Sequence | None = None):
        """:meth:`predict_many`'s True entries alone, as a bool ``scipy.sparse.csr_array`` over
        the labels; rows are scored in blocks, so memory follows the positives. Not river's.

        >>> model = IHOMER(labels=["a", "b", "c"], decision="routing")
        >>> for i in range(40):
        ...     model.learn_one({"f": float(i % 2)}, {"a", "c"} if i % 2 else {"b"})
        >>> model.predict_positives_many(np.array([[1.0], [0.0]]), feature_names=["f"]).toarray()
        array([[ True, False,  True],
               [False,  True, False]])
        """
        return batches.positives_many(self._state, X, feature_names)

    def predict_proba_many(self, X, device: str = "cpu", feature_names: Sequence | None = None):
        """``predict_proba_one``'s P(True) for every row, shaped as :meth:`predict_many`'s."""
        return self._framed(X, self._batch(X, device, feature_names)[1])

    def _batch(self, X, device: str, feature_names: Sequence | None):
        if device == "cpu" or not self._state.started:
            return self.score_many(X, feature_names)
        from streamlabels import scoring

        names = self._state.features.names_of(X, feature_names, fixed=True)
        snapshot = self.snapshot()
        return scoring.score_many(snapshot, scoring.to_csr(snapshot, feature_dicts(X, names)),
                                  device=device)

    def _framed(self, X, out: np.ndarray):
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(out, index=X.index, columns=self._labels)
        return out

    def snapshot(self) -> Snapshot:
        """The model frozen for batch scoring on the CPU or a GPU (:mod:`streamlabels.scoring`):
        a copy of the compiled layout it runs on, with its feature and label names.

        Raises ``TypeError`` when ``learner`` is not ``"linear"`` (only linear learners have a
        compiled layout), ``ValueError`` before the labels are known.
        """
        if self.learner != "linear":
            kind = self.learner if isinstance(self.learner, str) else type(self.learner).__name__
            raise TypeError(
                f"only IHOMER(learner='linear') models can be exported; this one uses {kind}"
            )
        state = self._state
        if not state.started:
            raise ValueError(
                "the model has no labels yet: learn from it or pass IHOMER(labels=...)"
            )
        model = state.compiled.model(state.transition, state.experts, len(state.features))
        return freeze(model, state.features.names, self._labels, self.scaling, state.t)

    # -- saved state ------------------------------------------------------------------------

    def get_state(self) -> dict:
        """Parameters and every learned quantity, nested by part, as plain values and arrays
        (:mod:`streamlabels.ihomer.persist`); :func:`streamlabels.state.dumps` makes bytes of it.
        ``IHOMER.from_state(model.get_state())`` continues exactly as ``model`` would.

        >>> from streamlabels.state import dumps, loads
        >>> from streamlabels.streams.synthetic import SyntheticStream
        >>> stream = list(SyntheticStream(n_instances=600, seed=3))
        >>> model = IHOMER(n_min=100)
        >>> for x, y in stream[:300]:
        ...     model.learn_one(x, y)
        >>> twin = IHOMER.from_state(loads(dumps(model.get_state())))
        >>> for x, y in stream[300:]:
        ...     model.learn_one(x, y)
        ...     twin.learn_one(x, y)
        >>> x = stream[-1][0]
        >>> twin.predict_proba_one(x) == model.predict_proba_one(x), twin.events == model.events
        (True, True)

        Raises ``StateError`` for a river classifier as ``learner`` (only pickle could save it).
        """
        return persist.saved(self._settings(), self._state)

    @classmethod
    def from_state(cls, state: dict) -> IHOMER:
        """A model restored from :meth:`get_state`'s output (this release's format 5, or an
        earlier release's 3 or 4). Raises ``StateError`` when ``state`` is not an IHOMER
        state of a known version or is inconsistent; nothing is half-loaded."""
        params, learned = persist.parts(state)
        try:
            model = cls(**{**params, "labels": None})
            model.labels = params["labels"]
            model._state = LearnedState.from_state(model._settings(), learned)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise StateError(f"inconsistent IHOMER state: {type(exc).__name__}: {exc}") from exc
        return model

    # -- what it has learned ----------------------------------------------------------------

    @property
    def groups(self) -> list[list]:
        """The committed label groups, as label names."""
        active = self._state.transition.active.groups if self._state.started else []
        return [[self._labels[i] for i in g] for g in active]

    @property
    def group_ids(self) -> list[str]:
        """Stable identities of the committed groups (derived from their label sets)."""
        return [] if not self._state.started else [
            group_id(g) for g in self._state.transition.active.groups
        ]

    @property
    def tree(self):
        """The online label tree (None before the labels are known)."""
        return self._state.structure.tree if self._state.started else None

    @property
    def events(self) -> list[dict]:
        """The latest ``max_events`` structure changes and drift detections: dicts with ``t``,
        ``kind`` and details."""
        return list(self._state.structure.events) if self._state.started else []

    @property
    def expert_weights(self) -> dict:
        """Each label's weight on each expert in use (``decision="experts"``), e.g.
        ``{"sports": {"model": 0.7, "knn": 0.2, "context": 0.1}}``; empty otherwise."""
        layer = self._state.experts
        if layer is None:
            return {}
        names = layer.in_use()
        weights = layer.weights()[:, [EXPERT_NAMES.index(name) for name in names]].tolist()
        return {label: dict(zip(names, row)) for label, row in zip(self._labels, weights)}

    @property
    def n_nonfinite(self) -> int:
        """Non-finite feature values (NaN, inf) left out of learned rows as missing."""
        return self._state.features.n_nonfinite

    @property
    def n_instances(self) -> int:
        return self._state.t

    def render_tree(self) -> str:
        """The label tree as indented text."""
        return render_text(self.tree, self._labels) if self.tree else "(no labels yet)"

    def model_size(self) -> dict:
        """Sizes a user watches: groups, learners, label-tree nodes and bytes of pair counts."""
        state = self._state
        if not state.started:
            return {"groups": 0, "learners": 0, "tree_nodes": 0, "tree_bytes": 0}
        active = state.transition.active
        return {
            "groups": len(active.groups),
            "learners": 1 + sum(learner is not None for learner in active.locals),
            "tree_nodes": self.tree.n_nodes,
            "tree_bytes": self.tree.memory_bytes(),
            "features": len(state.features) or len(state.dense_template),
        }
