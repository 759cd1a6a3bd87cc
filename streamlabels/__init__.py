"""streamlabels: online multi-label classification of evolving streams (iHOMER), river-compatible."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamlabels.drift import ADWIN
    from streamlabels.ihomer import IHOMER
    from streamlabels.learners.hoeffding import HoeffdingTreeMultiLabelClassifier

__all__ = ["ADWIN", "HoeffdingTreeMultiLabelClassifier", "IHOMER"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # The models bring numba, scipy and river (about a second): imported on first use, so that
    # the command line starts fast (``streamlabels models`` needs none of them).
    if name == "ADWIN":
        from streamlabels.drift import ADWIN

        return ADWIN
    if name == "IHOMER":
        from streamlabels.ihomer import IHOMER

        return IHOMER
    if name == "HoeffdingTreeMultiLabelClassifier":
        from streamlabels.learners.hoeffding import HoeffdingTreeMultiLabelClassifier

        return HoeffdingTreeMultiLabelClassifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
