"""streamlabels: online multi-label classification of evolving streams (iHOMER), river-compatible."""

from __future__ import annotations

from streamlabels.ihomer import IHOMER

__all__ = ["IHOMER"]
__version__ = "0.1.0"
