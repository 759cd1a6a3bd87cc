"""The kNN expert's memory: micro-F1 of the default layer against the kNN window's size.

The layer is replayed with every default but the window over the hierarchy scores that
``lodo.py`` caches (the same kernels the model runs; with the default window the figures are the
full model's), on every shared stream in both orders.

    STREAMLABELS_DATA=../shared/datasets python benchmarks/knn_window.py --cache /tmp/lodo-cache \\
        [--windows 400,800,1600,3200]

Writes ``benchmarks/results/knn_window.json`` and ``knn_window.md``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from lodo import DATASETS, layer_score, model_scores  # script folder

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, help="lodo.py's folder of cached scores")
    parser.add_argument("--windows", default="400,800,1600,3200")
    args = parser.parse_args()
    windows = [int(w) for w in args.windows.split(",")]
    rows = []
    for name in DATASETS:
        for order in ("file", "shuffled"):
            data = model_scores(name, order, Path(args.cache))
            scores = [layer_score(data, {"window": w}) for w in windows]
            rows.append({"dataset": name, "order": order, "micro_f1": dict(zip(windows, scores))})
            print(name, order, " ".join(f"{s:.4f}" for s in scores), flush=True)
    means = {w: float(np.mean([r["micro_f1"][w] for r in rows])) for w in windows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "knn_window.json").write_text(json.dumps({"rows": rows, "means": means}, indent=1))
    lines = ["| dataset | order | " + " | ".join(f"W = {w}" for w in windows) + " |",
             "|---|---|" + "---:|" * len(windows)]
    lines += [f"| {r['dataset']} | {r['order']} | "
              + " | ".join(f"{r['micro_f1'][w]:.4f}" for w in windows) + " |" for r in rows]
    lines += ["| mean | | " + " | ".join(f"{means[w]:.4f}" for w in windows) + " |"]
    (RESULTS / "knn_window.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
