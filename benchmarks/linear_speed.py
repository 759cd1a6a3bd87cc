"""Speed of LinearLearner next to river's per-output pipeline, and its numba compile cost.

Measures, on real MULAN files (``STREAMLABELS_DATASETS``, default ``/work/shared/datasets``):

- compile: a fresh process with an empty ``NUMBA_CACHE_DIR`` (first run ever) and again with the
  cache filled (every later start): import time and the first learn/predict calls.
- steady state, test-then-train instances/s: ``predict_proba_one`` + ``learn_one`` per instance on
  pre-built rows; and the batch kernels (``learn_many`` then ``predict_proba_many`` over the same
  rows, kernel throughput without the per-row Python call).
- river ``PerOutputClassifier(StandardScaler() | LogisticRegression())`` on the same dicts (a few
  hundred instances). On the sparse file river sees only the non-zeros, so it is the usual river
  pipeline, not the same model as the "sparse" mode.

Run ``python benchmarks/linear_speed.py``; prints a table, writes ``results/linear_speed.json``.
"""

from __future__ import annotations

import gzip
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np
import river
from river import linear_model, multioutput, preprocessing

from streamlabels.learners.linear import LinearLearner
from streamlabels.vocabulary import FeatureSpace

DATASETS = pathlib.Path(os.environ.get("STREAMLABELS_DATASETS", "/work/shared/datasets"))
RESULTS = pathlib.Path(__file__).parent / "results" / "linear_speed.json"
RIVER_INSTANCES = 300
REPEATS = 3  # best of, for the steady-state timings

COMPILE_SNIPPET = """
import time
t0 = time.perf_counter()
import numpy as np
from streamlabels.vocabulary import FeatureSpace
from streamlabels.learners.linear import LinearLearner
t1 = time.perf_counter()
row = FeatureSpace().row({"a": 1.0, "b": 2.0})
model = LinearLearner(n_outputs=2)
model.predict_proba_one(row)
model.learn_one(row, np.array([True, False]))
model.learn_many([0, 2], row.indices, row.values, np.array([[True, False]]))
model.predict_proba_many([0, 2], row.indices, row.values)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def read_arff(path: pathlib.Path, n_features: int, limit: int | None = None):
    """Feature dicts and a bool label matrix from a MULAN file with the labels last."""
    xs, ys = [], []
    with gzip.open(path, "rt") as f:
        in_data = False
        for line in f:
            line = line.strip()
            if not in_data:
                in_data = line.lower().startswith("@data")
                continue
            if not line or line.startswith("%"):
                continue
            if line.startswith("{"):
                x, y = {}, []
                for item in line.strip("{}").split(","):
                    if item:
                        index, value = item.split()
                        if int(index) < n_features:
                            x[int(index)] = float(value)
                        else:
                            y.append(int(index) - n_features)
                xs.append(x)
                ys.append(y)
            else:
                values = line.split(",")
                xs.append({j: float(values[j]) for j in range(n_features)})
                ys.append([k for k, v in enumerate(values[n_features:]) if v == "1"])
            if limit is not None and len(xs) == limit:
                break
    n_labels = max(max(y, default=-1) for y in ys) + 1
    labels = np.zeros((len(ys), n_labels), dtype=bool)
    for i, y in enumerate(ys):
        labels[i, y] = True
    return xs, labels


def compile_times() -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        root = str(pathlib.Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        out = {}
        for name in ("cold", "cached"):
            result = subprocess.run(
                [sys.executable, "-c", COMPILE_SNIPPET], env=env, capture_output=True, text=True,
                check=True,
            )
            t_import, t_first = map(float, result.stdout.split())
            out[name] = {"import_s": t_import, "first_calls_s": t_first}
    return out


def ours_one(rows, Y, scaling: str) -> float:
    best = np.inf
    for _ in range(REPEATS):
        model = LinearLearner(n_outputs=Y.shape[1], scaling=scaling)
        start = time.perf_counter()
        for row, y in zip(rows, Y):
            model.predict_proba_one(row)
            model.learn_one(row, y)
        best = min(best, time.perf_counter() - start)
    return len(rows) / best


def ours_many(rows, Y, scaling: str) -> float:
    indptr = np.cumsum([0] + [len(r.indices) for r in rows])
    indices = np.concatenate([r.indices for r in rows])
    values = np.concatenate([r.values for r in rows])
    best = np.inf
    for _ in range(REPEATS):
        model = LinearLearner(n_outputs=Y.shape[1], scaling=scaling)
        start = time.perf_counter()
        model.learn_many(indptr, indices, values, Y)
        model.predict_proba_many(indptr, indices, values)
        best = min(best, time.perf_counter() - start)
    return len(rows) / best


def river_one(xs, Y) -> float:
    model = multioutput.PerOutputClassifier(
        preprocessing.StandardScaler() | linear_model.LogisticRegression()
    )
    n = min(RIVER_INSTANCES, len(xs))
    start = time.perf_counter()
    for x, y in zip(xs[:n], Y[:n]):
        model.predict_proba_one(x)
        model.learn_one(x, dict(enumerate(y.tolist())))
    return n / (time.perf_counter() - start)


def main() -> None:
    yeast_x, yeast_y = read_arff(DATASETS / "yeast.arff.gz", 103)
    medical_x, medical_y = read_arff(DATASETS / "medical.arff.gz", 1449)
    cases = [
        ("yeast", "standard", yeast_x, yeast_y),
        ("yeast", "standard", yeast_x, np.hstack([yeast_y, ~yeast_y])),  # 28: labels + negations
        ("medical", "sparse", medical_x, medical_y[:, :14]),
        ("medical", "sparse", medical_x, medical_y[:, :28]),
    ]
    results = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "numba": numba.__version__,
            "river": river.__version__,
        },
        "compile": compile_times(),
        "steady_state": [],
    }
    for dataset, scaling, xs, Y in cases:
        fs = FeatureSpace()
        rows = [fs.row(x) for x in xs]
        ours_one(rows[:10], Y[:10], scaling)  # compile / load from cache outside the timings
        ours_many(rows[:10], Y[:10], scaling)
        entry = {
            "dataset": dataset,
            "scaling": scaling,
            "n_instances": len(rows),
            "n_features": len(fs),
            "n_outputs": int(Y.shape[1]),
            "ours_one_per_s": ours_one(rows, Y, scaling),
            "ours_many_per_s": ours_many(rows, Y, scaling),
            "river_per_s": river_one(xs, Y),
            "river_instances": min(RIVER_INSTANCES, len(xs)),
        }
        entry["speedup_one_vs_river"] = entry["ours_one_per_s"] / entry["river_per_s"]
        results["steady_state"].append(entry)

    c = results["compile"]
    print(f"compile, fresh cache : import {c['cold']['import_s']:.2f} s, "
          f"first calls {c['cold']['first_calls_s']:.2f} s")
    print(f"compile, cached      : import {c['cached']['import_s']:.2f} s, "
          f"first calls {c['cached']['first_calls_s']:.2f} s")
    print()
    header = (
        f"{'dataset':8} {'scaling':8} {'outs':>4} {'one/s':>10} {'many/s':>10} {'river/s':>9} "
        f"{'x':>6}"
    )
    print(header)
    print("-" * len(header))
    for e in results["steady_state"]:
        print(
            f"{e['dataset']:8} {e['scaling']:8} {e['n_outputs']:>4} {e['ours_one_per_s']:>10,.0f} "
            f"{e['ours_many_per_s']:>10,.0f} {e['river_per_s']:>9,.0f} "
            f"{e['speedup_one_vs_river']:>6.0f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
