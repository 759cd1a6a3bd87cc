"""Speed of iHOMER beside river's binary relevance and MOA's multi-label Hoeffding tree.

Two parts, both written to ``results/speed.json`` and ``results/speed.md``:

1. ``streamlabels bench`` on each dataset, one process per dataset, all models on the same
   in-memory stream in file order. iHOMER runs the whole stream; river's ``br-lr`` and MOA's
   ``moa-mlht`` run only the first N instances (``NAME:N`` caps, listed in the tables) because
   they are 10-1000 times slower. ``ihomer:N`` repeats iHOMER on the same prefix, so that speed
   and accuracy can be compared on the same instances.
2. Start-up cost of iHOMER in a fresh process: once with an empty numba cache
   (``NUMBA_CACHE_DIR`` pointing at a new folder: every kernel compiles) and once more with the
   cache that run filled. ``ready_s`` is the age of the process when the first ten instances are
   done (interpreter start, imports, model set-up and the first instances; reading the data is
   left out), after which instances go at the steady rate.

Run ``STREAMLABELS_DATA=../shared/datasets python benchmarks/speed.py`` (about ten minutes on two
cores).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

RESULTS = pathlib.Path(__file__).parent / "results"
DATASETS = "tmc2007-500,imdb,delicious"
CAPS = {
    "tmc2007-500": {"br-lr": 2000, "moa-mlht": 2000},
    "imdb": {"br-lr": 2000, "moa-mlht": 2000},
    "delicious": {"br-lr": 200, "moa-mlht": 500},
}
"""Instances for the slow models by dataset (river br-lr fits 983 logistic regressions per
instance on delicious, hence 200 there)."""

STARTUP_SNIPPET = """
import json, os, sys, time

def age():
    with open("/proc/self/stat") as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")

age_at_script = age()
t0 = time.perf_counter()
from streamlabels.cli.bench import bench_model, load_instances, numba_cache_state
from streamlabels.evaluate.prequential import prequential  # bench imports its loop lazily
from streamlabels.ihomer import IHOMER
from streamlabels.streams import datasets
import_s = time.perf_counter() - t0
cache = numba_cache_state()
stream = datasets.load(sys.argv[1])
t1 = time.perf_counter()
instances, _ = load_instances(stream, int(sys.argv[2]))
load_s = time.perf_counter() - t1
result = bench_model("ihomer", instances, stream.feature_names, stream.label_names,
                     sparse=stream.sparse)
