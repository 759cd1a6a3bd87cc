"""Every model the command line knows, by name: iHOMER configurations, baselines, peers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["IHOMER_VARIANTS", "make_model", "model_names"]


def _hoeffding_tree():
    from river import tree

    return {"learner": tree.HoeffdingTreeClassifier()}


IHOMER_VARIANTS: dict[str, Callable[[], dict]] = {
    "ihomer": dict,
    # ablations of the decision layer, one part switched off each (benchmarks/README.md)
    "ihomer-routing": lambda: {"decision": "routing"},
    "ihomer-fixed-threshold": lambda: {"threshold": "fixed"},
    "ihomer-no-context": lambda: {"experts": ("knn", "prior")},
    "ihomer-no-knn": lambda: {"experts": ("context",)},
    "ihomer-uniform": lambda: {"weighting": "uniform"},
    "ihomer-standard": lambda: {"scaling": "standard"},
    "ihomer-sparse": lambda: {"scaling": "sparse"},
    "ihomer-cold": lambda: {"restructure": "cold"},
    "ihomer-ht": _hoeffding_tree,
    "ihomer-tree": lambda: {"learner": "tree"},
}
"""IHOMER parameters by model name. ``ihomer`` scales features as the stream's form suggests:
centred ("standard") for dense files and the synthetic stream, "sparse" for sparse files."""


def model_names() -> list[str]:
    from streamlabels.peers import PEERS
    from streamlabels.peers.baselines import BASELINES

    return [*IHOMER_VARIANTS, *BASELINES, *PEERS]


def make_model(
    name: str, feature_names: Sequence, label_names: Sequence, seed: int = 42, sparse: bool = False
):
    """Build the model called ``name`` for a stream with these features and labels.

    Baselines and peers are imported only when asked for: river's model zoo and the JVM bridge
    take seconds to import, which a replay of iHOMER should not pay.
    """
    if name in IHOMER_VARIANTS:
        from streamlabels.ihomer import IHOMER

        params = {"scaling": "sparse" if sparse else "standard", **IHOMER_VARIANTS[name]()}
        return IHOMER(labels=list(label_names), features=list(feature_names), seed=seed, **params)
    from streamlabels.peers.baselines import BASELINES

    if name in BASELINES:
        return BASELINES[name](list(feature_names), list(label_names), seed)
    from streamlabels.peers import PEERS, make_peer

    if name in PEERS:
        return make_peer(name, feature_names, label_names, seed=seed, sparse=sparse)
    raise ValueError(f"unknown model {name!r}; known: {', '.join(model_names())}")
