"""IHOMER checkpoints: every learned quantity as plain values and arrays, no pickle.

The format (kind ``streamlabels.IHOMER``, version 3: version 2 plus the decision layer) is the one :mod:`streamlabels.state` writes
and hash-checks. Learners shared by the active hierarchy and its shadow are stored once, in one
table, and referred to by index. A refused state raises :class:`~streamlabels.state.StateError`
and leaves nothing half-loaded: a new model is built from scratch.
"""

from __future__ import annotations

from streamlabels.drift import ADWIN
from streamlabels.features import FeatureSpace
from streamlabels.learners.hoeffding import MultiLabelHoeffdingTree
from streamlabels.learners.linear import LinearLearner
from streamlabels.state import StateError

__all__ = ["KIND", "VERSION", "Checkpoints", "model_state", "restore"]

KIND = "streamlabels.IHOMER"
VERSION = 3


def model_state(model) -> dict:
    """The checkpoint of an IHOMER ``model`` (see ``IHOMER.get_state``)."""
    if not isinstance(model.learner, str):
        raise StateError(
            f"checkpoints need learner='linear': a river classifier ({model.learner!r}) can "
            "only be saved with pickle, which streamlabels does not use"
        )
    params = {name: getattr(model, name) for name in model._get_params()}
    params["labels"] = None if model.labels is None else list(model.labels)
    params["features"] = None if model.features is None else list(model.features)
    learners: list = []
    if model._structure is None:
        structure = {
            "tree": None, "partitioner": None, "events": [],
            "loss_detector": ADWIN(delta=model.drift_delta).get_state(),
            "last_reset": 0, "changed": False,
        }
        transition = {
            "active": None, "shadow": None, "shadow_router_left": 0, "shadow_groups": [],
            "shadow_groups_left": [], "shadow_map": [],
        }
    else:
        structure = model._structure.get_state()
        transition = model._transition.get_state(learners)
    return {
        "kind": KIND,
        "version": VERSION,
        "params": params,
        "labels": [] if model._vocabulary is None else list(model._vocabulary.names),
        "features": model._features.get_state(),
        "t": model._t,
        "tree": structure["tree"],
        "partitioner": structure["partitioner"],
        "learners": [learner.get_state() for learner in learners],
        "active": transition["active"],
        "shadow": transition["shadow"],
        "shadow_router_left": transition["shadow_router_left"],
        "shadow_groups": transition["shadow_groups"],
        "shadow_groups_left": transition["shadow_groups_left"],
        "shadow_map": transition["shadow_map"],
        "loss_detector": structure["loss_detector"],
        "last_reset": structure["last_reset"],
        "changed": structure["changed"],
        "events": structure["events"],
        "experts": None if model._experts is None else model._experts.get_state(),
    }


def restore(cls, state: dict):
    """A model of class ``cls`` restored from :func:`model_state`'s output."""
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise StateError("not an IHOMER state (missing or wrong 'kind')")
    if state.get("version") != VERSION:
        raise StateError(
            f"IHOMER state version {state.get('version')!r} is not supported (this version of "
            f"streamlabels reads version {VERSION})"
        )
    try:
        return _restore(cls, state)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise StateError(f"inconsistent IHOMER state: {type(exc).__name__}: {exc}") from exc


def _restore(cls, state: dict):
    params = dict(state["params"])
    labels = params.pop("labels")
    model = cls(**params)
    model.labels = labels
    model._features = FeatureSpace.from_state(state["features"], model.nonfinite)
    model._t = int(state["t"])
    if state["tree"] is None:
        return model
    model._start(list(state["labels"]))
    model._structure.set_state(state)
    kind = MultiLabelHoeffdingTree if params["learner"] == "tree" else LinearLearner
    learners = [kind.from_state(s) for s in state["learners"]]
    model._transition.set_state(state, learners)
    if (state["experts"] is None) != (model._experts is None):
        raise ValueError("the decision layer's state does not match decision=")
    if model._experts is not None:
        model._experts.set_state(state["experts"])
    return model


class Checkpoints:
    """The checkpoint half of :class:`~streamlabels.ihomer.IHOMER`'s API."""

    def get_state(self) -> dict:
        """Parameters and every learned quantity, as plain values and arrays (no pickle needed).

        ``IHOMER.from_state(model.get_state())`` continues exactly as ``model`` would, bit for bit;
        :func:`streamlabels.state.dumps` turns the dict into checkpoint bytes. The prediction kept
        for a ``learn_one(x)`` right after ``predict_one(x)`` on the same dict object is left out:
        a restored model has not seen that object, so it recomputes the prediction, which is the
        same.

        Raises
        ------
        StateError
            When ``learner`` is a river classifier: its state could only be saved with pickle.

        Examples
        --------
        >>> from streamlabels import IHOMER
        >>> from streamlabels.state import dumps, loads
        >>> from streamlabels.streams.synthetic import SyntheticStream
        >>> stream = list(SyntheticStream(n_instances=600, seed=3))
        >>> model = IHOMER(n_min=100)
        >>> for x, y in stream[:300]:
        ...     model.learn_one(x, y)
        >>> twin = IHOMER.from_state(loads(dumps(model.get_state())))
        >>> for x, y in stream[300:]:
        ...     model.learn_one(x, y)
        ...     twin.learn_one(x, y)
        >>> x = stream[-1][0]
        >>> twin.predict_proba_one(x) == model.predict_proba_one(x), twin.events == model.events
        (True, True)
        """
        return model_state(self)

    @classmethod
    def from_state(cls, state: dict):
        """A model restored from :meth:`get_state`'s output (e.g. after ``loads``).

        Raises
        ------
        StateError
            When ``state`` is not an IHOMER state of a known version, or is inconsistent. A new
            model is built from scratch, so a refused state leaves nothing half-loaded.
        """
        return restore(cls, state)
