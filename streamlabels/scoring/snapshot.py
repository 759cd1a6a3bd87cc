"""Frozen snapshots of a trained :class:`~streamlabels.IHOMER`: a read-only copy of the compiled
layout the model itself runs on.

The model scores and learns with one :class:`~streamlabels.kernels.hierarchy.Model` (its learners
stacked in a bank, the active hierarchy, the shadow during a warm-up, the warm-up counters, the
decision rule and layer). :func:`freeze` copies those arrays, cut to the columns learned, and
makes them read-only; that is all a snapshot is, besides the names of its columns and labels. So
a snapshot scores with the very kernel the model scores with
(:func:`streamlabels.kernels.hierarchy.score_row`), on the CPU or a GPU, and there is no second
encoding of the hierarchy to keep in step with the first. A snapshot is also the unit a scoring
service publishes: :meth:`Snapshot.to_state` gives plain values and arrays for
:func:`streamlabels.state.dumps`; :meth:`Snapshot.from_state` checks every index the kernels will
follow, since they follow them without bounds checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamlabels.kernels import experts, knn, targets
from streamlabels.kernels.decision import Rule
from streamlabels.kernels.hierarchy import Hierarchy, Model, WarmUp
from streamlabels.kernels.linear import NONE, SGD, SPARSE, STANDARD, LinearBank
from streamlabels.state import StateError, unwrap, wrap

__all__ = ["Snapshot", "freeze"]

KIND = "streamlabels.scoring.Snapshot"
VERSION = 4  # 4: the decision target's arrays in the layer; 3 (read: the default target's added):
# the model's own compiled layout; 2: slot tables, which this release cannot read
_MODES = {"none": NONE, "sparse": SPARSE, "standard": STANDARD}


@dataclass(frozen=True, eq=False)
class Snapshot:
    """An IHOMER model frozen into read-only arrays.

    Attributes
    ----------
    feature_names
        Column ``j`` of a batch is feature ``feature_names[j]`` (the model's feature order).
    labels
        Column ``l`` of a prediction is label ``labels[l]``.
    scaling
        The linear learners' scaling (``"standard"``, ``"sparse"`` or ``"none"``).
    n_instances
        Instances the model had learned when it was frozen.
    model
        The compiled layout (:class:`~streamlabels.kernels.hierarchy.Model`), every array a
        read-only copy; its shadow is its active hierarchy when no warm-up is under way.
    """

    feature_names: list
    labels: list
    scaling: str
    n_instances: int
    model: Model

    def __post_init__(self) -> None:
        object.__setattr__(self, "feature_names", list(self.feature_names))
        object.__setattr__(self, "labels", list(self.labels))
        if self.scaling not in _MODES:
            raise ValueError(f"scaling must be one of {sorted(_MODES)}, got {self.scaling!r}")
        _check(self.model, self.n_labels, _MODES[self.scaling])

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    @property
    def n_groups(self) -> int:
        return self.model.active.offsets.shape[0] - 1

    @property
    def groups(self) -> list[list]:
        """The active label groups, as label names (as :attr:`streamlabels.IHOMER.groups`)."""
        active = self.model.active
        return [
            [self.labels[l] for l in active.members[a:b]]
            for a, b in zip(active.offsets[:-1], active.offsets[1:])
        ]

    @property
    def warming_up(self) -> bool:
        """Whether the previous hierarchy still takes part (a restructuring's warm-up)."""
        return bool(self.model.warmup.left[0])

    def to_state(self) -> dict:
        """Plain values and numeric arrays, ready for :func:`streamlabels.state.dumps`."""
        model = self.model
        return wrap(KIND, VERSION, {
            "feature_names": self.feature_names,
            "labels": self.labels,
            "scaling": self.scaling,
            "n_instances": self.n_instances,
            "bank": {**model.bank._asdict(), "weights": model.bank.weights.T},  # outputs x columns
            "sgd": model.sgd._asdict(),
            "rule": model.rule._asdict(),
            "relevant_only": model.relevant_only,
            "active": model.active._asdict(),
            "shadow": None if model.shadow is model.active else model.shadow._asdict(),
            "warmup": model.warmup._asdict(),
            "layer": _layer_state(model.layer) if model.rule.use_layer else None,
        })

    @classmethod
    def from_state(cls, state: dict) -> Snapshot:
        """The snapshot :meth:`to_state` described; anything inconsistent raises ``ValueError``."""
        try:
            version, state = unwrap(state, KIND, (3, VERSION))
            layer = state["layer"]
            if version == 3 and layer is not None:
                layer = {**layer,
                         **targets.new_state("micro_f1", len(layer["previous"]), experts.N_BINS)}
            active = _tuple(Hierarchy, state["active"])
            rule, sgd = state["rule"], state["sgd"]
            rule = Rule(float(rule["theta"]), bool(rule["group_nonempty"]),
                        bool(rule["ensure_nonempty"]), bool(rule["use_layer"]))
            sgd = SGD(int(sgd["mode"]), float(sgd["lr"]), float(sgd["l2"]),
                      float(sgd["intercept_lr"]))
            bank = _tuple(LinearBank, state["bank"])
            model = Model(
                bank._replace(weights=np.ascontiguousarray(bank.weights.T)), sgd, rule,
                bool(state["relevant_only"]), active,
                active if state["shadow"] is None else _tuple(Hierarchy, state["shadow"]),
                _tuple(WarmUp, state["warmup"]),
                _layer(layer) if rule.use_layer else experts.no_layer(),
            )
            return cls(state["feature_names"], state["labels"], state["scaling"],
                       int(state["n_instances"]), model)
        except StateError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"snapshot state is incomplete: {type(exc).__name__}: {exc}") from exc


def freeze(model: Model, feature_names, labels, scaling: str, n_instances: int) -> Snapshot:
    """A :class:`Snapshot` of the compiled layout ``model``: every array copied (the bank cut to
    the columns its learners have learned) and made read-only; ``model`` is not touched."""
    bank = model.bank
    width = int(bank.meta[:, 1].max(initial=0))
    frozen_bank = LinearBank(
        bank.rows.copy(), bank.weights[:width].copy(), bank.intercepts.copy(),
        bank.counts[:, :width].copy(), bank.stat1[:, :width].copy(),
        bank.stat2[:, :width].copy(), bank.meta.copy(),
    )
    active = _copied(model.active)
    shadow = active if model.shadow is model.active else _copied(model.shadow)
    layer = _layer(_layer_state(model.layer)) if model.rule.use_layer else experts.no_layer()
    frozen = Model(frozen_bank, model.sgd, model.rule, bool(model.relevant_only), active, shadow,
                   _copied(model.warmup), layer)
    return Snapshot(feature_names, labels, scaling, int(n_instances), frozen)


def _copied(parts):
    """A named tuple of copies of ``parts``' arrays (scalars kept)."""
    return type(parts)(*(v.copy() if isinstance(v, np.ndarray) else v for v in parts))


_INT, _FLOAT, _BOOL = np.dtype(np.int64), np.dtype(np.float64), np.dtype(np.bool_)
_DTYPES = {
    LinearBank: {"weights": _FLOAT, "intercepts": _FLOAT, "stat1": _FLOAT, "stat2": _FLOAT},
    Hierarchy: {},
    WarmUp: {"warming": _BOOL},
}
"""Each state array's dtype (int64 unless listed; the decision layer's are float64 but for
``previous``), as the kernels were compiled for: a state that holds another is converted, so it
cannot make the kernels compile anew or misread it."""


def _tuple(kind, fields: dict):
    """``kind`` (a named tuple of arrays, and ints for ``Hierarchy.router``) from a state's dict."""
    values = {}
    for name in kind._fields:
        if kind is Hierarchy and name == "router":
            values[name] = int(fields[name])
        else:
            values[name] = np.array(fields[name], dtype=_DTYPES[kind].get(name, _INT))
    return kind(**values)


def _layer_state(layer) -> dict:
    """The decision layer's arrays with the kNN window cut as the model's checkpoints cut it
    (:func:`streamlabels.kernels.knn.used`)."""
    return {
        **{name: getattr(layer, name) for name in experts.Layer._fields if name != "window"},
        "window": knn.used(layer.window),
    }


def _layer(state: dict):
    dtypes = {"previous": _BOOL, **targets.DTYPES}
    fields = {
        name: np.array(state[name], dtype=dtypes.get(name, _FLOAT))
        for name in experts.Layer._fields if name != "window"
    }
    fields["run"] = experts.saved_run(fields["run"])
    return experts.Layer(**fields, window=knn.indexed(state["window"]))


def _check(model: Model, n_labels: int, mode: int) -> None:
    """Refuse inconsistent arrays: the kernels index without bounds checks."""
    bank = model.bank
    n_learners = bank.meta.shape[0]
    outputs = _pointers("bank.rows", bank.rows, n_learners)
    width = bank.counts.shape[1] if bank.counts.ndim == 2 else -1
    shapes = {
        "bank.weights": (width, bank.rows[-1]), "bank.intercepts": (bank.rows[-1],),
        "bank.counts": (n_learners, width), "bank.stat1": (n_learners, width),
        "bank.stat2": (n_learners, width), "bank.meta": (n_learners, 2),
    }
    for name, shape in shapes.items():
        if getattr(bank, name.split(".")[1]).shape != shape:
            raise ValueError(f"Snapshot {name} must have shape {shape}")
    if bank.meta.size and (bank.meta.min() < 0 or bank.meta[:, 1].max() > width):
        raise ValueError("Snapshot bank.meta counts columns the bank does not hold")
    if model.sgd.mode != mode:
        raise ValueError("Snapshot sgd.mode does not match its scaling")
    active, shadow = model.active, model.shadow
    _check_hierarchy("active", active, n_labels, outputs, np.ones(_groups(active), dtype=bool))
    _check_warmup(model.warmup, active, _groups(shadow))
    warming = model.warmup.warming & (model.warmup.warm_left > 0)
    read = np.zeros(_groups(shadow), dtype=bool)  # the shadow's groups its warm-up reads
    read[shadow.group_of[active.members[np.repeat(warming, np.diff(active.offsets))]]] = True
    _check_hierarchy("shadow", shadow, n_labels, outputs, read)
    if model.rule.use_layer:
        _check_layer(model.layer, n_labels)


def _pointers(name: str, pointers: np.ndarray, n: int) -> np.ndarray:
    """The sizes ``pointers`` (n + 1 offsets from 0, non-decreasing) delimit."""
    if pointers.shape != (n + 1,) or pointers[0] != 0 or np.any(np.diff(pointers) < 0):
        raise ValueError(f"Snapshot {name} must be {n + 1} non-decreasing offsets from 0")
    return np.diff(pointers)


def _groups(h: Hierarchy) -> int:
    return h.offsets.shape[0] - 1


def _check_hierarchy(name: str, h: Hierarchy, n_labels: int, outputs: np.ndarray,
                     read: np.ndarray) -> None:
    """Check one hierarchy against the bank's learner sizes; the groups in ``read`` are scored,
    so each that has learned must have its learner."""
    n_groups = _groups(h)
    sizes = _pointers(f"{name}.offsets", h.offsets, n_groups)
    if n_groups < 1 or sizes.min() < 1 or h.offsets[-1] != n_labels:
        raise ValueError(f"Snapshot {name} must split the {n_labels} labels into groups")
    if not np.array_equal(np.sort(h.members), np.arange(n_labels)) or h.group_of.shape != (
        n_labels,
    ) or not np.array_equal(h.group_of[h.members], np.repeat(np.arange(n_groups), sizes)):
        raise ValueError(f"Snapshot {name}.members and group_of must list every label once")
    if not 0 <= h.router < outputs.shape[0] or outputs[h.router] != n_groups:
        raise ValueError(f"Snapshot {name}.router must be a learner with one output per group")
    learners = h.locals_
    owned = learners >= 0
    if learners.shape != (n_groups,) or np.any(learners >= outputs.shape[0]) or np.any(
        learners < -1
    ) or not np.array_equal(outputs[learners[owned]], sizes[owned]):
        raise ValueError(f"Snapshot {name}.locals_ must name learners as large as their groups")
    if h.local_seen.shape != (n_groups,) or h.seen.shape != (1,):
        raise ValueError(f"Snapshot {name}: local_seen and seen must count per group and router")
    if np.any(read & ~owned & (h.local_seen > 0) & (sizes > 1)):
        raise ValueError(f"Snapshot {name}: a trained group of several labels has no learner")


def _check_warmup(warmup: WarmUp, active: Hierarchy, n_old: int) -> None:
    n_groups = _groups(active)
    if warmup.left.shape != (2,) or warmup.warming.shape != (n_groups,) or (
        warmup.warm_left.shape != (n_groups,)
    ):
        raise ValueError("Snapshot warmup must have one entry per active group")
    mapped = _pointers("warmup.map_offsets", warmup.map_offsets, n_groups)
    groups = warmup.map_groups
    if groups.shape != (warmup.map_offsets[-1],) or (
        groups.size and (groups.min() < 0 or groups.max() >= n_old)
    ):
        raise ValueError("Snapshot warmup.map_groups must name groups of the shadow")
    if warmup.left[0] and warmup.left[1] > 0 and mapped.min() < 1:
        raise ValueError("Snapshot warmup: a routed group maps to no group of the shadow")


def _check_layer(layer, n_labels: int) -> None:
    """The decision layer's shapes, its target's cuts and sets in range, and the kNN window's
    entries within its columns."""
    e, bins = experts.N_EXPERTS, experts.N_BINS
    kind = int(layer.target_prm[targets.KIND]) if layer.target_prm.shape == (
        targets.N_TARGET_PARAMS,) else -1
    if not 0 <= kind < len(targets.TARGET_NAMES):
        raise ValueError("Snapshot layer.target_prm must name a decision target")
    shapes = {
        "prm": (experts.N_PARAMS,), "run": (experts.N_RUN,), "weights": (n_labels, e),
        "previous": (n_labels,), "frequency": (n_labels,), "context": (n_labels, 4),
        "histogram": (2, bins), **targets.shapes(kind, n_labels, bins),
    }
    for name, shape in shapes.items():
        if not targets.accepts(name, getattr(layer, name).shape, shape):
            raise ValueError(f"Snapshot layer.{name} must have shape {shape}")
    if np.any((layer.label_cut < 0) | (layer.label_cut > bins)):
        raise ValueError(f"Snapshot layer.label_cut must be bins 0 .. {bins}")
    w = layer.window
    rows, width = w.ids.shape if w.ids.ndim == 2 else (-1, -1)
    columns = w.stats.shape[1] if w.stats.ndim == 2 else -1
    if (
        w.meta.shape != (5,) or rows < 1 or w.values.shape != w.ids.shape
        or w.sizes.shape != (rows,) or w.labels.shape != (rows, n_labels)
        or w.stats.shape != (3, columns) or not 1 <= w.meta[knn.K]
        or not 0 <= w.meta[knn.FILL] <= rows or not 0 <= w.meta[knn.POS] < rows
        or not 0 <= w.meta[knn.NCOLS] <= columns or w.sizes.min() < 0 or w.sizes.max() > width
        or w.ids[np.arange(width) < w.sizes[:, None]].max(initial=0) >= max(columns, 1)
    ):
        raise ValueError("Snapshot layer.window is inconsistent")
