"""iHOMER, the model: a river-facing coordinator (:mod:`.model`) over its parts.

- :mod:`.structure`: the online label tree, its partition and the loss detector that resets it.
- :mod:`.hierarchy`: one committed partition with its router and group learners.
- :mod:`.transition`: the active hierarchy and, after a restructuring, the previous one as a
  shadow while new learners warm up.
- :mod:`.fused`: the compiled test-then-train run over a batch.
- :mod:`.persist`: checkpoints (``get_state`` / ``from_state``).
"""

from streamlabels.ihomer.model import IHOMER

__all__ = ["IHOMER"]
