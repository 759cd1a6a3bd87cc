"""The multi-label Hoeffding tree's hyper-parameters: their defaults, meaning and checks, once.

river reads an estimator's hyper-parameters from its ``__init__`` signature, so the tree
(:class:`~streamlabels.learners.hoeffding.MultiLabelHoeffdingTree`) and its river face
(:class:`~streamlabels.learners.hoeffding.HoeffdingTreeMultiLabelClassifier`) still list them,
but take every default from :data:`DEFAULTS`; :class:`HoeffdingParams` checks the values and packs
them into the vector the compiled kernels read, slot by slot by name
(:data:`streamlabels.kernels.hoeffding.tree.PARAM_NAMES`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from streamlabels.kernels.hoeffding import tree as kernels

__all__ = ["DEFAULTS", "LEAF_MODELS", "HoeffdingParams", "names"]

LEAF_MODELS = {
    "auto": kernels.AUTO,
    "majority": kernels.MAJORITY,
    "br-linear": kernels.BR_LINEAR,
    "lp-knn": kernels.LP_KNN,
}
"""Leaf model names and the kernels' codes for them."""


@dataclass(frozen=True)
class HoeffdingParams:
    """Hyper-parameters of the multi-label Hoeffding tree, checked on creation.

    Parameters
    ----------
    grace_period
        Weight a leaf learns between two split attempts.
    delta
        Error probability of the Hoeffding bound (docs/algorithm.md §3.3: the prototype's value).
    tau
        Tie threshold: split anyway when the bound falls below it.
    leaf_model
        ``"auto"`` (docs/algorithm.md §2.2: a leaf that has seen a single label set predicts it;
        else a leaf lighter than ``cardinality_th`` or with impurity below ``entropy_th`` uses
        label powerset k-NN; else binary relevance logistic regression), or one of
        ``"majority"`` (the leaf's most frequent label set), ``"lp-knn"``, ``"br-linear"``
        everywhere.
    max_depth
        Leaves at this depth stop splitting.
    max_nodes
        No split once the tree has this many nodes; with ``max_depth`` it bounds memory, which is
        O(leaves x (n_columns x (n_outputs + 1) + knn_window x n_columns)).
    n_splits
        Candidate thresholds per feature, evenly inside the range of its non-zero values.
    min_branch_fraction
        A split must send at least this share of the leaf's weight to each side.
    lr
        SGD learning rate of the leaves' logistic regressions (features divided by their running
        standard deviation). 0.01 beat MLHAT's 0.3 on yeast, scene and medical in file order
        (micro-F1 0.569 vs 0.519, 0.903 vs 0.900, 0.436 vs 0.407).
    knn_k, knn_window
        Neighbours and sliding-window length of the leaves' k-NN.
    cardinality_th, entropy_th
        Leaf-model thresholds of ``"auto"``.
    labelset_capacity
        Distinct label sets a leaf tracks (majority label set, range R); later new sets are
        ignored, which caps R at ``log2(labelset_capacity)``.
    bootstrap
        Weight each instance by k ~ Poisson(1) (k = 0: the tree skips it), as MLHAT does.
    seed
        Seed of the bootstrap weights.
    drift_detection
        Monitor every node and grow alternate subtrees; False gives the plain tree.
    drift_delta
        Significance of the nodes' ADWIN (river's default, as in HAT).
    switch_significance
        Significance of the swap and prune tests (HAT's 0.05).
    drift_window_threshold
        Rows both detectors must have seen before an alternate is compared (HAT's 300).

    Examples
    --------
    >>> HoeffdingParams(grace_period=50).grace_period, DEFAULTS.grace_period
    (50, 200)
    >>> HoeffdingParams(leaf_model="nb")
    Traceback (most recent call last):
    ...
    ValueError: leaf_model must be one of ['auto', 'br-linear', 'lp-knn', 'majority'], got 'nb'
    """

    grace_period: float = 200
    delta: float = 1.6587784772850855e-7
    tau: float = 0.05
    leaf_model: str = "auto"
    max_depth: int = 20
    max_nodes: int = 255
    n_splits: int = 10
    min_branch_fraction: float = 0.01
    lr: float = 0.01
    knn_k: int = 4
    knn_window: int = 170
    cardinality_th: float = 750
    entropy_th: float = 0.3
    labelset_capacity: int = 256
    bootstrap: bool = True
    seed: int = 0
    drift_detection: bool = True
    drift_delta: float = 0.002
    switch_significance: float = 0.05
    drift_window_threshold: float = 300

    def __post_init__(self):
        if self.leaf_model not in LEAF_MODELS:
            raise ValueError(
                f"leaf_model must be one of {sorted(LEAF_MODELS)}, got {self.leaf_model!r}"
            )
        for name in ("delta", "drift_delta", "switch_significance"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name} must lie in (0, 1), got {value!r}")
        if not 0.0 <= self.min_branch_fraction < 0.5:
            raise ValueError(
                f"min_branch_fraction must lie in [0, 0.5), got {self.min_branch_fraction!r}"
            )
        for name in ("grace_period", "tau", "lr", "cardinality_th", "entropy_th",
                     "drift_window_threshold"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        for name, low in (("max_depth", 0), ("max_nodes", 1), ("n_splits", 1), ("knn_k", 1),
                          ("knn_window", 1), ("labelset_capacity", 2)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        object.__setattr__(self, "drift_detection", bool(self.drift_detection))

    def kernel_vector(self) -> np.ndarray:
        """The values the compiled kernels read, in the slots of ``kernels.PARAM_NAMES``."""
        values = asdict(self)
        values["leaf_model"] = LEAF_MODELS[self.leaf_model]
        return np.array([float(values[name]) for name in kernels.PARAM_NAMES])


DEFAULTS = HoeffdingParams()
"""The default hyper-parameters, which every signature that lists them reads."""


def names() -> list[str]:
    """The hyper-parameter names, in signature order."""
    return [f.name for f in fields(HoeffdingParams)]