first_ten = result["warmup_s"] + 10 * result["steady_us_per_instance"] / 1e6
print(json.dumps({
    "numba_cache": cache,
    "interpreter_start_s": age_at_script,
    "import_s": import_s,
    "load_s": load_s,
    "setup_s": result["setup_s"],
    "first_instance_s": result["first_instance_s"],
    "first_10_s": first_ten,
    "warmup_s": result["warmup_s"],
    "numba_compile_s": result["numba"]["compile_s"],
    "numba_compilations": result["numba"]["compilations"],
    "steady_us_per_instance": result["steady_us_per_instance"],
    "instances_per_second": result["instances_per_second"],
    "ready_s": age_at_script + import_s + result["setup_s"] + first_ten,
}))
"""


def run_bench(dataset: str, caps: dict[str, int], env: dict) -> dict:
    cap = max(caps.values())
    models = ["ihomer", f"ihomer:{cap}", *(f"{name}:{n}" for name, n in caps.items())]
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "bench.json"
        command = [sys.executable, "-m", "streamlabels.cli", "bench", dataset, "--models",
                   ",".join(models), "--out", str(out)]
        print("$", "streamlabels", *command[3:-2], flush=True)
        subprocess.run(command, env=env, check=True)
        return json.loads(out.read_text())


def run_startup(dataset: str, n: int, cache_dir: str, env: dict) -> dict:
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", STARTUP_SNIPPET, dataset, str(n)],
        env={**env, "NUMBA_CACHE_DIR": cache_dir},
        check=True,
        capture_output=True,
        text=True,
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    report["process_wall_s"] = time.perf_counter() - started
    return report


def markdown(report: dict) -> str:
    lines = ["# Speed: iHOMER, river br-lr, MOA multi-label Hoeffding tree", ""]
    env = report["benches"][0]["environment"]
    lines += [
        f"{env['cpus']} CPUs, Python {env['python']}, numba {env['numba']}, river "
        f"{env['river']}; file order, seed 42; the stream is held in memory before timing. "
        "`× ihomer` is instances/s over iHOMER's on the whole stream. Warm-up: the first 10 "
        "instances minus 10 × the steady per-instance time. Peak RSS Δ: resident memory at its "
        "peak during the model's run minus before it was built (MOA's includes growing the "
        "JVM heap). Rows marked (first N) ran on the first N instances only. Timings are "
        "wall-clock: when the machine is shared, the load average recorded with each table "
        "says how busy it was.",
        "",
    ]
    for bench in report["benches"]:
        lines += [
            f"## {bench['stream']} ({bench['n_instances']:,} instances, {bench['n_features']} "
            f"features, {bench['n_labels']} labels, numba cache {bench['numba_cache']['state']})",
            f"load average at start: {bench['environment'].get('load_average_at_start')}",
            "",
            "| model | instances | inst/s | × ihomer | warm-up s | numba compile s | "
            "peak RSS Δ MB | micro-F1 | macro-F1 | subset acc | Hamming |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for m in bench["models"]:
            name = m["model"] + (f" (first {m['cap']:,})" if m["cap"] else "")
            metrics = m["metrics"]
            lines.append(
                f"| {name} | {m['n_instances']:,} | {m['instances_per_second']:,.0f} | "
                f"{m['ratio_vs_first']['instances_per_second']:.3g} | {m['warmup_s']:.3f} | "
                f"{m['numba']['compile_s']:.2f} | {m['memory']['peak_rss_delta_mb']:.0f} | "
                f"{metrics['micro_f1']:.4f} | {metrics['macro_f1']:.4f} | "
                f"{metrics['subset_accuracy']:.4f} | {metrics['hamming_loss']:.4f} |"
            )
        lines.append("")
    lines += [
        "## iHOMER start-up in a fresh process",
        "",
        "| dataset | numba cache | ready s | interpreter s | imports s | set-up s | first 10 "
        "instances s | numba compile s (count) | steady inst/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report["startup"]:
        lines.append(
            f"| {s['dataset']} (first {s['n']:,}) | {s['numba_cache']['state']} | "
            f"{s['ready_s']:.2f} | {s['interpreter_start_s']:.2f} | {s['import_s']:.2f} | "
            f"{s['setup_s']:.3f} | {s['first_10_s']:.2f} | {s['numba_compile_s']:.2f} "
            f"({s['numba_compilations']}) | {1e6 / s['steady_us_per_instance']:,.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=DATASETS)
    parser.add_argument("--startup", default="yeast:2000,tmc2007-500:2000",
                        help="DATASET:N pairs for the fresh-process start-up runs")
    args = parser.parse_args()
    env = dict(os.environ)
    report = {"benches": [], "startup": [], "caps": CAPS}
    for dataset in args.datasets.split(","):
        report["benches"].append(run_bench(dataset, CAPS[dataset], env))
    for item in args.startup.split(","):
        dataset, n = item.split(":")
        with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache_dir:
            for _ in ("cold", "warm"):
                run = run_startup(dataset, int(n), cache_dir, env)
                report["startup"].append({"dataset": dataset, "n": int(n), **run})
                print(dataset, run["numba_cache"]["state"], f"ready {run['ready_s']:.2f} s",
                      flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "speed.json").write_text(json.dumps(report, indent=1))
    (RESULTS / "speed.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
