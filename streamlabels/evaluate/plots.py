"""Pictures of what a stream and a model are doing, and of the benchmark tables.

matplotlib is imported inside each function, so the library runs without it (it is the ``viz``
extra). No backend is forced: notebooks keep their inline backend, and a headless process falls
back to Agg on its own; ``streamlabels report`` selects Agg itself. Every function draws on a new
figure, or on ``ax`` when given so that pictures can be set side by side, and returns the figure.
The label tree drawing is :func:`streamlabels.labeltree.plot_tree`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "cooccurrence",
    "plot_comparison",
    "plot_cooccurrence",
    "plot_histories",
    "plot_history",
    "plot_per_label",
    "plot_throughput",
]

_SHOWN = (("micro_f1", "micro-F1"), ("subset_accuracy", "subset accuracy"), ("hamming_loss",
          "Hamming loss"))

# Whole-height lines for the events a reader looks for first; the label tree's own split and
# merge tests fire more often, so they are short ticks along the top edge instead.
_EVENT_LINES = {
    "drift": ("drift detected (tree reset)", {"color": "tab:red", "ls": "--", "lw": 1.6}),
    "commit": ("restructure (partition committed)", {"color": "tab:purple", "ls": ":", "lw": 1.6}),
}
_EVENT_TICKS = {
    "split": ("label tree split", {"color": "tab:green", "marker": "v"}),
    "merge": ("label tree merge", {"color": "tab:orange", "marker": "^"}),
    "reset": ("label tree reset", {"color": "tab:red", "marker": "x"}),
}
_LOWER_IS_BETTER = {"hamming_loss"}
_TRIVIAL = {"prev-ls": "0.35", "majority-ls": "0.72"}


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]


def plot_history(
    history: Sequence[dict], title: str = "", events: Sequence[dict] = (), ax: Any = None
):
    """Windowed metrics over the stream, with the model's ``events`` (``{"t", "kind"}``) marked.

    Drift detections and committed restructures are vertical lines across the plot, so a drop in
    accuracy can be read against them; label-tree splits and merges are ticks along the top. The
    decision layer's mean weight on each expert (``weight_*`` keys of the history) is dotted.
    ``history`` is :class:`~streamlabels.evaluate.PrequentialResult`'s, ``events`` is
    ``IHOMER.events``. Returns the figure.
    """
    ax = _axes(ax, (10, 4.2))
    n = [point["n"] for point in history]
    for key, name in _SHOWN:
        ax.plot(n, [point[f"window_{key}"] for point in history], lw=1.5,
                label=f"{name} (window)")
    ax.plot(n, [point["micro_f1"] for point in history], "k--", lw=1, label="micro-F1 (cumulative)")
    weights = sorted({key for point in history for key in point if key.startswith("weight_")})
    for key in weights:  # the decision layer's mean weight on each expert
        ax.plot(n, [point.get(key, np.nan) for point in history], ls=":", lw=1.5,
                label=f"weight: {key.removeprefix('weight_')}")

    times: dict[str, list[int]] = {}
    for event in events:
        times.setdefault(event["kind"], []).append(event["t"])
    others = iter(("tab:brown", "tab:pink", "tab:olive", "tab:cyan", "0.4"))
    for kind, ts in sorted(times.items()):
        if kind in _EVENT_TICKS:
            name, style = _EVENT_TICKS[kind]
            ax.plot(ts, [1.03] * len(ts), ls="none", ms=7, clip_on=False, label=name, **style)
            continue
        name, style = _EVENT_LINES.get(kind, (kind, {"color": next(others, "0.4"), "lw": 1.2}))
        for i, t in enumerate(ts):
            ax.axvline(t, alpha=0.8, label=name if i == 0 else None, **style)

    window = history[0]["n"] if history else 0
    ax.set_xlabel("instances seen")
    ax.set_ylabel(f"metric value (window: {window:,} instances)")
    ax.set_ylim(0, 1.06)
    ax.set_xlim(0, max(n, default=1))
    ax.set_title(title or "prequential metrics over the stream")
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    return ax.figure


def plot_histories(runs: Sequence[dict], keys: Sequence[str] = tuple(k for k, _ in _SHOWN)):
    """Several replays side by side: a panel per metric (``keys``, windowed), a line per run.

    ``runs`` are ``streamlabels replay --out`` reports; a line is named by what differs between
    them (model, stream, order), so that two models on one stream read at a glance. Returns the
    figure.
    """
    import matplotlib.pyplot as plt

    if not runs:
        raise ValueError("no runs to draw")
    parts = [key for key in ("stream", "model", "order") if len({r.get(key) for r in runs}) > 1]
    names = [" · ".join(str(r.get(key)) for key in parts or ("model",)) for r in runs]
    fig, axes = plt.subplots(len(keys), 1, figsize=(10, 2.6 * len(keys) + 0.6), sharex=True,
                             squeeze=False)
    titles = dict(_SHOWN)
    for ax, key in zip(axes[:, 0], keys):
        for name, run in zip(names, runs):
            history = run["history"]
            ax.plot([p["n"] for p in history], [p[f"window_{key}"] for p in history], lw=1.5,
                    label=name)
        better = "lower" if key in _LOWER_IS_BETTER else "higher"
        ax.set_ylabel(f"{titles.get(key, key)}\n({better} is better)")
        ax.grid(alpha=0.3)
    common = [f"{r.get(key)}" for key in ("stream", "model", "order") if key not in parts
              for r in runs[:1]]
    axes[0, 0].set_title(" · ".join(common + ["windowed prequential metrics"]))
    axes[-1, 0].set_xlabel("instances seen")
    axes[0, 0].legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    fig.tight_layout()
    return fig


def cooccurrence(Y) -> np.ndarray:
    """Jaccard similarity of every pair of labels, |i and j| / |i or j|, from a 0/1 label matrix.

    It is the similarity the label tree clusters on (its distance is 1 minus this), so the
    heatmap of it shows the groups the tree should find. A label never seen scores 0.

    Examples
    --------
    >>> cooccurrence([[1, 1, 0], [1, 0, 0], [0, 0, 0]])
    array([[1. , 0.5, 0. ],
           [0.5, 1. , 0. ],
           [0. , 0. , 0. ]])
    """
    Y = np.asarray(Y, dtype=np.float64)
    both = Y.T @ Y
    seen = np.diag(both)
    either = seen[:, None] + seen[None, :] - both
    return np.divide(both, either, out=np.zeros_like(both), where=either > 0)


def plot_cooccurrence(
    Y, label_names: Sequence[str], groups: Sequence[Sequence[str]] | None = None,
    title: str = "", ax: Any = None,
):
    """Heatmap of :func:`cooccurrence`, labels ordered by ``groups`` and each group outlined.

    ``groups`` are lists of label names (``IHOMER.groups``); labels in no group come last. With
    the model's groups, bright blocks inside the outlines mean the groups match how the labels
    really co-occur, and bright cells outside them mean they do not. Returns the figure.
    """
    from matplotlib.patches import Rectangle

    names = list(label_names)
    similarity = cooccurrence(Y)
    if similarity.shape[0] != len(names):
        raise ValueError(f"Y has {similarity.shape[0]} label columns for {len(names)} names")
    order: list[str] = [label for group in groups or () for label in group]
    grouped = set(order)
    order += [label for label in names if label not in grouped]
    index = [names.index(label) for label in order]

    ax = _axes(ax, (6.5, 5.5))
    image = ax.imshow(similarity[np.ix_(index, index)], cmap="Blues", vmin=0, vmax=1)
    start = 0
    for group in groups or ():
        ax.add_patch(Rectangle((start - 0.5, start - 0.5), len(group), len(group), fill=False,
                               edgecolor="tab:red", lw=1.8))
        start += len(group)
    if len(order) <= 40:
        ax.set_xticks(range(len(order)), order, rotation=90, fontsize=8)
        ax.set_yticks(range(len(order)), order, fontsize=8)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_xlabel("label" + (" (ordered by group)" if groups else ""))
    ax.set_ylabel("label")
    ax.set_title(title or f"label co-occurrence over {np.shape(Y)[0]:,} instances")
    ax.figure.colorbar(image, ax=ax, label="Jaccard similarity |i ∩ j| / |i ∪ j|", shrink=0.85)
    return ax.figure


def _model_order(models) -> list[str]:
    """iHOMER variants first, then river's baselines, then the trivial ones, each by name."""
    def rank(model: str) -> tuple[int, str]:
        return (0 if model.startswith("ihomer") else 2 if model in _TRIVIAL else 1), model

    return sorted(set(models), key=rank)


