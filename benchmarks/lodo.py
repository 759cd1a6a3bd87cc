"""Leave-one-dataset-out choice of the decision layer's constants (docs/algorithm.md §8, §9).

The hierarchy's own scores do not depend on the layer (the layer never feeds back into the
learners, and the loss detector watches the hierarchy's own predictions), so each stream's
test-then-train scores are computed once (``IHOMER(decision="routing")``: ``score_one`` then
``learn_one``, cached under ``--cache``) and the layer (:mod:`streamlabels.kernels.experts`, the
very kernels the model runs) is replayed over them for every point of a grid. For each held-out
dataset, the point with the best mean score over the other datasets (both orders) is chosen and
scored on the held-out one; the default is the best point over all of them.

Without ``--target`` the grid is the layer's own constants, scored by micro-F1. With
``--target T`` (``macro_f1``, ``example_f1``, ``subset``) it is that target's constants
(:data:`TARGET_GRIDS`, :mod:`streamlabels.kernels.targets`), the layer's at their defaults,
scored by the target's own metric.

    STREAMLABELS_DATA=../shared/datasets python benchmarks/lodo.py --cache /tmp/lodo-cache \
        [--target subset]

Writes ``benchmarks/results/lodo.json`` and ``lodo.md`` (``lodo-<target>.*`` for a target).
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import json
from pathlib import Path

import numpy as np
from numba import njit

from streamlabels import IHOMER
from streamlabels.evaluate.metrics import MultiLabelMetrics
from streamlabels.kernels import experts, targets
from streamlabels.streams import datasets
from streamlabels.streams.arrays import ArrayStream

RESULTS = Path(__file__).parent / "results"
DATASETS = ("flags", "emotions", "yeast", "scene", "medical", "enron", "tmc2007-500", "bibtex",
            "imdb", "delicious")
GRID = {
    "eta": (0.5, 1.0, 2.0),
    "share": (0.0, 0.005, 0.02),
    "horizon": (200.0, 1000.0),
    "k": (5, 10, 20),
}
PARAMETER = {"eta": experts.ETA, "share": experts.SHARE, "horizon": experts.HORIZON}
SET_GRID = {
    "set_eta": (0.05, 0.15, 0.5, 1.5),
    "set_share": (0.001, 0.01, 0.05),
    "set_horizon": (200.0, 1000.0),
}
TARGET_GRIDS = {
    "macro_f1": {"prior": (0.5, 1.0, 5.0, 20.0), "cut_horizon": (500.0, 2000.0, 8000.0, 32000.0)},
    "example_f1": SET_GRID,
    "subset": SET_GRID,
}
TARGET_PARAMETER = {"set_eta": targets.SET_ETA, "set_share": targets.SET_SHARE,
                    "prior": targets.PRIOR, "set_horizon": targets.SET_HORIZON,
                    "cut_horizon": targets.CUT_HORIZON}
METRIC = {"micro_f1": "micro_f1", "macro_f1": "macro_f1", "example_f1": "example_f1",
          "subset": "subset_accuracy"}
LAYER_DEFAULTS = {"eta": experts.DEFAULTS["eta"], "share": experts.DEFAULTS["share"],
                  "horizon": experts.DEFAULTS["horizon"],
                  "k": inspect.signature(IHOMER).parameters["knn_k"].default,
                  "window": inspect.signature(IHOMER).parameters["knn_window"].default}


def model_scores(name: str, order: str, cache: Path) -> dict:
    """Rows (CSR), truths and the hierarchy's test-then-train label scores of one stream."""
    path = cache / f"{name}-{order}.npz"
    if path.exists():
        return dict(np.load(path))
    stream = ArrayStream.read(datasets.load(name))
    if order == "shuffled":
        stream = stream.permuted(seed=1)
    dense = stream.X.nnz >= 0.5 * stream.X.shape[0] * stream.X.shape[1]
    model = IHOMER(labels=stream.label_names, features=stream.feature_names, decision="routing",
                   scaling="standard" if dense else "sparse")
    scores = np.zeros(stream.Y.shape)
    for i, (x, y) in enumerate(stream):
        if i:
            scores[i] = model.score_one(x)[1]
        model.learn_one(x, y)
    X = stream.X.tocsr()
    out = {"indptr": X.indptr.astype(np.int64), "indices": X.indices.astype(np.int64),
           "values": X.data.astype(np.float64), "Y": stream.Y, "scores": scores,
           "dense": np.array(dense)}
    np.savez(path, **out)
    return out


