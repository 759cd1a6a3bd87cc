"""Human-readable views of a label tree: an indented text outline and a matplotlib drawing.

Both show what the tests decided on: an active leaf's labels and evidence, and the diameter d1 and
Hoeffding bound eps of its last test; a split node shows the frozen d1 and eps its children's
merge test compares against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamlabels.labeltree.tree import LabelNode, LabelTree

__all__ = ["plot_tree", "render_text"]

_MAX_NAMES = 12


def _names(node: LabelNode, label_names: Sequence[str] | None, limit: int = _MAX_NAMES) -> str:
    shown = [label_names[i] if label_names is not None else str(i) for i in node.labels[:limit]]
    extra = len(node.labels) - limit
    return ", ".join(shown) + (f", ... (+{extra})" if extra > 0 else "")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _describe(tree: LabelTree, node: LabelNode, label_names: Sequence[str] | None) -> str:
    if node.active:
        return (
            f"[{_names(node, label_names)}] n_eff={tree.n_eff(node)} "
            f"d1={_fmt(node.d1)} eps={_fmt(node.eps)}"
        )
    return f"({len(node.labels)} labels) d1={_fmt(node.d1)} eps={_fmt(node.eps)}"


def render_text(tree: LabelTree, label_names: Sequence[str] | None = None) -> str:
    """An indented outline of the tree, one node per line, children below their parent.

    Examples
    --------
    >>> tree = LabelTree(4, n_min=100)
    >>> for t in range(300):
    ...     _ = tree.update([0, 1] if t % 2 else [2, 3])
    >>> print(render_text(tree, label_names=["sun", "sea", "snow", "ski"]))
    (4 labels) d1=1.000 eps=0.076
      [sun, sea] n_eff=50 d1=0.000 eps=0.152
      [snow, ski] n_eff=50 d1=0.000 eps=0.152
    """
    if label_names is not None and len(label_names) != tree.n_labels:
        raise ValueError(f"expected {tree.n_labels} label names, got {len(label_names)}")
    lines = []
    stack = [(tree.root, 0)]
    while stack:
        node, depth = stack.pop()
        lines.append("  " * depth + _describe(tree, node, label_names))
        stack.extend((child, depth + 1) for child in reversed(node.children))
    return "\n".join(lines)


def plot_tree(
    tree: LabelTree, label_names: Sequence[str] | None = None, ax: Any = None
) -> Any:
    """Draw the tree with matplotlib: root on top, each active leaf's labels listed below it.

    Leaves are spread evenly left to right in pre-order and a parent sits above the middle of its
    children. Returns the axes drawn on (a new figure's when ``ax`` is None).
    """
    import matplotlib.pyplot as plt

    if label_names is not None and len(label_names) != tree.n_labels:
        raise ValueError(f"expected {tree.n_labels} label names, got {len(label_names)}")
    if ax is None:
        n_leaves = len(tree.leaf_nodes())
        _, ax = plt.subplots(figsize=(max(4.0, 1.6 * n_leaves), 5.0))

    depth = {id(tree.root): 0}
    for node in tree.nodes():
        for child in node.children:
            depth[id(child)] = depth[id(node)] + 1
    order = list(tree.nodes())
    leaves = [node for node in order if not node.children]
    x = {id(node): float(slot) for slot, node in enumerate(leaves)}
    for node in reversed(order):  # reversed pre-order places children before their parent
        if node.children:
            x[id(node)] = sum(x[id(c)] for c in node.children) / len(node.children)

    for node in tree.nodes():
        px, py = x[id(node)], -depth[id(node)]
        for child in node.children:
            ax.plot([px, x[id(child)]], [py, py - 1], color="0.6", lw=1, zorder=1)
        if node.active:
            text = "\n".join(_names(node, label_names).split(", "))
            ax.text(
                px, py, text, ha="center", va="top", fontsize=8, zorder=2,
                bbox={"boxstyle": "round", "fc": "#e8f0fe", "ec": "#4a6fa5"},
            )
        else:
            ax.scatter([px], [py], s=25, color="#4a6fa5", zorder=2)
            ax.annotate(
                f"d1={_fmt(node.d1)}\neps={_fmt(node.eps)}", (px, py), xytext=(6, 2),
                textcoords="offset points", fontsize=7, color="0.3",
            )
    max_depth = max(depth.values())
    ax.set_xlim(-0.7, len(leaves) - 0.3)
    ax.set_ylim(-max_depth - 1.5, 0.5)
    ax.set_axis_off()
    ax.set_title(f"label tree at t={tree.t}: {len(tree.leaf_nodes())} active leaves")
    return ax