def _colours(models: Sequence[str]) -> dict[str, Any]:
    import matplotlib

    greyless = [c for i, c in enumerate(matplotlib.colormaps["tab10"].colors) if i != 7]
    palette = iter(greyless)  # grey is kept for the trivial baselines
    return {m: _TRIVIAL[m] if m in _TRIVIAL else next(palette, "0.5") for m in models}


def _grouped_bars(ax, rows, value, datasets, models, colours, drawn: set) -> None:
    """Bars of ``value(row)`` grouped by dataset; a run not finished is an ``x`` on the axis."""
    cell = {(r["dataset"], r["model"]): r for r in rows}
    for d, dataset in enumerate(datasets):
        here = [m for m in models if (dataset, m) in cell]
        width = 0.84 / max(len(here), 1)
        for i, model in enumerate(here):
            x = d - 0.42 + width * (i + 0.5)
            row = cell[(dataset, model)]
            if row["status"] == "ok":
                ax.bar(x, value(row), width, color=colours[model],
                       label=model if model not in drawn else None)
                drawn.add(model)
            else:
                ax.plot(x, 0, "x", color="0.2", ms=6, clip_on=False,
                        transform=ax.get_xaxis_transform(),  # on the axis, log scale or not
                        label="not finished" if "not finished" not in drawn else None)
                drawn.add("not finished")
    ax.set_xticks(range(len(datasets)), datasets)
    ax.set_xlim(-0.6, len(datasets) - 0.4)
    ax.grid(axis="y", alpha=0.3)


