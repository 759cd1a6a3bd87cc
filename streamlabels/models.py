"""Every model the command line knows, by name: iHOMER configurations and the baselines."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from streamlabels.baselines import BASELINES

__all__ = ["MODELS", "make_model"]


def _ihomer(**params) -> Callable:
    def build(feature_names, label_names, seed):
        from streamlabels.ihomer import IHOMER

        return IHOMER(labels=list(label_names), seed=seed, **params)

    return build


def _ihomer_river(make_learner: Callable, **params) -> Callable:
    def build(feature_names, label_names, seed):
        from streamlabels.ihomer import IHOMER

        return IHOMER(labels=list(label_names), learner=make_learner(), seed=seed, **params)

    return build


def _hoeffding_tree():
    from river import tree

    return tree.HoeffdingTreeClassifier()


MODELS: dict[str, Callable] = {
    "ihomer": _ihomer(),
    "ihomer-standard": _ihomer(scaling="standard"),
    "ihomer-cold": _ihomer(restructure="cold"),
    "ihomer-ht": _ihomer_river(_hoeffding_tree),
    **BASELINES,
}
"""Builders ``(feature_names, label_names, seed) -> model``, by name."""


def make_model(name: str, feature_names: Sequence, label_names: Sequence, seed: int = 42):
    """Build the model called ``name`` for a stream with these features and labels."""
    try:
        build = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None
    return build(list(feature_names), list(label_names), seed)
