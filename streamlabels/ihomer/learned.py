"""What one IHOMER model has learned, part by part, and how one instance moves it.

:class:`LearnedState` is the one object behind :class:`~streamlabels.ihomer.IHOMER`: the feature
space, and once the labels are known the label vocabulary, the label structure (tree, partition,
loss detector), the transition (the hierarchies and their learners) and the decision layer, plus
the instance count. Each part keeps its own state and saves it (``get_state``); this object
composes them, runs ``predict_one`` / ``learn_one`` over them, and saves them nested by part.
The batch paths (:mod:`.batches`) run on the same object.
"""

from __future__ import annotations

import numpy as np

from streamlabels.ihomer.compiled import CompiledLayout
from streamlabels.ihomer.experts import ExpertLayer
from streamlabels.ihomer.hierarchy import Hierarchy
from streamlabels.ihomer.structure import LabelStructure
from streamlabels.ihomer.transition import Transition
from streamlabels.kernels.decision import Rule
from streamlabels.learners.base import MultiOutputLearner
from streamlabels.learners.hoeffding import MultiLabelHoeffdingTree
from streamlabels.learners.linear import LinearLearner
from streamlabels.learners.river import RiverLearner
from streamlabels.vocabulary import FeatureSpace, LabelVocabulary, Row

__all__ = ["LearnedState"]


