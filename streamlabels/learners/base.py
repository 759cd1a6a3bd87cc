"""The one small interface every multi-label base learner in streamlabels implements.

iHOMER's router and its per-group learners are all "k binary outputs" learners: the router's
outputs are the groups' meta-labels, a group learner's outputs are the group's labels. Learners are
fed :class:`~streamlabels.vocabulary.Row` objects, so river learners can read the feature dict and
compiled learners the arrays, with the dict-to-array mapping done once per instance.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np

from streamlabels.vocabulary import Row


class MultiOutputLearner(abc.ABC):
    """A learner over ``n_outputs`` binary outputs."""

    n_outputs: int

    @abc.abstractmethod
    def learn_one(self, row: Row, y: np.ndarray) -> None:
        """Learn from one instance; ``y`` is a bool array of shape ``(n_outputs,)``."""

    @abc.abstractmethod
    def predict_proba_one(self, row: Row) -> np.ndarray:
        """P(output = 1 | x) for every output, a float64 array of shape ``(n_outputs,)``."""

    @abc.abstractmethod
    def subset(self, outputs: Sequence[int]) -> MultiOutputLearner:
        """An independent copy that keeps only ``outputs`` (in that order), learned state included.

        iHOMER warm-starts the learner of a group split off an old group this way.
        """