def _handles(axes, models: Sequence[str]) -> tuple[list, list[str]]:
    """Legend entries of all ``axes``, once each, models in their order and "not finished" last."""
    found = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            found.setdefault(label, handle)
    names = [m for m in models if m in found] + [n for n in found if n not in models]
    return [found[n] for n in names], names


def plot_comparison(rows: Sequence[dict], metric: str = "micro_f1"):
    """Grouped bars of ``metric``: datasets along x, a bar per model, file order above shuffled.

    ``rows`` are ``benchmarks/results/accuracy.json``'s ``runs``. Both orders are shown because
    several files are stored sorted by label set, which flatters ``prev-ls`` in file order.
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    known = {key for r in rows if r["status"] == "ok" for key in r["metrics"]}
    if metric not in known:
        raise ValueError(f"unknown metric {metric!r}; the rows have {sorted(known)}")
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    models = _model_order(r["model"] for r in rows)
    orders = sorted({r["order"] for r in rows}, key=lambda o: (o != "file", o))
    colours = _colours(models)
    fig, axes = plt.subplots(len(orders), 1, figsize=(max(8.0, 1.3 * len(datasets) + 2), 3.6
                             * len(orders)), sharex=True, sharey=True, squeeze=False)
    drawn: set = set()
    better = "lower" if metric in _LOWER_IS_BETTER else "higher"
    for ax, order in zip(axes[:, 0], orders):
        _grouped_bars(ax, [r for r in rows if r["order"] == order],
                      lambda r: r["metrics"][metric], datasets, models, colours, drawn)
        ax.set_ylabel(f"{metric} ({better} is better)")
        ax.set_title(f"{metric}, prequential over the whole stream: {order} order")
    axes[-1, 0].set_xlabel("dataset")
    fig.legend(*_handles(axes[:, 0], models), loc="center left", bbox_to_anchor=(1.0, 0.5),
               title="model")
    fig.tight_layout()
    return fig


def plot_throughput(rows: Sequence[dict], order: str = "file"):
    """Instances per second (predict then learn, one at a time) per dataset and model, log scale.

    ``rows`` are ``benchmarks/results/accuracy.json``'s ``runs``; only those of ``order`` are
    drawn, as throughput barely depends on it. Returns the figure.
    """
    chosen = [r for r in rows if r["order"] == order]
    datasets = list(dict.fromkeys(r["dataset"] for r in chosen))
    models = _model_order(r["model"] for r in chosen)
    ax = _axes(None, (max(8.0, 1.3 * len(datasets) + 2), 4.2))
    _grouped_bars(ax, chosen, lambda r: r["instances_per_second"], datasets, models,
                  _colours(models), set())
    ax.set_yscale("log")
    ax.set_xlabel("dataset")
    ax.set_ylabel("instances per second (log scale)")
    ax.set_title(f"throughput, prequential predict + learn one at a time ({order} order)")
    ax.legend(*_handles([ax], models), loc="center left", bbox_to_anchor=(1.01, 0.5),
              title="model")
    return ax.figure


def plot_per_label(per_label: Sequence[dict], top: int = 30, title: str = "", ax: Any = None):
    """Per-label F1, precision and recall of the ``top`` labels by support, most frequent on top.

    ``per_label`` is a replay's (``MultiLabelMetrics.per_label``). Rare labels are where the
    macro averages lose, so the support is printed beside each name. Returns the figure.
    """
    shown = sorted(per_label, key=lambda r: -r["support"])[:top]
    ax = _axes(ax, (7.5, 0.28 * len(shown) + 1.6))
    y = np.arange(len(shown))
    ax.barh(y, [r["f1"] for r in shown], height=0.7, color="tab:blue", label="F1")
    ax.plot([r["precision"] for r in shown], y, "|", color="tab:orange", ms=9, mew=2,
            label="precision")
    ax.plot([r["recall"] for r in shown], y, "|", color="tab:green", ms=9, mew=2, label="recall")
    ax.set_yticks(y, [f"{r['label']} ({r['support']:,})" for r in shown], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("score over the whole stream (0-1)")
    ax.set_ylabel("label (positive instances)")
    cut = len(shown) < len(per_label)
    more = f", {len(shown)} most frequent of {len(per_label)}" if cut else ""
    ax.set_title(title or f"per-label scores{more}")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return ax.figure
