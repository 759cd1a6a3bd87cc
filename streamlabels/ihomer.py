"""iHOMER: an incremental hierarchy of multi-label classifiers (ALGORITHM.md is the specification).

An online Jaccard label tree (:mod:`streamlabels.labeltree`) clusters the labels; its committed
partition defines label groups. A router predicts which groups are relevant, each group's learner
predicts the labels inside it, and the prediction is the union over routed groups. When the
committed partition changes, learners are restructured with warm starts and a shadow warm-up, and
an ADWIN on the model's own Hamming loss resets the label tree when accuracy drops.
"""

from __future__ import annotations

import collections
import copy
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse
from river import base

from streamlabels.batches import feature_dicts
from streamlabels.drift import ADWIN
from streamlabels.features import FeatureSpace, Row
from streamlabels.hierarchy import Hierarchy
from streamlabels.labeltree import LabelTree, Partitioner, group_id
from streamlabels.learners.base import MultiOutputLearner
from streamlabels.learners.hoeffding import MultiLabelHoeffdingTree
from streamlabels import _fused_kernels
from streamlabels.learners.linear import LinearLearner, stack
from streamlabels.learners.river import RiverLearner
from streamlabels.state import StateError

__all__ = ["IHOMER"]


class IHOMER(base.MultiLabelClassifier):
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
    theta_route
        A group is routed when the router's score reaches this value.
    group_nonempty
        A routed group predicts at least its most probable label (a routed group means that at
        least one of its labels is positive).
    ensure_nonempty
        Never predict the empty set: fall back to the best group and its best label.
    restructure
        ``"warm"``: split groups start from a copy of their old learner and other new groups are
        predicted by the previous hierarchy while they warm up; ``"cold"``: fresh learners.
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
        seed: int = 42,
    ):
        self.labels = labels
        self.features = features
        self.learner = learner
        self.scaling = scaling
        self.lr = lr
        self.n_min = n_min
        self.delta = delta
        self.tau = tau
        self.evidence = evidence
        self.m_min = m_min
        self.m_max = m_max
        self.commit_after_stable = commit_after_stable
        self.theta_route = theta_route
        self.group_nonempty = group_nonempty
        self.ensure_nonempty = ensure_nonempty
        self.restructure = restructure
        self.router_warmup = router_warmup
        self.local_warmup = local_warmup
        self.global_drift = global_drift
        self.drift_delta = drift_delta
        self.local_training = local_training
        self.max_events = max_events
        self.seed = seed
        self._check_params()

        self._labels: list = []
        self._label_ids: dict = {}
        self._features = FeatureSpace(features)
        self._dense_template: dict = {}
        self._t = 0
        self._tree: LabelTree | None = None
        self._partitioner: Partitioner | None = None
        self._active: Hierarchy | None = None
        self._shadow: Hierarchy | None = None
        self._shadow_router_left = 0
        self._shadow_groups_left: dict[int, int] = {}
        self._shadow_map: list[np.ndarray] = []
        self._loss_detector = ADWIN(delta=drift_delta)
        self._last_reset = 0
        self._changed = False
        self._events: collections.deque[dict] = collections.deque(maxlen=max_events)
        self._cache: tuple | None = None
        self._bank = None  # the learners stacked for the compiled path (predict_learn_many)
        if labels is not None:
            self._start(list(labels))

    def _check_params(self) -> None:
        choices = {
            "scaling": ("standard", "sparse", "none"),
            "evidence": ("relevant", "instances"),
            "restructure": ("warm", "cold"),
            "global_drift": ("adwin_rebuild", "odac_only"),
            "local_training": ("relevant", "all"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if isinstance(self.learner, str) and self.learner not in ("linear", "tree"):
            raise ValueError(
                f"learner must be 'linear', 'tree' or a river classifier, got {self.learner!r}"
            )
        if self.n_min < 1:
            raise ValueError(f"n_min must be >= 1, got {self.n_min}")
        if self.max_events < 0:
            raise ValueError(f"max_events must be >= 0, got {self.max_events}")

    @classmethod
    def _unit_test_params(cls):
        from river import linear_model, tree

        yield {"n_min": 50}
        yield {"n_min": 50, "learner": "tree"}
        yield {"n_min": 50, "learner": tree.HoeffdingTreeClassifier(), "restructure": "cold"}
        yield {"n_min": 30, "learner": linear_model.LogisticRegression(), "m_min": 1}

    @property
    def _multiclass(self):
        return False

    # -- set-up -----------------------------------------------------------------------------

    def _start(self, labels: list) -> None:
        if len(set(labels)) != len(labels):
            raise ValueError("labels must be distinct")
        self._labels = labels
        self._label_ids = {label: i for i, label in enumerate(labels)}
        self._tree = LabelTree(
            len(labels), n_min=self.n_min, delta=self.delta, tau=self.tau, evidence=self.evidence
        )
        self._partitioner = Partitioner(
            m_min=self.m_min, m_max=self.m_max, commit_after_stable=self.commit_after_stable
        )
        self._active = self._new_hierarchy(self._partitioner.start(self._tree), {})

    def _make_learner(self, n_outputs: int) -> MultiOutputLearner:
        if self.learner == "tree":
            return MultiLabelHoeffdingTree(n_outputs, seed=self.seed)
        if isinstance(self.learner, str):
            return LinearLearner(n_outputs, lr=self.lr, scaling=self.scaling)
        return RiverLearner(self.learner, n_outputs)

    def _new_hierarchy(self, groups, warm) -> Hierarchy:
        return Hierarchy(
            groups,
            len(self._labels),
            self._make_learner,
            warm=warm,
            relevant_only=self.local_training == "relevant",
        )

    def _row(self, x: dict, grow: bool) -> Row:
        if isinstance(self.learner, str):
            return self._features.row(x, grow=grow)
        if grow:
            for name in x:
                self._dense_template.setdefault(name, 0.0)
        dense = {**self._dense_template, **x} if len(x) < len(self._dense_template) else x
        return Row(dense, np.empty(0, dtype=np.int64), np.empty(0))

    def _positives(self, y: dict) -> np.ndarray:
        ids = []
        for label, value in y.items():
            if value:
                label_id = self._label_ids.get(label)
                if label_id is None:
                    raise ValueError(
                        f"label {label!r} is not in the label vocabulary {self._labels}; "
                        "pass every label to IHOMER(labels=...)"
                    )
                ids.append(label_id)
        return np.array(sorted(ids), dtype=np.int64)

    # -- prediction -------------------------------------------------------------------------

    def _routing(self, row: Row) -> np.ndarray:
        scores = self._active.router_scores(row)
        if self._shadow is not None and self._shadow_router_left > 0:
            old = self._shadow.router_scores(row)
            scores = np.array([old[olds].max() for olds in self._shadow_map])
        return scores

    def _shadow_labels(self, row: Row) -> np.ndarray:
        """The previous hierarchy's label scores (its router gate times its local score).

        Only the old groups holding labels of groups still warming up are asked.
        """
        shadow = self._shadow
        scores = shadow.router_scores(row)
        out = np.zeros(len(self._labels))
        warming = [self._active.members[k] for k in self._shadow_groups_left]
        sources = np.unique(shadow.group_of[np.concatenate(warming)])
        for k in sources[scores[sources] >= self.theta_route]:
            out[shadow.members[k]] = shadow.local_proba(k, row)
        return out

    def _scores(self, row: Row, every_group: bool) -> tuple[np.ndarray, np.ndarray]:
        """Router scores per group and within-group label scores per label.

        Label scores are computed for routed groups only unless ``every_group`` is set.
        """
        active = self._active
        routing = self._routing(row)
        local = np.zeros(len(self._labels))
        if every_group or self.ensure_nonempty:
            groups = range(len(active.groups))
        else:
            groups = (routing >= self.theta_route).nonzero()[0]
        shadow = None
        for k in groups:
            members = active.members[k]
            if self._shadow_groups_left.get(k, 0) > 0:
                if shadow is None:
                    shadow = self._shadow_labels(row)
                local[members] = shadow[members]
            else:
                local[members] = active.local_proba(k, row)
        return routing, local

    def _predict_row(self, row: Row) -> np.ndarray:
        return self._decide(*self._scores(row, every_group=False))

    def _decide(self, routing: np.ndarray, local: np.ndarray) -> np.ndarray:
        """The predicted labels: routed groups' labels whose within-group score reaches 0.5."""
        active = self._active
        predicted = (routing[active.group_of] >= self.theta_route) & (local >= 0.5)
        if self.group_nonempty:
            for k in (routing >= self.theta_route).nonzero()[0]:
                members = active.members[k]
                if not predicted[members].any():
                    predicted[members[int(np.argmax(local[members]))]] = True
        if self.ensure_nonempty and not predicted.any() and len(routing):
            members = active.members[int(np.argmax(routing))]
            predicted[members[int(np.argmax(local[members]))]] = True
        return predicted

    def predict_one(self, x: dict, **kwargs) -> dict:
        if self._active is None:
            return {}
        row = self._row(x, grow=False)
        predicted = self._predict_row(row)
        # learn_one(x) right after predict_one(x) reuses both (the prequential loop's pattern).
        self._cache = (x, predicted, row)
        return {label: bool(v) for label, v in zip(self._labels, predicted)}

    def score_one(self, x: dict) -> tuple[np.ndarray, np.ndarray]:
        """``predict_one`` and ``predict_proba_one``'s P(True) as arrays in label order, from one
        scoring pass (a service publishes both for every message)."""
        row = self._row(x, grow=False)
        routing, local = self._scores(row, every_group=True)
        predicted = self._decide(routing, local)
        self._cache = (x, predicted, row)
        return predicted, routing[self._active.group_of] * local

    def predict_proba_one(self, x: dict, **kwargs) -> dict:
        """Scores r_k(x) * P(label | x, group k relevant); not calibrated probabilities."""
        if self._active is None:
            return {}
        proba = self._proba(x)
        return {
            label: {True: float(p), False: 1.0 - float(p)} for label, p in zip(self._labels, proba)
        }

    def _proba(self, x: dict) -> np.ndarray:
        routing, local = self._scores(self._row(x, grow=False), every_group=True)
        return routing[self._active.group_of] * local

    # -- learning ---------------------------------------------------------------------------

    def learn_one(self, x: dict, y: dict) -> None:
        if self._active is None:
            self._start(list(y))
        positives = self._positives(y)
        truth = np.zeros(len(self._labels), dtype=bool)
        truth[positives] = True
        self._t += 1
        cached = self._cache if self._cache is not None and self._cache[0] is x else None
        self._cache = None
        loss = None
        if self.global_drift == "adwin_rebuild":
            predicted = cached[1] if cached else self._predict_row(self._row(x, grow=False))
            loss = float(np.count_nonzero(predicted != truth)) / len(truth)
        if cached and isinstance(self.learner, str) and len(cached[2].indices) == len(x):
            row = cached[2]
        else:
            row = self._row(x, grow=True)
        self._track(positives, loss)
        self._active.learn(row, truth, positives)
        if self._shadow is not None:
            self._learn_shadow(row, truth, positives)
        self._checkpoint()

    def _track(self, positives: np.ndarray, loss: float | None) -> None:
        """An instance's bookkeeping besides the learners: loss detector and label tree.

        Neither feeds back into the learners before the next checkpoint, which is what lets the
        compiled path train the learners on a whole run of rows first.
        """
        if loss is not None:
            self._watch_loss(loss)
        for event in self._tree.update(positives):
            self._changed = True
            self._events.append(
                {"t": self._t, "kind": event.kind, "labels": self._names(event.labels)}
            )
        self._partitioner.observe_labelset_size(len(positives))

    def _checkpoint(self) -> None:
        if self._t % self.n_min == 0:
            partition = self._partitioner.at_checkpoint(self._tree, self._changed)
            self._changed = False
            if partition is not None and partition != self._active.groups:
                self._restructure(partition)

    def _watch_loss(self, loss: float) -> None:
        before = self._loss_detector.estimation
        self._loss_detector.update(loss)
        if not self._loss_detector.drift_detected:
            return
        rose = self._loss_detector.estimation > before
        if rose and self._t - self._last_reset >= 2 * self.n_min:
            self._tree.reset()
            self._changed = True
            self._last_reset = self._t
            self._events.append({"t": self._t, "kind": "drift", "labels": []})

    def _learn_shadow(self, row: Row, truth: np.ndarray, positives: np.ndarray) -> None:
        self._shadow.learn(row, truth, positives)
        self._shadow_router_left -= 1
        meta = self._active.meta_labels(positives)
        for k in list(self._shadow_groups_left):
            if meta[k]:
                self._shadow_groups_left[k] -= 1
                if self._shadow_groups_left[k] <= 0:
                    del self._shadow_groups_left[k]
        if self._shadow_router_left <= 0 and not self._shadow_groups_left:
            self._shadow = None
            self._shadow_map = []

    def _restructure(self, groups: list[tuple[int, ...]]) -> None:
        old = self._active
        old_index = {g: k for k, g in enumerate(old.groups)}
        warm, fresh = {}, []
        for k, group in enumerate(groups):
            if group in old_index:
                if old.locals[old_index[group]] is not None:
                    warm[k] = old.locals[old_index[group]]
                continue
            parent = old.group_of[group[0]]
            inside_parent = all(old.group_of[label] == parent for label in group)
            if self.restructure == "warm" and inside_parent and len(group) > 1:
                members = old.groups[parent]
                positions = [members.index(label) for label in group]
                warm[k] = old.locals[parent].subset(positions)
            elif len(group) > 1:
                fresh.append(k)
        self._active = self._new_hierarchy(groups, warm)
        if self.restructure == "warm":
            for group in groups:
                if group in old_index:
                    # The new hierarchy owns this learner now; the shadow must not train it too.
                    old.locals[old_index[group]] = None
            self._shadow = old
            self._shadow_router_left = self.router_warmup
            self._shadow_groups_left = {k: self.local_warmup for k in fresh}
            self._shadow_map = [np.unique(old.group_of[list(group)]) for group in groups]
        else:
            self._shadow = None
            self._shadow_map = []
        self._events.append(
            {"t": self._t, "kind": "commit", "groups": [self._names(g) for g in groups]}
        )

    # -- batches ----------------------------------------------------------------------------

    def learn_many(self, X, Y, feature_names: Sequence | None = None) -> None:
        """Learn the rows of ``X`` (pandas, numpy or scipy.sparse) in order, as ``learn_one`` would.

        ``Y`` is a DataFrame of label columns, or a bool array whose columns follow ``labels``.
        Runs :meth:`predict_learn_many` (the loss detector needs each row's prediction anyway).
        """
        self.predict_learn_many(X, Y, feature_names)

    def predict_learn_many(self, X, Y, feature_names: Sequence | None = None):
        """Test-then-train over a batch: predict each row of ``X``, then learn it from ``Y``.

        Returns what ``predict_one(x)`` answered for each row before ``learn_one(x, y)``, and leaves
        the model as that loop would, bit for bit (rows and labels are read as
        :meth:`learn_many` reads them; ``feature_names`` names the columns of ``X``, default: a
        DataFrame's column names, else positions). The result is a bool DataFrame over the
        labels for a DataFrame ``X``, else a bool array whose columns follow the labels.

        With the compiled linear learners each run of rows up to the next checkpoint of the label
        tree is one compiled call (:mod:`streamlabels._fused_kernels`); only the label tree and the
        loss detector are updated row by row in Python.

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.random((500, 4))
        >>> Y = np.column_stack([X[:, 0] > 0.5, X[:, 1] > 0.5, X[:, 0] + X[:, 1] > 1])
        >>> model = IHOMER(labels=["a", "b", "c"], n_min=100)
        >>> predicted = model.predict_learn_many(X, Y)
        >>> predicted.shape, bool((predicted[250:] == Y[250:]).mean() > 0.8)
        ((500, 3), True)
        """
        started = self._active is not None
        Y = self._label_matrix(Y)
        n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
        if n_rows != Y.shape[0]:
            raise ValueError(f"X has {n_rows} rows but Y has {Y.shape[0]}")
        if not isinstance(self._active.router, LinearLearner):  # no compiled path: the loop
            predicted = np.zeros(Y.shape, dtype=bool)
            for i, x in enumerate(feature_dicts(X, feature_names)):
                predicted[i] = self._predict_row_of(x)
                self.learn_one(x, dict(zip(self._labels, Y[i].tolist())))
        else:
            indptr, indices, values = self._features.csr(X, feature_names)
            self._cache = None
            predicted = np.zeros(Y.shape, dtype=bool)
            start = 0
            while start < Y.shape[0]:
                stop = min(Y.shape[0], start + self.n_min - self._t % self.n_min)
                rows = indptr[start : stop + 1]
                run = (rows - rows[0], indices[rows[0] : rows[-1]], values[rows[0] : rows[-1]])
                predicted[start:stop] = self._predict_learn_run(*run, Y[start:stop])
                start = stop
        if not started and len(predicted):
            predicted[0] = False  # predict_one answers {} before the first learn_one
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(predicted, index=X.index, columns=self._labels)
        return predicted

    def _label_matrix(self, Y) -> np.ndarray:
        """``Y`` as a bool array over the label vocabulary, starting the model on first use."""
        if isinstance(Y, pd.DataFrame):
            names = list(Y.columns)
            if self._active is None:
                self._start(names)
            unknown = [name for name in names if name not in self._label_ids]
            if unknown:
                raise ValueError(
                    f"labels {unknown} are not in the label vocabulary {self._labels}; "
                    "pass every label to IHOMER(labels=...)"
                )
            out = np.zeros((len(Y), len(self._labels)), dtype=bool)
            out[:, [self._label_ids[name] for name in names]] = Y.to_numpy().astype(bool)
            return out
        Y = np.asarray(Y.toarray() if scipy.sparse.issparse(Y) else Y)
        if Y.ndim != 2:
            raise ValueError(f"Y must be two-dimensional, got shape {Y.shape}")
        if self._active is None:
            self._start(list(range(Y.shape[1])))
        if Y.shape[1] != len(self._labels):
            raise ValueError(
                f"Y has {Y.shape[1]} columns but the model knows {len(self._labels)} labels"
            )
        return np.ascontiguousarray(Y.astype(bool))

    def _predict_learn_run(self, indptr, indices, values, Y: np.ndarray) -> np.ndarray:
        """Test-then-train on rows that end at or before the next checkpoint (one kernel call)."""
        active, shadow = self._active, self._shadow
        hierarchies = [active] if shadow is None else [active, shadow]
        learners = [h.router for h in hierarchies]
        learners += [learner for h in hierarchies for learner in h.locals if learner is not None]
        self._bank = stack(learners, len(self._features), self._bank)
        index = {id(learner): j for j, learner in enumerate(learners)}
        arrays = active.kernel_arrays(index)
        shadow_arrays = arrays if shadow is None else shadow.kernel_arrays(index)
        n_groups = len(active.groups)
        shadow_left = np.array([shadow is not None, self._shadow_router_left], dtype=np.int64)
        warming = np.zeros(n_groups, dtype=bool)
        warm_left = np.zeros(n_groups, dtype=np.int64)
        for k, left in self._shadow_groups_left.items():
            warming[k], warm_left[k] = True, left
        map_offsets = np.zeros(n_groups + 1, dtype=np.int64)
        map_groups = np.zeros(0, dtype=np.int64)
        if shadow is not None:
            np.cumsum([len(m) for m in self._shadow_map], out=map_offsets[1:])
            map_groups = np.concatenate(self._shadow_map).astype(np.int64)
        learner = learners[0]
        predicted = np.zeros(Y.shape, dtype=bool)
        _fused_kernels.predict_learn_rows(
            indptr, indices, values, Y, predicted, self._bank.arrays, learner._mode,
            learner.lr, learner.l2, learner.intercept_lr, self.theta_route,
            self.group_nonempty, self.ensure_nonempty, active.relevant_only,
            *arrays, *shadow_arrays, shadow_left, warming, warm_left, map_offsets, map_groups,
        )
        active.router_seen = int(arrays[-1][0])
        if shadow is not None:
            shadow.router_seen = int(shadow_arrays[-1][0])
            self._shadow_router_left = int(shadow_left[1])
            self._shadow_groups_left = {
                k: int(warm_left[k]) for k in self._shadow_groups_left if warming[k]
            }
            if not shadow_left[0]:
                self._shadow = None
                self._shadow_map = []
        losses = None
        if self.global_drift == "adwin_rebuild":
            losses = (np.count_nonzero(predicted != Y, axis=1) / Y.shape[1]).tolist()
        rows, labels = Y.nonzero()
        ends = np.searchsorted(rows, np.arange(1, Y.shape[0] + 1))
        starts = 0
        for i, end in enumerate(ends.tolist()):
            self._t += 1
            self._track(labels[starts:end], None if losses is None else losses[i])
            starts = end
        self._checkpoint()
        return predicted

    def predict_many(self, X, device: str = "cpu"):
        """``predict_one`` for every row: a bool DataFrame for a DataFrame, else a bool array.

        With the compiled learner the batch is scored from a frozen snapshot by the parallel CPU
        scorer or, with ``device="cuda"``, on a GPU (:mod:`streamlabels.scoring`): the labels of
        ``predict_one``, row by row, with the model as it stands.
        """
        return self._batch(X, device, proba=False)

    def predict_proba_many(self, X, device: str = "cpu"):
        """``predict_proba_one``'s P(True) for every row, shaped like ``predict_many``'s output."""
        return self._batch(X, device, proba=True)

    def _batch(self, X, device: str, proba: bool):
        dtype = np.float64 if proba else bool
        if self._active is None:
            out = np.zeros((len(list(feature_dicts(X))), 0), dtype=dtype)
        elif self.learner == "linear":
            from streamlabels import scoring

            snapshot = scoring.export(self)
            rows = scoring.to_csr(snapshot, feature_dicts(X))
            score = scoring.predict_proba_many if proba else scoring.predict_many
            out = score(snapshot, rows, device=device)
        else:
            if device != "cpu":
                raise ValueError("GPU scoring needs learner='linear'")
            predict = self._proba if proba else self._predict_row_of
            out = np.array([predict(x) for x in feature_dicts(X)], dtype=dtype)
            out = out.reshape(-1, len(self._labels))
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(out, index=X.index, columns=self._labels)
        return out

    def _predict_row_of(self, x: dict) -> np.ndarray:
        return self._predict_row(self._row(x, grow=False))

    # -- introspection ----------------------------------------------------------------------

    def _names(self, ids) -> list:
        return [self._labels[i] for i in ids]

    @property
    def groups(self) -> list[list]:
        """The committed label groups, as label names."""
        return [] if self._active is None else [self._names(g) for g in self._active.groups]

    @property
    def group_ids(self) -> list[str]:
        """Stable identities of the committed groups (derived from their label sets)."""
        return [] if self._active is None else [group_id(g) for g in self._active.groups]

    @property
    def tree(self) -> LabelTree | None:
        """The online label tree."""
        return self._tree

    @property
    def events(self) -> list[dict]:
        """The latest ``max_events`` structure changes and drift detections: dicts with ``t``,
        ``kind`` and details."""
        return list(self._events)

    @property
    def n_instances(self) -> int:
        return self._t

    def render_tree(self) -> str:
        """The label tree as indented text."""
        from streamlabels.labeltree import render_text

        return render_text(self._tree, self._labels) if self._tree else "(no labels yet)"

    def model_size(self) -> dict:
        """Sizes a user watches: groups, learners, label-tree nodes and bytes of pair counts."""
        if self._active is None:
            return {"groups": 0, "learners": 0, "tree_nodes": 0, "tree_bytes": 0}
        learners = 1 + sum(learner is not None for learner in self._active.locals)
        return {
            "groups": len(self._active.groups),
            "learners": learners,
            "tree_nodes": self._tree.n_nodes,
            "tree_bytes": self._tree.memory_bytes(),
            "features": len(self._features) or len(self._dense_template),
        }

    # -- checkpoints ------------------------------------------------------------------------

    _STATE_KIND = "streamlabels.IHOMER"
    _STATE_VERSION = 2

    def get_state(self) -> dict:
        """Parameters and every learned quantity, as plain values and arrays (no pickle needed).

        ``IHOMER.from_state(model.get_state())`` continues exactly as ``model`` would, bit for bit;
        :func:`streamlabels.state.dumps` turns the dict into checkpoint bytes. The prediction kept
        for a ``learn_one(x)`` right after ``predict_one(x)`` on the same dict object is left out:
        a restored model has not seen that object, so it recomputes the prediction, which is the
        same.

        Raises
        ------
        StateError
            When ``learner`` is a river classifier: its state could only be saved with pickle.

        Examples
        --------
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
        """
        if not isinstance(self.learner, str):
            raise StateError(
                f"checkpoints need learner='linear': a river classifier ({self.learner!r}) can "
                "only be saved with pickle, which streamlabels does not use"
            )
        params = {name: getattr(self, name) for name in self._get_params()}
        params["labels"] = None if self.labels is None else list(self.labels)
        params["features"] = None if self.features is None else list(self.features)
        learners: list = []
        active = None if self._active is None else self._active.get_state(learners)
        shadow = None if self._shadow is None else self._shadow.get_state(learners)
        return {
            "kind": self._STATE_KIND,
            "version": self._STATE_VERSION,
            "params": params,
            "labels": list(self._labels),
            "features": self._features.get_state(),
            "t": self._t,
            "tree": None if self._tree is None else self._tree.get_state(),
            "partitioner": None if self._partitioner is None else self._partitioner.get_state(),
            "learners": [learner.get_state() for learner in learners],
            "active": active,
            "shadow": shadow,
            "shadow_router_left": self._shadow_router_left,
            "shadow_groups": list(self._shadow_groups_left),
            "shadow_groups_left": list(self._shadow_groups_left.values()),
            "shadow_map": [m.copy() for m in self._shadow_map],
            "loss_detector": self._loss_detector.get_state(),
            "last_reset": self._last_reset,
            "changed": self._changed,
            "events": copy.deepcopy(list(self._events)),
        }

    @classmethod
    def from_state(cls, state: dict) -> IHOMER:
        """A model restored from :meth:`get_state`'s output (e.g. after ``loads``).

        Raises
        ------
        StateError
            When ``state`` is not an IHOMER state of a known version, or is inconsistent. A new
            model is built from scratch, so a refused state leaves nothing half-loaded.
        """
        if not isinstance(state, dict) or state.get("kind") != cls._STATE_KIND:
            raise StateError("not an IHOMER state (missing or wrong 'kind')")
        if state.get("version") != cls._STATE_VERSION:
            raise StateError(
                f"IHOMER state version {state.get('version')!r} is not supported (this version of "
                f"streamlabels reads version {cls._STATE_VERSION})"
            )
        try:
            return cls._from_state(state)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise StateError(f"inconsistent IHOMER state: {type(exc).__name__}: {exc}") from exc

    @classmethod
    def _from_state(cls, state: dict) -> IHOMER:
        params = dict(state["params"])
        labels = params.pop("labels")
        model = cls(**params)
        model.labels = labels
        model._labels = list(state["labels"])
        model._label_ids = {label: i for i, label in enumerate(model._labels)}
        model._features = FeatureSpace.from_state(state["features"])
        model._t = int(state["t"])
        if state["tree"] is not None:
            model._tree = LabelTree.from_state(state["tree"])
            model._partitioner = Partitioner.from_state(state["partitioner"])
        kind = MultiLabelHoeffdingTree if params["learner"] == "tree" else LinearLearner
        learners = [kind.from_state(s) for s in state["learners"]]
        if state["active"] is not None:
            model._active = Hierarchy.from_state(state["active"], learners)
        if state["shadow"] is not None:
            model._shadow = Hierarchy.from_state(state["shadow"], learners)
        model._shadow_router_left = int(state["shadow_router_left"])
        model._shadow_groups_left = dict(
            zip(state["shadow_groups"], state["shadow_groups_left"], strict=True)
        )
        model._shadow_map = [np.asarray(m, dtype=np.int64) for m in state["shadow_map"]]
        model._loss_detector = ADWIN.from_state(state["loss_detector"])
        model._last_reset = int(state["last_reset"])
        model._changed = bool(state["changed"])
        model._events.extend(copy.deepcopy(list(state["events"])))
        return model
