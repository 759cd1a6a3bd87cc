"""GPU scoring of an IHOMER snapshot: correctness against the CPU scorer, then throughput.

One prepared run for a machine with a CUDA GPU (numba-cuda installed):

1. Model: train IHOMER on the first ``--train`` instances of ``--dataset`` (imdb) with
   ``learn_one``, or load a snapshot saved by an earlier run (``--snapshot FILE``; ``--save``
   writes one, a :func:`streamlabels.state.dumps` blob of ``Snapshot.to_state()``).
2. Correctness, on held-out rows: GPU labels equal the CPU scorer's and ``predict_one``'s (the
   latter on ``--loop`` rows when the model was trained here); GPU scores within 1e-6 of the CPU's;
   for CSR input and for a dense slice. A failed check exits with status 1 (after writing JSON).
3. Throughput at batch sizes 1k ... 1M rows (held-out rows tiled to reach the size), CSR input:
   end to end, i.e. snapshot and batch host->device copies, kernels and the device->host copy of
   the result, best of ``--repeats`` after a warm-up call (the first call, which compiles, is
   reported apart). The host->device copy of the batch alone and the CPU scorer (up to
   ``--cpu-max-rows``) are reported next to it.

Prints a table and writes JSON to ``$OUT/gpu_scoring.json`` when ``OUT`` is set, else
``benchmarks/results/gpu_scoring.json`` (``--out`` overrides)::

    STREAMLABELS_DATA=../shared/datasets python benchmarks/gpu_scoring.py

``--simulate`` runs the same steps in numba's CUDA simulator with tiny sizes, to check the script
and kernels without a GPU (it restarts itself with ``NUMBA_ENABLE_CUDASIM=1``, which numba reads
at import).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pathlib
import platform
import sys
import time

import numba
import numpy as np
from cpu_scoring import best_of  # this folder is on sys.path when run as a script
from numba import cuda

from streamlabels import IHOMER, state
from streamlabels.scoring import Snapshot, export, predict_many, predict_proba_many, to_csr
from streamlabels.streams import datasets
from streamlabels.vocabulary import feature_dicts, label_dicts

FULL = {"train": 20_000, "check": 20_000, "dense": 2_000, "loop": 1_000, "repeats": 3,
        "sizes": "1000,10000,100000,1000000", "cpu_max_rows": 100_000}
SIMULATED = {"train": 600, "check": 6, "dense": 3, "loop": 6, "repeats": 1, "sizes": "4,8",
             "cpu_max_rows": 8}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--simulate", action="store_true", help="numba's CUDA simulator, tiny")
    parser.add_argument("--dataset", default="imdb")
    parser.add_argument("--scaling", default="sparse", choices=["sparse", "standard", "none"])
    parser.add_argument("--train", type=int, help="instances learned before scoring")
    parser.add_argument("--snapshot", type=pathlib.Path, help="load this saved snapshot instead")
    parser.add_argument("--save", type=pathlib.Path, help="save the snapshot here")
    parser.add_argument("--check", type=int, help="held-out rows compared GPU vs CPU (CSR)")
    parser.add_argument("--dense", type=int, help="of which compared again as a dense matrix")
    parser.add_argument("--loop", type=int, help="of which compared with predict_one")
    parser.add_argument("--sizes", help="comma-separated batch sizes for throughput")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--cpu-max-rows", type=int, help="largest batch also timed on the CPU")
    parser.add_argument("--out", type=pathlib.Path)
    args = parser.parse_args()
    for name, value in (SIMULATED if args.simulate else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.out is None:
        folder = pathlib.Path(os.environ["OUT"]) if os.environ.get("OUT") else (
            pathlib.Path(__file__).parent / "results"
        )
        args.out = folder / ("gpu_scoring_simulated.json" if args.simulate else "gpu_scoring.json")
    return args


def model_and_rows(args) -> tuple[Snapshot, IHOMER | None, list[dict], dict]:
    """The snapshot, the model when trained here (else None), held-out dicts, timings."""
    data = datasets.load_arrays(args.dataset)
    xs = list(feature_dicts(data.X))
    info = {"dataset": args.dataset, "instances": len(xs)}
    if args.snapshot is not None:
        snapshot = Snapshot.from_state(state.loads(args.snapshot.read_bytes()))
        info["snapshot"] = str(args.snapshot)
        info["train"] = snapshot.n_instances
        return snapshot, None, xs[snapshot.n_instances :], info
    ys = list(label_dicts(data.Y, data.label_names))
    model = IHOMER(labels=data.label_names, scaling=args.scaling)
    start = time.perf_counter()
    for x, y in zip(xs[: args.train], ys[: args.train], strict=True):
        model.learn_one(x, y)
    info["train"] = args.train
    info["train_s"] = time.perf_counter() - start
    snapshot = export(model)
    if args.save is not None:
        args.save.write_bytes(state.dumps(snapshot.to_state()))
    return snapshot, model, xs[args.train :], info


def check(snapshot: Snapshot, model: IHOMER | None, rows: list[dict], args) -> dict:
    """GPU against CPU (CSR and dense) and against predict_one; the first GPU call compiles."""
    X = to_csr(snapshot, rows[: args.check])
    start = time.perf_counter()
    gpu_labels = predict_many(snapshot, X, device="cuda")
    first_call_s = time.perf_counter() - start
    gpu_proba = predict_proba_many(snapshot, X, device="cuda")
    cpu_labels = predict_many(snapshot, X)
    cpu_proba = predict_proba_many(snapshot, X)
    dense = X[: args.dense].toarray()
    result = {
        "rows": X.shape[0],
        "first_gpu_call_s": first_call_s,
        "label_mismatches_csr": int(np.count_nonzero(gpu_labels != cpu_labels)),
        "max_score_diff_csr": float(np.abs(gpu_proba - cpu_proba).max(initial=0.0)),
        "label_mismatches_dense": int(np.count_nonzero(
            predict_many(snapshot, dense, device="cuda") != cpu_labels[: args.dense]
        )),
        "max_score_diff_dense": float(np.abs(
            predict_proba_many(snapshot, dense, device="cuda") - cpu_proba[: args.dense]
        ).max(initial=0.0)),
    }
    if model is not None:
        loop = np.array([list(model.predict_one(x).values()) for x in rows[: args.loop]], bool)
        result["loop_rows"] = len(loop)
        result["label_mismatches_predict_one"] = int(
            np.count_nonzero(gpu_labels[: len(loop)] != loop)
        )
    result["ok"] = (
        result["label_mismatches_csr"] == 0 and result["label_mismatches_dense"] == 0
        and result["max_score_diff_csr"] <= 1e-6 and result["max_score_diff_dense"] <= 1e-6
        and result.get("label_mismatches_predict_one", 0) == 0
    )
    return result


def to_device(arrays) -> list:
    """Host->device copies (synchronous), as the scorer makes them for a CSR batch."""
    return [cuda.to_device(a) for a in arrays]


def throughput(snapshot: Snapshot, rows: list[dict], args) -> list[dict]:
    base = to_csr(snapshot, rows[: min(len(rows), max(int(s) for s in args.sizes.split(",")))])
    table = []
    for size in (int(s) for s in args.sizes.split(",")):
        X = base[np.arange(size) % base.shape[0]]
        entry = {"rows": size, "nnz": int(X.nnz)}
        arrays = (X.indptr, X.indices, X.data)
        entry["h2d_batch_s"] = best_of(functools.partial(to_device, arrays), args.repeats)
        for name, fn in (("labels", predict_many), ("scores", predict_proba_many)):
            seconds = best_of(functools.partial(fn, snapshot, X, device="cuda"), args.repeats)
            entry[f"gpu_{name}_s"] = seconds
            entry[f"gpu_{name}_rows_per_s"] = size / seconds
        if size <= args.cpu_max_rows:
            seconds = best_of(functools.partial(predict_many, snapshot, X), args.repeats)
            entry["cpu_labels_s"] = seconds
            entry["cpu_labels_rows_per_s"] = size / seconds
        table.append(entry)
    return table


def main() -> int:
    args = parse_args()
    if args.simulate and os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    if not cuda.is_available():
        print("no CUDA device: run on a GPU machine, or pass --simulate", file=sys.stderr)
        return 2
    snapshot, model, rows, info = model_and_rows(args)
    predict_many(snapshot, to_csr(snapshot, rows[:2]))  # CPU scorer: load or compile it
    results = {
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "numba_threads": numba.get_num_threads(),
            "numba": numba.__version__,
            "cuda": "simulator" if args.simulate else str(cuda.get_current_device().name),
        },
        "model": {
            **info, "scaling": snapshot.scaling, "groups": snapshot.n_groups,
            "learners": int(snapshot.model.bank.meta.shape[0]),
            "features": snapshot.n_features, "labels": snapshot.n_labels,
        },
        "check": check(snapshot, model, rows, args),
        "throughput": throughput(snapshot, rows, args),
    }
    c = results["check"]
    print(f"{args.dataset}: trained on {info['train']}, {snapshot.n_groups} groups, "
          f"{snapshot.model.bank.meta.shape[0]} learners, scaling {snapshot.scaling}")
    print(f"check on {c['rows']} rows: label mismatches csr {c['label_mismatches_csr']}, dense "
          f"{c['label_mismatches_dense']}, predict_one {c.get('label_mismatches_predict_one')}; "
          f"max score diff {max(c['max_score_diff_csr'], c['max_score_diff_dense']):.2e}; "
          f"first GPU call {c['first_gpu_call_s']:.2f} s -> {'OK' if c['ok'] else 'FAILED'}")
    print(f"{'rows':>8} {'h2d ms':>8} {'gpu labels/s':>13} {'gpu scores/s':>13} "
          f"{'cpu labels/s':>13}")
    for e in results["throughput"]:
        cpu = f"{e['cpu_labels_rows_per_s']:13.0f}" if "cpu_labels_s" in e else f"{'-':>13}"
        print(f"{e['rows']:8d} {1e3 * e['h2d_batch_s']:8.2f} {e['gpu_labels_rows_per_s']:13.0f} "
              f"{e['gpu_scores_rows_per_s']:13.0f} {cpu}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0 if c["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
