"""Frozen snapshots of a trained :class:`~streamlabels.IHOMER` as flat arrays.

A snapshot holds everything ``predict_one`` reads at one moment and nothing else, laid out so
compiled kernels can walk it: every learner in use (the router, the trained group learners and,
during a restructuring warm-up, the shadow router and shadow group learners) is stacked into a
few arrays with offsets, and the hierarchy logic is reduced to *slots*. Learner ``i`` writes its
outputs' probabilities into slots ``out_ptr[i]:out_ptr[i + 1]``; constant slots after those hold
the untrained fallbacks (0.0 for an untrained router, the most frequent label set of an untrained
group, 1.0 for a singleton group). A group's routing score is the max over its route slots (one
slot normally; the old groups it maps to during a router warm-up), and a label's local score is
its slot, gated by the shadow router's slot while its group warms up. The snapshot is also the
unit a scoring service publishes: :meth:`Snapshot.to_state` gives plain values and numeric arrays
for :func:`streamlabels.state.dumps`.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from streamlabels.features import Row
from streamlabels.kernels import experts as experts_kernel
from streamlabels.kernels import knn, scoring_cpu
from streamlabels.kernels import linear as linear_kernels

__all__ = ["Snapshot", "export"]

FORMAT = "streamlabels.scoring.Snapshot"
VERSION = 2  # 2: the decision layer (``experts``)
_MODES = {
    "none": linear_kernels.NONE,
    "sparse": linear_kernels.SPARSE,
    "standard": linear_kernels.STANDARD,
}
_META = (
    "feature_names", "labels", "scaling", "theta_route", "group_nonempty", "ensure_nonempty",
    "n_instances", "learner_names",
)
_INTS = (
    "out_ptr", "n_cols", "weight_ptr", "col_ptr", "route_ptr", "route_slots", "group_ptr",
    "group_labels", "label_slot", "label_gate",
)
_FLOATS = ("weights", "intercepts", "center", "scale", "constants")
_EMPTY_ROW = Row({}, np.empty(0, dtype=np.int64), np.empty(0))


@dataclass(frozen=True, eq=False)
class Snapshot:
    """An IHOMER model frozen into read-only arrays (see the module docstring for the layout).

    Attributes
    ----------
    feature_names
        Column ``j`` of a batch is feature ``feature_names[j]`` (the model's FeatureSpace order).
    labels
        Column ``l`` of a prediction is label ``labels[l]``.
    scaling
        The linear learners' scaling mode; ``"standard"`` reads every column, absent ones as 0.0.
    theta_route, group_nonempty, ensure_nonempty
        The model's decision parameters.
    n_instances
        Instances the model had learned when it was exported.
    learner_names
        What each stacked learner is (``"router"``, ``"group 3"``, ``"shadow router"``, ...).
    out_ptr, intercepts
        Learner ``i`` owns output slots ``out_ptr[i]:out_ptr[i + 1]`` and their intercepts.
    n_cols, weight_ptr, weights
        Learner ``i`` reads columns ``0:n_cols[i]``; its weights are the row-major
        ``(n_outputs_i, n_cols[i])`` block at ``weights[weight_ptr[i]:weight_ptr[i + 1]]``.
    col_ptr, center, scale
        Learner ``i`` scales column ``j`` as ``(x - center[c]) / scale[c]`` (0.0 where
        ``scale[c]`` is 0), ``c = col_ptr[i] + j``.
    constants
        Values of the constant slots, which follow the output slots.
    route_ptr, route_slots
        Group ``k`` is routed by the max of slots ``route_slots[route_ptr[k]:route_ptr[k + 1]]``.
    group_ptr, group_labels
        Group ``k``'s label ids, in order, are ``group_labels[group_ptr[k]:group_ptr[k + 1]]``.
    label_slot, label_gate
        Label ``l``'s local score is slot ``label_slot[l]``, zeroed when ``label_gate[l] >= 0``
        and that slot is below ``theta_route``.
    experts
        The decision layer's arrays (``decision="experts"``, as
        :meth:`streamlabels.ihomer.experts.ExpertLayer.get_state` gives them), or None when the
        routing rule decides.
    """

    feature_names: list
    labels: list
    scaling: str
    theta_route: float
    group_nonempty: bool
    ensure_nonempty: bool
    n_instances: int
    learner_names: list
    out_ptr: np.ndarray
    n_cols: np.ndarray
    weight_ptr: np.ndarray
    weights: np.ndarray
    intercepts: np.ndarray
    col_ptr: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    constants: np.ndarray
    route_ptr: np.ndarray
    route_slots: np.ndarray
    group_ptr: np.ndarray
    group_labels: np.ndarray
    label_slot: np.ndarray
    label_gate: np.ndarray
    experts: dict | None = None

    def __post_init__(self) -> None:
        for name in _INTS + _FLOATS:
            array = np.array(getattr(self, name), dtype=np.int64 if name in _INTS else np.float64)
            if array.ndim != 1:
                raise ValueError(f"Snapshot.{name} must be 1-d, got shape {array.shape}")
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        for name in ("feature_names", "labels", "learner_names"):
            object.__setattr__(self, name, list(getattr(self, name)))
        if self.scaling not in _MODES:
            raise ValueError(f"scaling must be one of {sorted(_MODES)}, got {self.scaling!r}")
        self._check()
        if self.experts is not None:
            object.__setattr__(self, "experts", _checked_layer(self.experts, self.n_labels))

    def _check(self) -> None:
        """Refuse inconsistent arrays: the kernels index without bounds checks."""

        def offsets(name: str, sizes: np.ndarray) -> None:
            expected = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
            if not np.array_equal(getattr(self, name), expected):
                raise ValueError(f"Snapshot.{name} does not match the sizes it indexes")

        def within(name: str, low: int, high: int) -> None:
            array = getattr(self, name)
            if array.size and (array.min() < low or array.max() >= high):
                raise ValueError(f"Snapshot.{name} has entries outside [{low}, {high})")

        n_learners = len(self.learner_names)
        if self.out_ptr.shape != (n_learners + 1,) or self.n_cols.shape != (n_learners,):
            raise ValueError("Snapshot.out_ptr and n_cols must have one entry per learner (+1)")
        outputs = np.diff(self.out_ptr)
        offsets("out_ptr", outputs)
        offsets("weight_ptr", outputs * self.n_cols)
        offsets("col_ptr", self.n_cols)
        within("n_cols", 0, self.n_features + 1)
        sizes = {
            "intercepts": self.out_ptr[-1], "weights": self.weight_ptr[-1],
            "center": self.col_ptr[-1], "scale": self.col_ptr[-1],
            "group_labels": self.n_labels, "label_slot": self.n_labels,
            "label_gate": self.n_labels, "route_slots": self.route_ptr[-1],
        }
        for name, size in sizes.items():
            if getattr(self, name).shape[0] != size:
                raise ValueError(f"Snapshot.{name} must have {size} entries")
        if self.group_ptr.shape != self.route_ptr.shape or self.route_ptr.shape[0] < 2:
            raise ValueError("Snapshot.route_ptr and group_ptr must have one entry per group (+1)")
        for name in ("route_ptr", "group_ptr"):
            steps = np.diff(getattr(self, name))
            if getattr(self, name)[0] != 0 or steps.min() < 1:
                raise ValueError(f"Snapshot.{name} must start at 0 and give every group an entry")
        if not np.array_equal(np.sort(self.group_labels), np.arange(self.n_labels)):
            raise ValueError("Snapshot.group_labels must list every label exactly once")
        within("route_slots", 0, self.n_slots)
        within("label_slot", 0, self.n_slots)
        within("label_gate", -1, self.n_slots)

    @functools.cached_property
    def layer(self):
        """The decision layer as the kernels take it (None without one)."""
        if self.experts is None:
            return None
        fields = {name: self.experts[name] for name in experts_kernel.Layer._fields[:-1]}
        return experts_kernel.Layer(**fields, window=knn.KnnWindow(**self.experts["window"]))

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    @property
    def n_groups(self) -> int:
        return self.group_ptr.shape[0] - 1

    @property
    def n_slots(self) -> int:
        """Output slots of all learners plus the constant slots."""
        return int(self.out_ptr[-1]) + self.constants.shape[0]

    @functools.cached_property
    def slot_learner(self) -> np.ndarray:
        """The learner that writes each output slot."""
        return np.repeat(np.arange(len(self.learner_names)), np.diff(self.out_ptr))

    @functools.cached_property
    def absent(self) -> np.ndarray:
        """Each learner column's scaled value for an absent feature (0.0), aligned with ``scale``.

        Standard scaling reads every column; most are absent from a sparse row, and this saves
        their division. It is the kernels' own expression, so it rounds identically.
        """
        out = np.zeros_like(self.center)
        np.divide(0.0 - self.center, self.scale, out=out, where=self.scale != 0.0)
        out.setflags(write=False)
        return out

    @property
    def groups(self) -> list[list]:
        """The active label groups, as label names (as :attr:`streamlabels.IHOMER.groups`)."""
        return [
            [self.labels[l] for l in self.group_labels[a:b]]
            for a, b in zip(self.group_ptr[:-1], self.group_ptr[1:])
        ]

    def to_state(self) -> dict:
        """Plain values and numeric arrays, ready for :func:`streamlabels.state.dumps`."""
        state = {"format": FORMAT, "version": VERSION}
        for field in dataclasses.fields(self):
            state[field.name] = getattr(self, field.name)
        return state

    @classmethod
    def from_state(cls, state: dict) -> Snapshot:
        """The snapshot :meth:`to_state` described; inconsistent arrays raise ``ValueError``."""
        if state.get("format") != FORMAT or state.get("version") != VERSION:
            raise ValueError(
                f"not a version-{VERSION} snapshot state: format={state.get('format')!r}, "
                f"version={state.get('version')!r}"
            )
        names = [field.name for field in dataclasses.fields(cls)]
        missing = [name for name in names if name not in state]
        if missing:
            raise ValueError(f"snapshot state lacks {missing}")
        return cls(**{name: state[name] for name in names})


def _checked_layer(state: dict, n_labels: int) -> dict:
    """The decision layer's arrays, read-only, refused when inconsistent (its kernels index
    without bounds checks)."""
    try:
        window = {name: np.array(state["window"][name]) for name in knn.KnnWindow._fields}
        layer = {name: np.array(state[name]) for name in experts_kernel.Layer._fields[:-1]}
    except (KeyError, TypeError) as exc:
        raise ValueError(f"Snapshot.experts lacks {exc}") from exc
    e, bins = experts_kernel.N_EXPERTS, experts_kernel.N_BINS
    shapes = {
        "prm": (experts_kernel.N_PARAMS,), "run": (3,), "weights": (n_labels, e),
        "previous": (n_labels,), "frequency": (n_labels,), "context": (n_labels, 4),
        "histogram": (2, bins),
    }
    for name, shape in shapes.items():
        if layer[name].shape != shape:
            raise ValueError(f"Snapshot.experts.{name} must have shape {shape}")
    meta, ids, sizes = window["meta"], window["ids"], window["sizes"]
    rows, width = ids.shape if ids.ndim == 2 else (-1, -1)
    columns = window["stats"].shape[1] if window["stats"].ndim == 2 else -1
    if (
        meta.shape != (5,) or rows < 1 or window["values"].shape != ids.shape
        or sizes.shape != (rows,) or window["labels"].shape != (rows, n_labels)
        or window["stats"].shape != (3, columns) or not 1 <= meta[knn.K]
        or not 0 <= meta[knn.FILL] <= rows or not 0 <= meta[knn.POS] < rows
        or not 0 <= meta[knn.NCOLS] <= columns or sizes.min() < 0 or sizes.max() > width
        or ids[np.arange(width) < sizes[:, None]].max(initial=0) >= max(columns, 1)
    ):
        raise ValueError("Snapshot.experts.window is inconsistent")
    for array in (*layer.values(), *window.values()):
        array.setflags(write=False)
    return {**layer, "window": window}


class _Stack:
    """Collects learners and constants; constants get provisional negative slots until the
    number of output slots is known."""

    def __init__(self, scaling: str):
        self.mode = _MODES[scaling]
        self.names: list[str] = []
        self.blocks: list[dict] = []
        self.n_outputs = 0
        self.constants: dict[float, int] = {}

    def learner(self, learner, name: str) -> np.ndarray:
        """Stack ``learner`` and return the slots of its outputs."""
        state = learner.get_state()
        width = state["weights"].shape[1]
        center, scale = np.empty(width), np.empty(width)
        scoring_cpu.column_scales(
            self.mode, state["counts"], state["stat1"], state["stat2"], int(state["meta"][0]),
            center, scale,
        )
        self.names.append(name)
        self.blocks.append({**state, "center": center, "scale": scale})
        first = self.n_outputs
        self.n_outputs += state["n_outputs"]
        return np.arange(first, self.n_outputs)

    def constant(self, value: float) -> int:
        index = self.constants.setdefault(float(value), len(self.constants))
        return -1 - index

    def router(self, hierarchy, name: str) -> np.ndarray:
        """Slots of the hierarchy's router scores (zeros until it has learned)."""
        if hierarchy.router_seen == 0:
            return np.full(len(hierarchy.groups), self.constant(0.0))
        return self.learner(hierarchy.router, name)

    def group(self, hierarchy, k: int, name: str) -> np.ndarray:
        """Slots of group ``k``'s within-group scores, a constant fallback until it has learned."""
        if len(hierarchy.groups[k]) > 1 and hierarchy.local_seen[k] > 0:
            return self.learner(hierarchy.locals[k], name)
        return np.array([self.constant(v) for v in hierarchy.local_proba(k, _EMPTY_ROW)])

    def resolve(self, slots: np.ndarray) -> np.ndarray:
        """Provisional constant slots moved after the output slots."""
        slots = np.asarray(slots, dtype=np.int64)
        return np.where(slots < 0, self.n_outputs - 1 - slots, slots)


