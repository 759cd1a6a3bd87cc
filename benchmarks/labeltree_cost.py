"""Cost of the label tree alone: time per instance (checkpoints included) and memory.

Replays the label sets of yeast (14 labels), tmc2007-500 (22) and delicious (983) through a
:class:`~streamlabels.labeltree.LabelTree` with default settings. The question it answers: does
the tree keep up on a label space in the thousands (target: well under 1 ms per instance)?

Usage::

    python benchmarks/labeltree_cost.py [--data DIR] [--n-min 200] [--repeats 3]

Writes ``benchmarks/results/labeltree_cost.json`` and prints a table. Label sets are read with
:func:`streamlabels.streams.datasets.load_arrays`, the labels numbered in file order (they are the
last ``n_labels`` attributes of each file).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import tracemalloc
from pathlib import Path

import numpy as np

from streamlabels.labeltree import LabelTree
from streamlabels.streams import datasets

HERE = Path(__file__).resolve().parent
DATASETS = {"yeast": 14, "tmc2007-500": 22, "delicious": 983}


def read_label_sets(name: str, n_labels: int) -> list[list[int]]:
    """Positive label ids per instance; the labels are the last ``n_labels`` attributes, in file
    order."""
    Y = datasets.load_arrays(name, labels=-n_labels).Y
    return [np.flatnonzero(y).tolist() for y in Y]


def measure(rows: list[list[int]], n_labels: int, n_min: int, repeats: int) -> dict:
    """Best-of-``repeats`` wall time per instance, then one traced run for peak memory."""
    best = float("inf")
    for _ in range(repeats):
        tree = LabelTree(n_labels, n_min=n_min)
        start = time.perf_counter()
        for labels in rows:
            tree.update(labels)
        best = min(best, time.perf_counter() - start)
    structure = {
        "active_leaves": len(tree.leaves()),
        "n_nodes": tree.n_nodes,
        "largest_leaf": max(len(leaf) for leaf in tree.leaves()),
        "stored_pairs": sum(len(n.counts.c2) for n in tree.leaf_nodes()),
        "memory_bytes": tree.memory_bytes(),
    }
    tracemalloc.start()
    traced = LabelTree(n_labels, n_min=n_min)
    for labels in rows:
        traced.update(labels)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    cardinality = sum(map(len, rows)) / len(rows)
    return {
        "n_instances": len(rows),
        "n_labels": n_labels,
        "cardinality": round(cardinality, 3),
        "us_per_instance": round(1e6 * best / len(rows), 2),
        "tracemalloc_peak_bytes": peak,
        **structure,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = os.environ.get("STREAMLABELS_DATA", str(HERE.parent.parent / "shared/datasets"))
    parser.add_argument("--data", default=default_data, help="directory holding the .arff.gz files")
    parser.add_argument("--n-min", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results" / "labeltree_cost.json"))
    args = parser.parse_args()

    os.environ["STREAMLABELS_DATA"] = args.data
    results = {}
    for name, n_labels in DATASETS.items():
        rows = read_label_sets(name, n_labels)
        results[name] = measure(rows, n_labels, args.n_min, args.repeats)

    header = (
        f"{'dataset':<12} {'N':>6} {'L':>4} {'card':>6} {'us/inst':>8} {'leaves':>6} "
        f"{'max leaf':>8} {'pairs':>7} {'mem KiB':>8} {'peak KiB':>8}"
    )
    print(header)
    for name, r in results.items():
        print(
            f"{name:<12} {r['n_instances']:>6} {r['n_labels']:>4} {r['cardinality']:>6.2f} "
            f"{r['us_per_instance']:>8.1f} {r['active_leaves']:>6} {r['largest_leaf']:>8} "
            f"{r['stored_pairs']:>7} {r['memory_bytes'] / 1024:>8.0f} "
            f"{r['tracemalloc_peak_bytes'] / 1024:>8.0f}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "n_min": args.n_min,
        "repeats": args.repeats,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": results,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
