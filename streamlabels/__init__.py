"""streamlabels: online multi-label classification of evolving streams (iHOMER), river-compatible."""

from __future__ import annotations

from streamlabels.drift import ADWIN
from streamlabels.ihomer import IHOMER
from streamlabels.learners.hoeffding import HoeffdingTreeMultiLabelClassifier

__all__ = ["ADWIN", "HoeffdingTreeMultiLabelClassifier", "IHOMER"]
__version__ = "0.1.0"