def export(model) -> Snapshot:
    """Freeze ``model`` (an ``IHOMER(learner="linear")``) into a :class:`Snapshot`; the model is
    not touched. The model describes itself through its public ``scoring_view()``.

    During a restructuring warm-up the snapshot includes the shadow router and the shadow
    learners the warming groups read, so it predicts what ``predict_one`` predicts right now.

    Raises
    ------
    TypeError
        When ``model`` is not an IHOMER model, or one whose learners have no snapshot form
        (``learner="tree"`` or a river classifier).

    Examples
    --------
    >>> from streamlabels import IHOMER
    >>> model = IHOMER(labels=["a", "b"])
    >>> model.learn_one({"x": 1.0}, {"a": True, "b": False})
    >>> snapshot = export(model)
    >>> snapshot.feature_names, snapshot.labels, snapshot.learner_names
    (['x'], ['a', 'b'], ['router', 'group 0'])
    >>> export(IHOMER(labels=["a"], learner="tree"))
    Traceback (most recent call last):
    ...
    TypeError: only IHOMER(learner='linear') models can be exported; this one uses tree
    """
    view = getattr(model, "scoring_view", None)
    if view is None:
        raise TypeError(f"export takes an IHOMER model, got {type(model).__name__}")
    view = view()
    transition = view["transition"]
    active, shadow = transition.active, transition.shadow
    shadow_routing = transition.shadow_routes()
    warming = transition.warming()
    rule = transition.rule

    stack = _Stack(view["scaling"])
    if shadow_routing:
        old = stack.router(shadow, "shadow router")
        routes = [old[olds] for olds in transition.shadow_map]
    else:
        routes = list(stack.router(active, "router")[:, None])
    n_labels = len(view["labels"])
    label_slot = np.zeros(n_labels, dtype=np.int64)
    label_gate = np.zeros(n_labels, dtype=np.int64)
    gated = np.zeros(n_labels, dtype=bool)
    shadow_gates = None
    shadow_groups: dict[int, np.ndarray] = {}
    for k, group in enumerate(active.groups):
        if k not in warming:
            label_slot[list(group)] = stack.group(active, k, f"group {k}")
            continue
        if shadow_gates is None:
            shadow_gates = old if shadow_routing else stack.router(shadow, "shadow router")
        for label in group:
            g = int(shadow.group_of[label])
            if g not in shadow_groups:
                shadow_groups[g] = stack.group(shadow, g, f"shadow group {g}")
            label_slot[label] = shadow_groups[g][shadow.groups[g].index(label)]
            label_gate[label] = shadow_gates[g]
            gated[label] = True

    blocks = stack.blocks

    def stacked(key: str, dtype=np.float64) -> np.ndarray:
        return np.concatenate([np.ravel(b[key]) for b in blocks] + [np.empty(0, dtype)])

    outputs = np.array([b["n_outputs"] for b in blocks], dtype=np.int64)
    widths = np.array([b["weights"].shape[1] for b in blocks], dtype=np.int64)
    return Snapshot(
        feature_names=view["feature_names"],
        labels=view["labels"],
        scaling=view["scaling"],
        theta_route=float(rule.theta),
        group_nonempty=bool(rule.group_nonempty),
        ensure_nonempty=bool(rule.ensure_nonempty),
        n_instances=int(view["n_instances"]),
        learner_names=stack.names,
        out_ptr=np.concatenate([[0], np.cumsum(outputs)]),
        n_cols=widths,
        weight_ptr=np.concatenate([[0], np.cumsum(outputs * widths)]),
        weights=stacked("weights"),
        intercepts=stacked("intercepts"),
        col_ptr=np.concatenate([[0], np.cumsum(widths)]),
        center=stacked("center"),
        scale=stacked("scale"),
        constants=np.array(list(stack.constants)),
        route_ptr=np.concatenate([[0], np.cumsum([len(r) for r in routes])]),
        route_slots=stack.resolve(np.concatenate(routes)),
        group_ptr=np.concatenate([[0], np.cumsum([len(g) for g in active.groups])]),
        group_labels=np.concatenate([np.asarray(g, dtype=np.int64) for g in active.groups]),
        experts=None if view["experts"] is None else view["experts"].get_state(),
        label_slot=stack.resolve(label_slot),
        label_gate=np.where(gated, stack.resolve(label_gate), -1),
    )
