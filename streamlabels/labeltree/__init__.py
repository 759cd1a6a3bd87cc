"""Online clustering of the labels (ODAC with Jaccard distances) and the learner groups built on it.

:class:`LabelTree` grows and prunes a binary tree over the labels from their co-occurrence counts;
its active leaves always partition the label space. :class:`Partitioner` turns the leaves into
learner groups (:func:`coarsen`) and decides when a new partition is adopted.
"""

from __future__ import annotations

from streamlabels.labeltree.counts import (
    Coefficients,
    NodeCounts,
    dense_coefficients,
    hoeffding_bound,
    jaccard_distance,
)
from streamlabels.labeltree.partition import Partitioner, coarsen, group_id
from streamlabels.labeltree.render import plot_tree, render_text
from streamlabels.labeltree.tree import LabelNode, LabelTree, TreeEvent

__all__ = [
    "Coefficients",
    "LabelNode",
    "LabelTree",
    "NodeCounts",
    "Partitioner",
    "TreeEvent",
    "coarsen",
    "dense_coefficients",
    "group_id",
    "hoeffding_bound",
    "jaccard_distance",
    "plot_tree",
    "render_text",
]
