"""Calibration table: how well the default iHOMER's P(True) match how often labels are true.

Each run is ``streamlabels replay`` in its own process over the whole stream, in file order and
in a fixed shuffled order, as in ``accuracy.py``. iHOMER reports the Brier score and the expected
calibration error (10 equal-width bins over every (instance, label) probability,
:class:`streamlabels.evaluate.CalibrationMetrics`) of each instance's scores before it is learned,
beside micro-F1 and the Hamming loss (the Brier score of 0/1 answers, a yardstick for it).

    STREAMLABELS_DATA=../shared/datasets python benchmarks/calibration.py --jobs 2

Writes ``benchmarks/results/calibration.json`` (with each run's reliability bins) and
``calibration.md``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
from pathlib import Path

from accuracy import SHUFFLE_SEED, replay  # this folder's replay runner

RESULTS = Path(__file__).parent / "results"
DATASETS = "flags,emotions,yeast,scene,medical,enron,tmc2007-500,bibtex,imdb,delicious"
SHOWN = ("brier", "ece", "micro_f1", "hamming_loss")


def run_one(dataset: str, model: str, shuffled: bool, timeout: float) -> dict:
    key, report = replay(dataset, model, shuffled, timeout, "--calibration")
    if report is None:
        return key
    return {
        **key,
        "n_instances": report["n_instances"],
        "n_labels": report["n_labels"],
        "seconds": round(report["seconds"], 2),
        "metrics": {k: report["metrics"][k] for k in SHOWN},
        "reliability": report["reliability"],
    }


def to_markdown(rows: list[dict]) -> str:
    """One line per (dataset, order), datasets in the order given."""
    lines = ["| dataset | order | model | Brier | ECE (10 bins) | micro-F1 | Hamming loss |",
             "|---|---|---|---:|---:|---:|---:|"]
    for row in rows:
        if row["status"] != "ok":
            cells = ["–"] * (len(SHOWN) - 1) + [row["status"]]
        else:
            cells = [f"{row['metrics'][k]:.4f}" for k in SHOWN]
        lines.append(f"| {row['dataset']} | {row['order']} | {row['model']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=DATASETS, help="comma-separated dataset names")
    parser.add_argument("--model", default="ihomer", help="the model replayed (default: ihomer)")
    parser.add_argument("--orders", default="file,shuffled")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    jobs = [(d, args.model, order == "shuffled", args.timeout)
            for d in args.datasets.split(",") for order in args.orders.split(",")]
    rows = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for row in pool.map(lambda job: run_one(*job), jobs):  # in the order of the jobs
            rows.append(row)
            print(row["dataset"], row["order"], row.get("metrics", row["status"]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "calibration.json").write_text(json.dumps(
        {"shuffle_seed": SHUFFLE_SEED, "n_bins": 10, "runs": rows}, indent=1))
    (RESULTS / "calibration.md").write_text(to_markdown(rows))


if __name__ == "__main__":
    main()
