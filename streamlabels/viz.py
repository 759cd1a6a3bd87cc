"""Pictures of what a stream and a model are doing (matplotlib, imported lazily)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["plot_history"]

_SHOWN = (("micro_f1", "micro-F1"), ("subset_accuracy", "subset accuracy"), ("hamming_loss",
          "Hamming loss"))


def plot_history(history: Sequence[dict], title: str = "", events: Sequence[dict] = ()):
    """Windowed metrics over the stream, with vertical markers at ``events`` (``{"t", "kind"}``).

    Returns the matplotlib figure.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    n = [point["n"] for point in history]
    for key, name in _SHOWN:
        ax.plot(n, [point[f"window_{key}"] for point in history], label=f"{name} (window)")
    ax.plot(n, [point["micro_f1"] for point in history], "k--", lw=1, label="micro-F1 (cumulative)")
    kinds = {}
    for event in events:
        kinds.setdefault(event["kind"], []).append(event["t"])
    for (kind, times), colour in zip(sorted(kinds.items()), ("tab:red", "tab:purple", "tab:gray")):
        for i, t in enumerate(times):
            ax.axvline(t, color=colour, alpha=0.4, lw=1, label=kind if i == 0 else None)
    ax.set_xlabel("instances seen")
    ax.set_ylabel("metric value")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    return fig
