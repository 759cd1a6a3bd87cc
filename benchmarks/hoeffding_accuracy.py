"""Prequential accuracy and speed of MultiLabelHoeffdingTree, alone and as iHOMER's learner.

Four models per dataset, each test-then-train over the whole stream in file order:

- ``tree``: one MultiLabelHoeffdingTree over all labels (default settings, so with drift
  detection and alternate subtrees; seed 0), on rows built once from the arrays (a dense file
  gives every column, a sparse file its non-zeros), so the figure is the tree's own speed;
- ``tree-static``: the same with ``drift_detection=False`` (the tree before drift detection);
- ``ihomer+tree``: IHOMER whose router and group learners are trees (``learner="tree"``, i.e.
  ``make_model("ihomer-tree")``; everything else as ``make_model("ihomer")``);
- ``ihomer``: plain iHOMER (``make_model("ihomer", ..., sparse=stream.sparse)``, linear learner).

The iHOMER runs go through :func:`streamlabels.evaluate.prequential` on the dict stream.

    STREAMLABELS_DATA=../shared/datasets python benchmarks/hoeffding_accuracy.py

Prints a table and writes ``results/hoeffding_accuracy.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy import sparse as sp

from streamlabels.cli.models import make_model
from streamlabels.evaluate import prequential
from streamlabels.evaluate.metrics import MultiLabelMetrics
from streamlabels.learners.hoeffding import MultiLabelHoeffdingTree
from streamlabels.streams import datasets
from streamlabels.vocabulary import Row

RESULTS = Path(__file__).parent / "results" / "hoeffding_accuracy.json"
DEFAULT_DATASETS = "yeast,scene,emotions,medical,enron"
SHOWN = ("micro_f1", "subset_accuracy", "macro_f1", "hamming_loss")


def rows_of(X) -> list[Row]:
    if sp.issparse(X):
        X = X.tocsr()
        return [
            Row({}, X.indices[a:b].astype(np.int64), X.data[a:b].astype(np.float64))
            for a, b in zip(X.indptr[:-1], X.indptr[1:])
        ]
    X = np.asarray(X, dtype=np.float64)
    columns = np.arange(X.shape[1], dtype=np.int64)
    return [Row({}, columns, x) for x in X]


def run_tree(name: str, drift_detection: bool) -> dict:
    data = datasets.load_arrays(name)
    rows, Y = rows_of(data.X), np.asarray(data.Y, dtype=bool)
    tree = MultiLabelHoeffdingTree(Y.shape[1], drift_detection=drift_detection)
    metrics = MultiLabelMetrics(Y.shape[1])
    start = time.perf_counter()
    for row, y in zip(rows, Y):
        metrics.update(y, tree.predict_proba_one(row) >= 0.5)
        tree.learn_one(row, y)
    seconds = time.perf_counter() - start
    return {
        "model": "tree" if drift_detection else "tree-static", "n_instances": len(rows),
        "seconds": round(seconds, 2), "instances_per_second": round(len(rows) / seconds, 1),
        "tree": {"nodes": tree.n_nodes, "leaves": tree.n_leaves, "depth": tree.depth,
                 "state_mb": round(tree.nbytes / 2**20, 2),
                 "alternates_created": tree.n_alternates_created,
                 "switches": tree.n_switches, "pruned": tree.n_pruned},
        "metrics": metrics.get(),
    }


def run_ihomer(name: str, with_tree: bool) -> dict:
    stream = datasets.load(name)
    model = make_model("ihomer-tree" if with_tree else "ihomer", stream.feature_names,
                       stream.label_names, sparse=getattr(stream, "sparse", False))
    result = prequential(stream, model, stream.label_names)
    return {
        "model": "ihomer+tree" if with_tree else "ihomer", "n_instances": result.n_instances,
        "seconds": round(result.seconds, 2),
        "instances_per_second": round(result.instances_per_second, 1),
        "groups": len(model.groups), "metrics": result.metrics,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=DEFAULT_DATASETS, help="comma-separated names")
    args = parser.parse_args()
    rows = []
    print(f"{'dataset':10} {'model':12} " + " ".join(f"{k:>15}" for k in SHOWN)
          + f" {'inst/s':>9}")
    for name in args.datasets.split(","):
        for run in (lambda: run_tree(name, True), lambda: run_tree(name, False),
                    lambda: run_ihomer(name, True), lambda: run_ihomer(name, False)):
            row = {"dataset": name, **run()}
            rows.append(row)
            print(f"{name:10} {row['model']:12} "
                  + " ".join(f"{row['metrics'][k]:15.4f}" for k in SHOWN)
                  + f" {row['instances_per_second']:9.1f}", flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"order": "file", "runs": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
