"""Where a row's time goes in IHOMER's batch test-then-train (``predict_learn_many``), per model
and dataset, in one process:

    STREAMLABELS_DATA=../shared/datasets python benchmarks/row_cost.py \
        --datasets tmc2007-500,imdb,delicious [--models ihomer,ihomer-routing,ihomer-no-knn]

The stream is learned in windows of 500 rows, as ``bench`` and ``replay`` feed it. Each row's
time is split by clocks around the two calls a stretch of rows makes: the compiled
test-then-train (learners, routing rule, decision layer and kNN, one call per stretch up to the
label tree's next test point) and the label structure's bookkeeping (loss detector and label
tree, :meth:`~streamlabels.ihomer.structure.LabelStructure.track_many`); the rest is the batch's
Python (feature mapping, arrays, test points). No scores are asked for (``bench`` asks for them,
to score calibration: the calibrated probabilities add about 2 µs a row on tmc2007-500). Each
figure is the best of ``--repeats`` passes, each on a fresh model (numba cache warm after the
first). Writes ``benchmarks/results/row_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import scipy.sparse

from streamlabels.cli.models import make_model
from streamlabels.streams import datasets
from streamlabels.streams.arrays import ArrayStream

RESULTS = Path(__file__).parent / "results"
WINDOW = 500


class _Clock:
    """Wraps a bound method of one object so that its calls add up their seconds."""

    def __init__(self, owner, name: str):
        self.seconds = 0.0
        method = getattr(owner, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        setattr(owner, name, timed)


def one_pass(model_name: str, stream: ArrayStream, X, sparse: bool) -> dict:
    """One pass over the stream on a fresh model (scaled as ``bench`` scales it for the file's
    form): seconds in total and per part."""
    model = make_model(model_name, stream.feature_names, stream.label_names, sparse=sparse)
    names = list(stream.feature_names)
    model.predict_learn_many(X[:1], stream.Y[:1], names)  # the model's parts exist from here on
    state = model._state
    compiled = _Clock(state.compiled, "predict_learn")
    structure = _Clock(state.structure, "track_many")
    started = time.perf_counter()
    for start in range(1, X.shape[0], WINDOW):
        model.predict_learn_many(X[start : start + WINDOW], stream.Y[start : start + WINDOW],
                                 names)
    total = time.perf_counter() - started
    return {"total": total, "compiled": compiled.seconds, "structure": structure.seconds}


def measure(name: str, model_name: str, repeats: int) -> dict:
    source = datasets.load(name)
    stream = ArrayStream.read(source)
    X = scipy.sparse.csr_matrix(stream.X)
    sparse = bool(getattr(source, "sparse", False))
    passes = [one_pass(model_name, stream, X, sparse) for _ in range(repeats)]
    best = min(passes, key=lambda p: p["total"])
    rows = X.shape[0] - 1
    us = {part: seconds / rows * 1e6 for part, seconds in best.items()}
    return {
        "dataset": name, "model": model_name, "rows": rows, "rows_per_s": rows / best["total"],
        "us_per_row": us["total"], "compiled_us": us["compiled"], "structure_us": us["structure"],
        "other_us": us["total"] - us["compiled"] - us["structure"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="tmc2007-500,imdb,delicious")
    parser.add_argument("--models", default="ihomer,ihomer-routing,ihomer-no-knn")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = []
    for name in args.datasets.split(","):
        for model_name in args.models.split(","):
            r = measure(name, model_name, args.repeats)
            results.append(r)
            print(f"{name:12s} {model_name:15s} {r['rows_per_s']:9,.0f} rows/s "
                  f"{r['us_per_row']:7.1f} µs/row: compiled {r['compiled_us']:6.1f}, "
                  f"label structure {r['structure_us']:5.1f}, other {r['other_us']:5.1f}",
                  flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "row_cost.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
