"""Prequential accuracy table: dataset x order x model x metric, with seconds.

Each run is ``streamlabels replay`` in its own process (so memory and time are its own), over the
whole stream, in file order and in a fixed shuffled order. A run that exceeds ``--timeout`` is
recorded as not finished, never as a partial score.

    STREAMLABELS_DATA=../shared/datasets python benchmarks/accuracy.py \
        --datasets flags,emotions,yeast,scene,medical,enron --jobs 2

Writes ``benchmarks/results/accuracy.json`` and ``accuracy.md`` (merging with earlier runs, so
slow datasets can be added later), and ``accuracy_table.md``: per dataset and order, the default
iHOMER, each ablation of its decision layer, MAJ-LS, PREV-LS and the best peer of
``best-peers.json`` (``--peers``, default: beside the data folder), in micro-F1, macro-F1, subset
accuracy and instances/s, with the count of pairs where the default is ahead of the best peer
and below a label-set baseline:

    STREAMLABELS_DATA=../shared/datasets python benchmarks/accuracy.py --models ablations \
        --datasets flags,emotions,yeast,scene,medical,enron,tmc2007-500,bibtex,imdb,delicious

A model ``NAME@TARGET`` is ``replay --model NAME --target TARGET``; ``--models targets`` runs
the default under every decision target beside MAJ-LS and PREV-LS, and writes
``targets_table.md``: each target's own metric against the best peer and both baselines.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
DEFAULT_MODELS = "ihomer,br-lr,br-ht,br-nb,br-knn,cc-lr,lp-ht,prev-ls,majority-ls"
ABLATIONS = (
    "ihomer", "ihomer-fixed-threshold", "ihomer-no-context", "ihomer-no-knn", "ihomer-uniform",
    "ihomer-routing",
)
BASELINES = ("majority-ls", "prev-ls")
TABLE_METRICS = ("micro_f1", "macro_f1", "subset_accuracy")
PEER_KEYS = {"subset_accuracy": "subset_acc"}  # best-peers.json's name of the metric
SHUFFLE_SEED = 1
SHOWN = ("micro_f1", "subset_accuracy", "macro_f1", "hamming_loss", "example_f1")
TARGET_METRICS = {"micro_f1": "micro_f1", "macro_f1": "macro_f1", "example_f1": "example_f1",
                  "hamming": "hamming_loss", "subset": "subset_accuracy"}
"""Each decision target (``IHOMER(target=...)``) and the metric it is for."""
LOWER_IS_BETTER = {"hamming_loss"}


def replay(dataset: str, model: str, shuffled: bool, timeout: float,
           *options: str) -> tuple[dict, dict | None]:
    """``streamlabels replay`` of ``model`` (``NAME@TARGET``: ``--target TARGET``) on
    ``dataset`` in its own process, with ``options``: the run's key (dataset, model, order) with
    a ``status``, and the replay's report (None when it did not finish)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run.json"
        name, _, target = model.partition("@")
        command = [sys.executable, "-m", "streamlabels.cli", "replay", dataset, "--model", name,
                   "--quiet", "--out", str(out), *options]
        if target:
            command += ["--target", target]
        if shuffled:
            command += ["--shuffle", str(SHUFFLE_SEED)]
        key = {"dataset": dataset, "model": model, "order": "shuffled" if shuffled else "file"}
        try:
            subprocess.run(command, check=True, timeout=timeout, capture_output=True)
        except subprocess.TimeoutExpired:
            return {**key, "status": f"not finished in {timeout:.0f} s"}, None
        except subprocess.CalledProcessError as error:
            return {**key, "status": f"failed: {error.stderr.decode()[-300:]}"}, None
        return {**key, "status": "ok"}, json.loads(out.read_text())


