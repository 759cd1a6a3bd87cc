"""iHOMER, the model: a river-facing face (:mod:`.model`) over one state object (:mod:`.learned`).

- :mod:`.learned`: what one model has learned, by part, and how one instance moves it.
- :mod:`.structure`: the online label tree, its partition and the loss detector that resets it.
- :mod:`.hierarchy`: one committed partition with its router and group learners.
- :mod:`.transition`: the active hierarchy and, after a restructuring, the previous one as a
  shadow while new learners warm up (the clear reference of the compiled transition rule).
- :mod:`.experts`: the decision layer's state.
- :mod:`.compiled`: the parts laid out as the kernels' compiled model.
- :mod:`.batches`: test-then-train and scoring over batches.
- :mod:`.persist`: the saved state's format (``get_state`` / ``from_state``).
"""

from streamlabels.ihomer.model import IHOMER

__all__ = ["IHOMER"]
