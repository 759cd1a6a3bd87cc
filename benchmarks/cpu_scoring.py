"""CPU batch scoring of an IHOMER snapshot against a ``predict_one`` loop, on imdb.

For each scaling mode: train IHOMER on the first ``--train`` instances of imdb with ``learn_one``,
export a snapshot, then on the held-out instances that follow:

- loop: ``predict_one`` (labels) and ``predict_proba_one`` over ``--loop`` feature dicts;
- batch: ``scoring.predict_many`` and ``scoring.predict_proba_many`` on the CSR matrix of up to
  ``--rows`` held-out rows (best of 3), and the dict -> CSR conversion (``scoring.to_csr``) alone;
- check: the batch labels and scores equal the loop's on the ``--loop`` rows (bit for bit).

The first batch call (numba cache load or compile) is reported separately. Prints a table and
writes ``results/cpu_scoring.json``::

    STREAMLABELS_DATA=../shared/datasets python benchmarks/cpu_scoring.py
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import time

import numba
import numpy as np

from streamlabels import IHOMER
from streamlabels.scoring import export, predict_many, predict_proba_many, to_csr
from streamlabels.streams import datasets
from streamlabels.vocabulary import feature_dicts, label_dicts

RESULTS = pathlib.Path(__file__).parent / "results" / "cpu_scoring.json"
REPEATS = 3


def best_of(fn, repeats: int = REPEATS) -> float:
    """Shortest wall time of ``repeats`` calls, in seconds."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run_case(scaling: str, xs: list[dict], ys: list[dict], labels: list, args) -> dict:
    model = IHOMER(labels=labels, scaling=scaling)
    start = time.perf_counter()
    for x, y in zip(xs[: args.train], ys[: args.train], strict=True):
        model.learn_one(x, y)
    train_s = time.perf_counter() - start

    held_out = xs[args.train : args.train + args.rows]
    loop_rows = held_out[: args.loop]
    snapshot = export(model)
    start = time.perf_counter()
    X = to_csr(snapshot, held_out)
    to_csr_s = time.perf_counter() - start
    X_loop = X[: len(loop_rows)]

    start = time.perf_counter()
    predict_many(snapshot, X_loop[:1])
    predict_proba_many(snapshot, X_loop[:1])
    first_call_s = time.perf_counter() - start

    start = time.perf_counter()
    loop_labels = np.array([list(model.predict_one(x).values()) for x in loop_rows], dtype=bool)
    loop_labels_s = time.perf_counter() - start
    start = time.perf_counter()
    loop_proba = np.array(
        [[p[True] for p in model.predict_proba_one(x).values()] for x in loop_rows]
    )
    loop_proba_s = time.perf_counter() - start

    labels_s = best_of(lambda: predict_many(snapshot, X))
    proba_s = best_of(lambda: predict_proba_many(snapshot, X))
    n = X.shape[0]
    entry = {
        "scaling": scaling,
        "train_instances": args.train,
        "train_s": train_s,
        "groups": snapshot.n_groups,
        "learners": int(snapshot.model.bank.meta.shape[0]),
        "features": snapshot.n_features,
        "labels": snapshot.n_labels,
        "batch_rows": n,
        "batch_nnz_per_row": X.nnz / max(n, 1),
        "first_batch_call_s": first_call_s,
        "to_csr_rows_per_s": n / to_csr_s,
        "loop_rows": len(loop_rows),
        "loop_predict_one_rows_per_s": len(loop_rows) / loop_labels_s,
        "loop_predict_proba_one_rows_per_s": len(loop_rows) / loop_proba_s,
        "batch_predict_many_rows_per_s": n / labels_s,
        "batch_predict_proba_many_rows_per_s": n / proba_s,
        "labels_equal": bool(np.array_equal(predict_many(snapshot, X_loop), loop_labels)),
        "scores_equal": bool(np.array_equal(predict_proba_many(snapshot, X_loop), loop_proba)),
    }
    entry["speedup_labels"] = (
        entry["batch_predict_many_rows_per_s"] / entry["loop_predict_one_rows_per_s"]
    )
    entry["speedup_scores"] = (
        entry["batch_predict_proba_many_rows_per_s"] / entry["loop_predict_proba_one_rows_per_s"]
    )
    # Batch scoring of dicts, conversion included: the fair comparison with the dict loop.
    with_csr = 1.0 / (
        1.0 / entry["batch_predict_many_rows_per_s"] + 1.0 / entry["to_csr_rows_per_s"]
    )
    entry["speedup_labels_with_to_csr"] = with_csr / entry["loop_predict_one_rows_per_s"]
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="imdb")
    parser.add_argument("--scalings", default="sparse,standard")
    parser.add_argument("--train", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--loop", type=int, default=2_000)
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()

    data = datasets.load_arrays(args.dataset)
    xs = list(feature_dicts(data.X))
    ys = list(label_dicts(data.Y, data.label_names))
    results = {
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "numba_threads": numba.get_num_threads(),
            "threading_layer": numba.config.THREADING_LAYER,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "numba": numba.__version__,
        },
        "dataset": args.dataset,
        "cases": [run_case(s, xs, ys, data.label_names, args) for s in args.scalings.split(",")],
    }

    print(f"{args.dataset}: {len(xs)} instances, {numba.get_num_threads()} numba threads")
    print(
        f"{'scaling':9} {'groups':>6} {'rows':>7} {'one/s':>8} {'many/s':>9} {'x':>6} "
        f"{'proba1/s':>9} {'proba/s':>9} {'x':>6} {'csr/s':>8} {'first s':>7} {'equal':>5}"
    )
    for c in results["cases"]:
        print(
            f"{c['scaling']:9} {c['groups']:6d} {c['batch_rows']:7d} "
            f"{c['loop_predict_one_rows_per_s']:8.0f} {c['batch_predict_many_rows_per_s']:9.0f} "
            f"{c['speedup_labels']:6.1f} {c['loop_predict_proba_one_rows_per_s']:9.0f} "
            f"{c['batch_predict_proba_many_rows_per_s']:9.0f} {c['speedup_scores']:6.1f} "
            f"{c['to_csr_rows_per_s']:8.0f} {c['first_batch_call_s']:7.2f} "
            f"{c['labels_equal'] and c['scores_equal']!s:>5}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
