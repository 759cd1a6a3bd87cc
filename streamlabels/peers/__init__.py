"""Models from other libraries, wrapped as river multi-label classifiers so that ``bench`` runs
them on the same stream, scored by the same metrics, as ours.

The wrappers import their library only when a model is built: importing this package never starts
a JVM or the scikit-multiflow interpreter (``skmf-*`` models run there, see
:mod:`streamlabels.peers.skmf`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["PEERS", "make_peer"]


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


PEERS: dict[str, Callable] = {
    "moa-mlht": _moa_mlht(False),
    "moa-mlht-sparse": _moa_mlht(True),
    **{f"skmf-{model}": _skmf(model) for model in ("br-ht", "br-nb", "lc-ht", "cc-sgd")},
}
"""Builders ``(feature_names, label_names, seed, sparse) -> model``, by peer name.

``moa-mlht`` sends dense rows whatever the stream's form: MOA's tree reads every input attribute
of every instance anyway, and on tmc2007-500 (500 features, first 2,000 instances) dense rows ran
at 184 instances/s against 142 for ``moa-mlht-sparse`` (``SparseInstance``), with identical
predictions."""


def make_peer(
    name: str, feature_names: Sequence, label_names: Sequence, seed: int = 42, sparse: bool = False
):
    """Build the peer model called ``name`` for a stream with these features and labels.

    Examples
    --------
    >>> make_peer("moa-ht", ["f"], ["a"])
    Traceback (most recent call last):
    ...
    ValueError: unknown peer model 'moa-ht'; known: moa-mlht, moa-mlht-sparse, skmf-br-ht, ...
    """
    if name not in PEERS:
        raise ValueError(f"unknown peer model {name!r}; known: {', '.join(PEERS)}")
    return PEERS[name](list(feature_names), list(label_names), seed, sparse)