def run_one(dataset: str, model: str, shuffled: bool, timeout: float) -> dict:
    key, report = replay(dataset, model, shuffled, timeout)
    if report is None:
        return key
    return {
        **key,
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


def issue_table(rows: list[dict], peers: dict) -> str:
    """The default against its ablations, the label-set baselines and the best peer."""
    runs = {(r["dataset"], r["order"], r["model"]): r for r in rows if r["status"] == "ok"}
    size = {d: r["n_instances"] for (d, _, _), r in runs.items()}
    datasets = sorted(size, key=lambda d: (size[d], d))
    models = [m for m in (*ABLATIONS, *BASELINES) if any(k[2] == m for k in runs)]
    out, ahead, below, pairs = [], 0, 0, 0
    for metric in TABLE_METRICS:
        out += [f"#### {metric}", "", "| dataset | order | " + " | ".join(models)
                + " | best peer |", "|---|---|" + "---:|" * (len(models) + 1)]
        for d in datasets:
            for order in ("file", "shuffled"):
                cells = [runs.get((d, order, m), {}).get("metrics", {}).get(metric) for m in models]
                peer = peers.get("file" if order == "file" else "shuffle:1", {}).get(d, {})
                best = peer.get(PEER_KEYS.get(metric, metric), {})
                shown = [f"{c:.4f}" if c is not None else "–" for c in cells]
                peer_cell = f"{best['value']:.4f} ({best['by']})" if best else "–"
                out.append(f"| {d} | {order} | " + " | ".join(shown) + f" | {peer_cell} |")
                default = cells[0]
                if metric == "micro_f1" and default is not None:
                    pairs += 1
                    ahead += best.get("value", -1.0) < default
                    below += any(runs.get((d, order, b), {}).get("metrics", {}).get(metric, -1.0)
                                 > default for b in BASELINES)
        out.append("")
    out += ["#### instances/s", "", "| dataset | order | " + " | ".join(models) + " |",
            "|---|---|" + "---:|" * len(models)]
    for d in datasets:
        for order in ("file", "shuffled"):
            speeds = [runs.get((d, order, m), {}).get("instances_per_second") for m in models]
            out.append(f"| {d} | {order} | "
                       + " | ".join("–" if v is None else f"{v:,.0f}" for v in speeds) + " |")
    summary = (f"Default (`ihomer`) micro-F1 ahead of the best peer on {ahead} of {pairs} "
               f"(dataset, order) pairs; below MAJ-LS or PREV-LS on {below}.")
    return summary + "\n\n" + "\n".join(out) + "\n"


def targets_table(rows: list[dict], peers: dict) -> str:
    """Each target's own metric, the default's, both label-set baselines' and the best peer's,
    per dataset and order; with the count of pairs ahead of the best peer and of both
    baselines."""
    runs = {(r["dataset"], r["order"], r["model"]): r["metrics"] for r in rows
            if r["status"] == "ok"}
    size = {r["dataset"]: r["n_instances"] for r in rows if r["status"] == "ok"}
    datasets = sorted(size, key=lambda d: (size[d], d))
    out, summary = [], []
    for target, metric in TARGET_METRICS.items():
        model = "ihomer" if target == "micro_f1" else f"ihomer@{target}"
        if not any(k[2] == model for k in runs):
            continue
        better = (lambda a, b: a < b) if metric in LOWER_IS_BETTER else (lambda a, b: a > b)
        out += [f"#### target {target}: {metric}", "",
                f"| dataset | order | {model} | ihomer | majority-ls | prev-ls | best peer |",
                "|---|---|---:|---:|---:|---:|---:|"]
        ahead = not_below = pairs = with_peer = 0
        for d in datasets:
            for order in ("file", "shuffled"):
                value = runs.get((d, order, model), {}).get(metric)
                if value is None:
                    continue
                others = [runs.get((d, order, m), {}).get(metric)
                          for m in ("ihomer", *BASELINES)]
                peer = peers.get("file" if order == "file" else "shuffle:1", {}).get(d, {})
                best = peer.get(PEER_KEYS.get(metric, metric), {})
                pairs += 1
                not_below += not any(b is not None and better(b, value) for b in others[1:])
                if best:
                    with_peer += 1
                    ahead += better(value, best["value"])
                cells = [f"{c:.4f}" if c is not None else "–" for c in (value, *others)]
                peer_cell = f"{best['value']:.4f} ({best['by']})" if best else "–"
                out.append(f"| {d} | {order} | " + " | ".join(cells) + f" | {peer_cell} |")
        out.append("")
        summary.append(f"- `{target}` ({metric}): ahead of the best peer on {ahead} of "
                       f"{with_peer} pairs with a peer; not below MAJ-LS nor PREV-LS on "
                       f"{not_below} of {pairs}.")
    return "\n".join(summary) + "\n\n" + "\n".join(out) + "\n"


def _peers_file(path: str | None) -> Path | None:
    if path:
        return Path(path)
    data = os.environ.get("STREAMLABELS_DATA")
    candidate = Path(data).parent / "reference" / "best-peers.json" if data else None
    return candidate if candidate and candidate.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", required=True, help="comma-separated dataset names")
    parser.add_argument("--models", default=DEFAULT_MODELS,
                        help="comma-separated names (NAME@TARGET: under that decision target), "
                        "'ablations' (the default iHOMER, its ablations, majority-ls and "
                        "prev-ls) or 'targets' (the default under every target, majority-ls "
                        "and prev-ls)")
    parser.add_argument("--peers", help="best-peers.json (default: beside STREAMLABELS_DATA)")
    parser.add_argument("--orders", default="file,shuffled")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if args.models == "ablations":
        args.models = ",".join((*ABLATIONS, *BASELINES))
    elif args.models == "targets":
        targets = [f"ihomer@{t}" for t in TARGET_METRICS if t != "micro_f1"]
        args.models = ",".join(("ihomer", *targets, *BASELINES))
    peers_file = _peers_file(args.peers)
    peers = json.loads(peers_file.read_text()) if peers_file else {}

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
            (RESULTS / "accuracy_table.md").write_text(issue_table(rows, peers))
            (RESULTS / "targets_table.md").write_text(targets_table(rows, peers))
            print(row["dataset"], row["order"], row["model"], row.get("metrics", {}).get(
                "micro_f1", row["status"]), flush=True)


if __name__ == "__main__":
    main()
