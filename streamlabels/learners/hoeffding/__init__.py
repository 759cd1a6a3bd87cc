"""Multi-label Hoeffding tree: numba kernels over an arrays-of-nodes layout (docs/algorithm.md §2.2)."""

from __future__ import annotations

from streamlabels.learners.hoeffding.classifier import HoeffdingTreeMultiLabelClassifier
from streamlabels.learners.hoeffding.tree import MultiLabelHoeffdingTree

__all__ = ["HoeffdingTreeMultiLabelClassifier", "MultiLabelHoeffdingTree"]