@njit
def _replay(scores, indptr, indices, values, Y, layer, scratch, predicted):
    """Test-then-train the layer alone, row by row, as the fused kernel runs it."""
    for i in range(Y.shape[0]):
        xi, xv = indices[indptr[i] : indptr[i + 1]], values[indptr[i] : indptr[i + 1]]
        experts.decide_row(scores[i], xi, xv, layer, scratch, predicted[i])
        experts.learn_row(Y[i], xi, xv, layer, scratch)


def layer_score(data: dict, point: dict, target: str = "micro_f1") -> float:
    """The target's metric for the layer at ``point`` (the layer's constants and kNN window, or
    the target's, over the layer's defaults) replayed test-then-train over cached scores."""
    Y = data["Y"]
    n_columns = int(data["indices"].max(initial=0)) + 1
    point = {**LAYER_DEFAULTS, **point}
    layer = experts.new_layer(Y.shape[1], n_columns, ("knn", "context"), "hedge", "f-optimal",
                              point["k"], point["window"], bool(data["dense"]), target)
    for key, index in PARAMETER.items():
        layer.prm[index] = point[key]
    for key, index in TARGET_PARAMETER.items():
        if key in point:
            layer.target_prm[index] = point[key]
    predicted = np.zeros(Y.shape, dtype=bool)
    _replay(data["scores"], data["indptr"], data["indices"], data["values"], Y, layer,
            experts.new_scratch(layer), predicted)
    predicted[0] = False  # a fresh model predicts nothing
    metrics = MultiLabelMetrics(Y.shape[1])
    metrics.update(Y, predicted)
    return metrics.get()[METRIC[target]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, help="folder for the cached model scores")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--target", choices=tuple(TARGET_GRIDS), help="a decision target's "
                        "constants, scored by its metric (default: the layer's, by micro-F1)")
    args = parser.parse_args()
    target = args.target or "micro_f1"
    grid = TARGET_GRIDS[target] if args.target else GRID
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    names = args.datasets.split(",")
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    score = {}  # (dataset, order, point index) -> the target's metric
    for name in names:
        for order in ("file", "shuffled"):
            data = model_scores(name, order, cache)
            for p, point in enumerate(points):
                score[name, order, p] = layer_score(data, point, target)
            print(name, order, f"{max(score[name, order, p] for p in range(len(points))):.4f}",
                  flush=True)

    def mean_over(keep) -> np.ndarray:
        return np.array([np.mean([score[d, o, p] for d in names if keep(d)
                                  for o in ("file", "shuffled")]) for p in range(len(points))])

    default = int(np.argmax(mean_over(lambda d: True)))
    rows = []
    for held in names:
        chosen = int(np.argmax(mean_over(lambda d, held=held: d != held)))
        rows.append({"held_out": held, "chosen": points[chosen],
                     "file": score[held, "file", chosen],
                     "shuffled": score[held, "shuffled", chosen]})
    means = mean_over(lambda d: True)
    metric = METRIC[target]
    report = {"target": target, "metric": metric, "grid": grid, "default": points[default],
              "held_out": rows,
              "mean_by_point": [{**point, metric: float(m)} for point, m in zip(points, means)],
              "mean_in_sample": float(means[default]),
              "mean_held_out": float(np.mean([(r["file"] + r["shuffled"]) / 2 for r in rows]))}
    RESULTS.mkdir(exist_ok=True)
    stem = f"lodo-{args.target}" if args.target else "lodo"
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=1))
    lines = ["| held out | chosen on the others | file | shuffled |", "|---|---|---:|---:|"]
    lines += [f"| {r['held_out']} | {r['chosen']} | {r['file']:.4f} | {r['shuffled']:.4f} |"
              for r in rows]
    same = sum(r["chosen"] == points[default] for r in rows)
    lines += ["", (f"Default (best over all): {points[default]}; mean {metric} "
                   f"{report['mean_in_sample']:.4f} in sample, {report['mean_held_out']:.4f} "
                   f"held out; {same} of {len(rows)} held-out choices equal the default.")]
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
