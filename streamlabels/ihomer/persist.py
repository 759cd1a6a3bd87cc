"""IHOMER's saved state: every learned quantity as plain values and arrays, no pickle.

Format version 5 nests the state by part
(:meth:`~streamlabels.ihomer.learned.LearnedState.get_state`): ``params``, then ``features``, ``t``, ``labels``, ``structure`` (label tree, partitioner, loss
detector, events), ``transition`` (its learner table, the hierarchies, the warm-up) and
``experts`` (the decision layer, with its decision target's arrays). Older versions are brought
up to date, so that their checkpoints load and continue exactly as they would have: version 3,
which streamlabels 0.1 wrote with every key at the top level, by moving its keys into those
parts; version 4, from before decision targets, by adding the default target (``micro_f1``) and
its arrays. :mod:`streamlabels.state` turns the dict into hash-checked bytes. A
refused state raises :class:`~streamlabels.state.StateError` and leaves nothing half-loaded: a new
model is built from scratch.
"""

from __future__ import annotations

from streamlabels.kernels import experts, targets
from streamlabels.state import StateError, unwrap, wrap

__all__ = ["KIND", "VERSION", "parts", "saved"]

KIND = "streamlabels.IHOMER"
VERSION = 5
_READS = (3, 4, 5)


def saved(params: dict, learned) -> dict:
    """The saved state of a model with hyper-parameters ``params`` and learned parts ``learned``
    (a :class:`~streamlabels.ihomer.learned.LearnedState`)."""
    if not isinstance(params["learner"], str):
        raise StateError(
            f"checkpoints need learner='linear' or 'tree': a river classifier "
            f"({params['learner']!r}) can only be saved with pickle, which streamlabels does "
            "not use"
        )
    params = dict(params)
    for name in ("labels", "features"):
        params[name] = None if params[name] is None else list(params[name])
    return wrap(KIND, VERSION, {"params": params, **learned.get_state()})


def parts(state: dict) -> tuple[dict, dict]:
    """The hyper-parameters and the parts' state of a saved state of a version this release
    reads (older ones brought to this one); anything else raises :class:`StateError`."""
    version, body = unwrap(state, KIND, _READS)
    try:
        if version == 3:
            body = _from_version_3(body)
        if version <= 4:
            body = _from_version_4(body)
        learned = {k: body[k] for k in ("features", "t", "labels", "structure", "transition",
                                        "experts")}
        return dict(body["params"]), learned
    except (KeyError, TypeError) as exc:
        raise StateError(f"inconsistent IHOMER state: {type(exc).__name__}: {exc}") from exc


def _from_version_3(old: dict) -> dict:
    """A version-3 body (every key at the top level) as a version-4 body (nested by part)."""
    started = old["tree"] is not None
    structure = {k: old[k] for k in ("tree", "partitioner", "loss_detector", "last_reset",
                                     "changed", "events")}
    transition = {
        "learners": old["learners"], "active": old["active"], "shadow": old["shadow"],
        "router_left": old["shadow_router_left"], "warming": old["shadow_groups"],
        "warming_left": old["shadow_groups_left"], "shadow_map": old["shadow_map"],
    }
    return {
        "params": old["params"], "features": old["features"], "t": old["t"], "labels": list(old["labels"]) if started else None,
        "structure": structure if started else None,
        "transition": transition if started else None, "experts": old["experts"],
    }


def _from_version_4(old: dict) -> dict:
    """A version-4 body as a version-5 body: the default target, and its arrays in the layer."""
    params = {**old["params"], "target": "micro_f1"}
    layer = old["experts"]
    if layer is not None:
        fresh = targets.new_state("micro_f1", len(layer["previous"]), experts.N_BINS)
        layer = {**layer, **fresh}
    return {**old, "params": params, "experts": layer}
