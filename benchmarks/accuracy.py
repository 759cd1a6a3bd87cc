"""Prequential accuracy table: dataset x order x model x metric, with seconds.

Each run is ``streamlabels replay`` in its own process (so memory and time are its own), over the
whole stream, in file order and in a fixed shuffled order. A run that exceeds ``--timeout`` is
recorded as not finished, never as a partial score.

    STREAMLABELS_DATA=../shared/datasets python benchmarks/accuracy.py \
        --datasets flags,emotions,yeast,scene,medical,enron --jobs 2

Writes ``benchmarks/results/accuracy.json`` and ``accuracy.md`` (merging with earlier runs, so
slow datasets can be added later).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
DEFAULT_MODELS = "ihomer,br-lr,br-ht,br-nb,br-knn,cc-lr,lp-ht,prev-ls,majority-ls"
SHUFFLE_SEED = 1
SHOWN = ("micro_f1", "subset_accuracy", "macro_f1", "hamming_loss", "example_f1")


def run_one(dataset: str, model: str, shuffled: bool, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run.json"
        command = [sys.executable, "-m", "streamlabels.cli", "replay", dataset, "--model", model,
                   "--quiet", "--out", str(out)]
        if shuffled:
            command += ["--shuffle", str(SHUFFLE_SEED)]
        key = {"dataset": dataset, "model": model, "order": "shuffled" if shuffled else "file"}
        try:
            subprocess.run(command, check=True, timeout=timeout, capture_output=True)
        except subprocess.TimeoutExpired:
            return {**key, "status": f"not finished in {timeout:.0f} s"}
        except subprocess.CalledProcessError as error:
            return {**key, "status": f"failed: {error.stderr.decode()[-300:]}"}
        report = json.loads(out.read_text())
        return {
            **key,
            "status": "ok",
            "n_instances": report["n_instances"],
            "seconds": round(report["seconds"], 2),
            "instances_per_second": round(report["instances_per_second"], 1),
            "peak_memory_mb": round(report["peak_memory_mb"], 1),
            "metrics": report["metrics"],
        }


def to_markdown(rows: list[dict]) -> str:
    lines = ["| dataset | order | model | " + " | ".join(SHOWN) + " | seconds |",
             "|---|---|---|" + "---:|" * (len(SHOWN) + 1)]
    for row in sorted(rows, key=lambda r: (r["dataset"], r["order"], r["model"])):
        if row["status"] != "ok":
            cells = ["–"] * len(SHOWN) + [row["status"]]
        else:
            cells = [f"{row['metrics'][k]:.4f}" for k in SHOWN] + [f"{row['seconds']:.1f}"]
        lines.append(f"| {row['dataset']} | {row['order']} | {row['model']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", required=True, help="comma-separated dataset names")
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--orders", default="file,shuffled")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    jobs = [(d, m, order == "shuffled", args.timeout)
            for d in args.datasets.split(",") for order in args.orders.split(",")
            for m in args.models.split(",")]
    RESULTS.mkdir(exist_ok=True)
    store = RESULTS / "accuracy.json"
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for row in pool.map(lambda job: run_one(*job), jobs):
            rows = json.loads(store.read_text())["runs"] if store.exists() else []
            rows = [r for r in rows if (r["dataset"], r["model"], r["order"])
                    != (row["dataset"], row["model"], row["order"])] + [row]
            store.write_text(json.dumps({"shuffle_seed": SHUFFLE_SEED, "runs": rows}, indent=1))
            (RESULTS / "accuracy.md").write_text(to_markdown(rows))
            print(row["dataset"], row["order"], row["model"], row.get("metrics", {}).get(
                "micro_f1", row["status"]), flush=True)


if __name__ == "__main__":
    main()
