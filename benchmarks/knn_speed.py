"""The kNN expert's cost per row (a query, then the row's insertion), through the sparse window's
inverted index and by a scan of every stored row, in one process, alternated.

    STREAMLABELS_DATA=../shared/datasets python benchmarks/knn_speed.py \
        --datasets tmc2007-500,imdb,delicious,bibtex [--window 1600]

Each figure is the best of ``--repeats`` passes over ``--rows`` rows (k 5 and, unless
``--window`` says otherwise, the window of IHOMER's defaults), after a first pass that fills the
window; both windows answer the same, bit for bit
(``tests/ihomer/test_experts.py``). Writes ``benchmarks/results/knn_speed.json``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import time
from pathlib import Path

import numpy as np
import scipy.sparse
from numba import njit

from streamlabels import IHOMER
from streamlabels.kernels import knn
from streamlabels.streams import datasets
from streamlabels.streams.arrays import ArrayStream

RESULTS = Path(__file__).parent / "results"


@njit(cache=True)
def _rows(indptr, indices, data, Y, window, scratch, out, start, stop):
    for i in range(start, stop):
        ids, values = indices[indptr[i]:indptr[i + 1]], data[indptr[i]:indptr[i + 1]]
        knn.scores(ids, values, window, scratch, out)
        knn.insert(Y[i], ids, values, window, scratch)


def _window(n_labels: int, n_columns: int, size: int, indexed: bool):
    budget = knn.INDEX_BUDGET
    knn.INDEX_BUDGET = budget if indexed else 0
    try:
        return knn.new_window(n_labels, n_columns, 5, size, dense=False)
    finally:
        knn.INDEX_BUDGET = budget


def measure(name: str, rows: int, repeats: int, size: int) -> dict:
    stream = ArrayStream.read(datasets.load(name), 2 * rows)
    X = scipy.sparse.csr_matrix(stream.X)
    Y = np.asarray(stream.Y, dtype=np.bool_)
    arrays = (X.indptr.astype(np.int64), X.indices.astype(np.int64), X.data.astype(np.float64), Y)
    runs = {}
    for indexed in (True, False):
        window = _window(Y.shape[1], X.shape[1], size, indexed)
        runs[indexed] = (window, knn.new_scratch(window), np.zeros(Y.shape[1]))
        _rows(*arrays, *runs[indexed], 0, rows)  # compiled, and the window full
    best = {True: np.inf, False: np.inf}
    for _ in range(repeats):
        for indexed in (True, False):
            started = time.perf_counter()
            _rows(*arrays, *runs[indexed], rows, X.shape[0])
            best[indexed] = min(best[indexed], time.perf_counter() - started)
            _rows(*arrays, *runs[indexed], 0, rows)  # back to the same window contents
    n_rows = X.shape[0] - rows
    return {
        "dataset": name, "window": size, "rows": n_rows, "columns": X.shape[1],
        "nonzeros_per_row": float(np.diff(X.indptr).mean()),
        "indexed_us_per_row": best[True] / n_rows * 1e6,
        "scan_us_per_row": best[False] / n_rows * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="tmc2007-500,imdb,delicious,bibtex")
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--window", type=int,
                        default=inspect.signature(IHOMER).parameters["knn_window"].default)
    args = parser.parse_args()
    results = [measure(name, args.rows, args.repeats, args.window)
               for name in args.datasets.split(",")]
    for r in results:
        print(f"{r['dataset']:12s} {r['columns']:5d} columns, {r['nonzeros_per_row']:5.1f} "
              f"non-zeros/row: index {r['indexed_us_per_row']:6.2f} µs, scan "
              f"{r['scan_us_per_row']:6.2f} µs per row")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "knn_speed.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