class LearnedState:
    """The learned parts of one IHOMER model with hyper-parameters ``params`` (its
    ``_get_params()``). The label parts are None until :meth:`start` names the labels."""

    def __init__(self, params: dict):
        self.params = params
        self.features = FeatureSpace(params["features"], params["nonfinite"])
        self.labels: LabelVocabulary | None = None
        self.structure: LabelStructure | None = None
        self.transition: Transition | None = None
        self.experts: ExpertLayer | None = None
        self.t = 0
        self.compiled = CompiledLayout()  # the parts as the kernels' arrays
        self.dense_template: dict = {}  # river learners get every feature seen so far
        # predict_one's (x, labels, row, the decision layer's kept arrays, final scores, the
        # hierarchy's labels),
        # kept for a learn_one of the same x right after (the prequential loop's pattern)
        self.pending: tuple | None = None

    @property
    def started(self) -> bool:
        return self.labels is not None

    @property
    def compiled_path(self) -> bool:
        """Whether the learners are the compiled linear ones (the fused and scorer paths)."""
        return self.params["learner"] == "linear"

    def start(self, labels: list) -> None:
        """Build the label parts for ``labels``."""
        p = self.params
        self.labels = LabelVocabulary(labels)
        self.structure = LabelStructure(
            labels, p["n_min"], p["delta"], p["tau"], p["evidence"], p["m_min"], p["m_max"],
            p["commit_after_stable"], p["global_drift"], p["drift_delta"], p["max_events"],
        )
        rule = Rule(float(p["theta_route"]), bool(p["group_nonempty"]),
                    bool(p["ensure_nonempty"]), p["decision"] == "experts")
        self.transition = Transition(
            self._hierarchy(self.structure.first_partition(), {}), self._hierarchy, rule,
            p["restructure"] == "warm", p["router_warmup"], p["local_warmup"],
        )
        if p["decision"] == "experts":
            self.experts = ExpertLayer(len(labels), p["experts"], p["weighting"], p["threshold"],
                                       p["knn_k"], p["knn_window"], p["scaling"] == "standard",
                                       p["target"])

    def _learner(self, n_outputs: int) -> MultiOutputLearner:
        learner = self.params["learner"]
        if learner == "tree":
            return MultiLabelHoeffdingTree(n_outputs, seed=self.params["seed"])
        if isinstance(learner, str):
            return LinearLearner(n_outputs, lr=self.params["lr"], scaling=self.params["scaling"])
        return RiverLearner(learner, n_outputs)

    def _hierarchy(self, groups, warm) -> Hierarchy:
        return Hierarchy(groups, len(self.labels), self._learner, warm=warm,
                         relevant_only=self.params["local_training"] == "relevant")

    # -- one instance ----------------------------------------------------------------------

    def row(self, x: dict, grow: bool) -> Row:
        """``x`` as a row of the feature space; river learners read it as a dense dict too."""
        row = self.features.row(x, grow=grow)
        if isinstance(self.params["learner"], str):
            return row
        if grow:
            for name in x:
                self.dense_template.setdefault(name, 0.0)
        dense = {**self.dense_template, **x} if len(x) < len(self.dense_template) else x
        return Row(dense, row.indices, row.values)

    def score(self, x: dict, probabilities: bool = True) -> tuple:
        """Labels, the decision layer's kept arrays (None without the layer) and final scores
        of ``x`` (the layer's calibrated ones; None if not ``probabilities``), kept for a
        ``learn`` of the same ``x`` right after."""
        row = self.row(x, grow=False)
        transition = self.transition
        routing, local = transition.scores(row, every_group=True)
        model_scores = transition.label_scores(routing, local)
        labels = own = transition.decide(routing, local)
        kept, scores = None, model_scores
        if self.experts is not None:
            labels, kept = self.experts.decide(model_scores, row)
            scores = self.experts.probabilities() if probabilities else None
        self.pending = (x, labels, row, kept, scores, own)
        return labels, kept, scores

    def predict(self, x: dict) -> np.ndarray:
        """The labels of ``x``, kept as :meth:`score` keeps them (the routing rule asks only
        the routed groups)."""
        if self.experts is not None:
            return self.score(x, probabilities=False)[0]
        row = self.row(x, grow=False)
        labels = self.transition.predict(row)
        self.pending = (x, labels, row, None, None, labels)
        return labels

    def learn(self, x: dict, y) -> None:
        """Learn one instance: the loss detector, the label tree, the learners, the layer."""
        positives = self.labels.positives(y)
        truth = np.zeros(len(self.labels), dtype=bool)
        truth[positives] = True
        watch_loss = self.params["global_drift"] == "adwin_rebuild"
        if self.pending is None or self.pending[0] is not x:
            self.pending = None
            if self.experts is not None or watch_loss:
                self.predict(x)
        pending, self.pending = self.pending, None
        loss = float(np.count_nonzero(pending[5] != truth)) / len(truth) if watch_loss else None
        reusable = isinstance(self.params["learner"], str)  # river learners' rows grow templates
        if pending and reusable and len(pending[2].indices) == len(x):
            row = pending[2]
        else:
            row = self.row(x, grow=True)  # the last check (non-finite values): nothing changed yet
        self.t += 1
        self.structure.track(self.t, positives, loss)
        self.transition.learn(row, truth, positives)
        if self.experts is not None:
            self.experts.learn(truth, row, pending[3])
        self.at_test_point()

    def at_test_point(self) -> None:
        """At the label tree's test point, commit the partition it settled on, if any."""
        partition = self.structure.test_point(self.t)
        if partition is not None and partition != self.transition.active.groups:
            self.commit(partition)

    def commit(self, partition: list[tuple[int, ...]]) -> None:
        """Restructure the hierarchy for ``partition`` (groups of label ids) and log it."""
        self.transition.restructure(partition)
        self.structure.record_commit(self.t, partition)

    # -- saved state -----------------------------------------------------------------------

    def get_state(self) -> dict:
        """Every learned quantity, nested by part (None for the label parts before the start)."""
        started = self.started
        return {
            "features": self.features.get_state(),
            "t": self.t,
            "labels": list(self.labels.names) if started else None,
            "structure": self.structure.get_state() if started else None,
            "transition": self.transition.get_state() if started else None,
            "experts": None if self.experts is None else self.experts.get_state(),
        }

    @classmethod
    def from_state(cls, params: dict, state: dict) -> LearnedState:
        """The parts :meth:`get_state` saved, for a model with hyper-parameters ``params``."""
        learned = cls(params)
        learned.features = FeatureSpace.from_state(state["features"], params["nonfinite"])
        learned.t = int(state["t"])
        if state["labels"] is None:
            return learned
        learned.start(list(state["labels"]))
        learned.structure.set_state(state["structure"])
        kind = MultiLabelHoeffdingTree if params["learner"] == "tree" else LinearLearner
        learned.transition.set_state(state["transition"], kind)
        if (state["experts"] is None) != (learned.experts is None):
            raise ValueError("the decision layer's state does not match decision=")
        if learned.experts is not None:
            learned.experts.set_state(state["experts"])
        return learned
