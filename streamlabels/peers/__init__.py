"""Models from other libraries, wrapped as river multi-label classifiers so that ``bench`` runs
them on the same stream, scored by the same metrics, as ours.

The wrappers import their library only when a model is built: importing this package never starts
a JVM or the scikit-multiflow interpreter (``skmf-*`` models run there, see
:mod:`streamlabels.peers.skmf`), and whether each peer can run here is checked without importing
it (:mod:`streamlabels.peers.requirements`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from streamlabels.peers.requirements import moa_unavailable_reason, skmf_unavailable_reason

__all__ = ["PEERS", "SKMF_MODELS", "ModelEntry"]


def _needs_nothing() -> None:
    """Nothing is missing: the model needs only streamlabels' own install."""
    return None


@dataclass(frozen=True)
class ModelEntry:
    """A model the command line builds by name.

    ``build(feature_names, label_names, seed, sparse)`` makes a fresh model, importing its
    library only then; ``missing()`` says why it cannot run here and what installs it, or None
    when it can.
    """

    family: str
    description: str
    build: Callable[[list, list, int, bool], object]
    missing: Callable[[], str | None] = _needs_nothing


def _moa_mlht(sparse_rows: bool) -> Callable:
    def build(feature_names: Sequence, label_names: Sequence, seed: int, sparse: bool):
        from streamlabels.peers.moa import MOAMultilabelHoeffdingTree

        return MOAMultilabelHoeffdingTree(
            feature_names, label_names, sparse=sparse_rows, seed=seed
        )

    return build


def _skmf(model: str) -> Callable:
    def build(feature_names: Sequence, label_names: Sequence, seed: int, sparse: bool):
        from streamlabels.peers.skmf import ScikitMultiflowModel

        return ScikitMultiflowModel(model, feature_names, label_names, seed=seed)

    return build


SKMF_MODELS = {
    "br-ht": "binary relevance over Hoeffding trees (MultiOutputLearner)",
    "br-nb": "binary relevance over naive Bayes (MultiOutputLearner)",
    "lc-ht": "label combination Hoeffding tree (LabelCombinationHoeffdingTreeClassifier)",
    "cc-sgd": "classifier chain over SGD logistic regressions (ClassifierChain)",
}
"""The scikit-multiflow models the worker builds, by the name after ``skmf-``."""

_MOA_MLHT = "MOA's multi-label Hoeffding tree with pruned-sets leaves, in capymoa's JVM"

PEERS: dict[str, ModelEntry] = {
    "moa-mlht": ModelEntry(
        "MOA peer", f"{_MOA_MLHT}; dense rows", _moa_mlht(False), moa_unavailable_reason
    ),
    "moa-mlht-sparse": ModelEntry(
        "MOA peer", f"{_MOA_MLHT}; sparse rows", _moa_mlht(True), moa_unavailable_reason
    ),
    **{
        f"skmf-{model}": ModelEntry(
            "scikit-multiflow peer", description, _skmf(model), skmf_unavailable_reason
        )
        for model, description in SKMF_MODELS.items()
    },
}
"""The peers by name.

``moa-mlht`` sends dense rows whatever the stream's form: MOA's tree reads every input attribute
of every instance anyway, and on tmc2007-500 (500 features, first 2,000 instances) dense rows ran
at 184 instances/s against 142 for ``moa-mlht-sparse`` (``SparseInstance``), with identical
predictions."""

