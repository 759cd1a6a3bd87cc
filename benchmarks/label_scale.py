"""Cost against the label count: 1,000 to 100,000 labels, power-law frequencies, a few positives.

A planted stream (:func:`planted_stream`, seeded): label ``y{r}`` is drawn with probability
proportional to 1 / (r + 1) (Zipf, exponent 1), 1 + Poisson(2.5) draws per instance (repeats
dropped; the table gives the positives per row); every label owns three
of 1,000 features ("f0" ...), each present with probability 0.9 when the label is positive, and
five features come at random. The feature count is fixed, so only the label count moves. ``y``
is the set of positive labels; the model answers with
:meth:`~streamlabels.ihomer.IHOMER.predict_positives_one`, test then train.

Each (label count, model) runs in a fresh process, models built as ``streamlabels replay``
builds them for a sparse stream (``scaling="sparse"``). Reported: instances/s over the rows
after the first half (steady state; the compiled code is loaded before, its time reported
apart), micro-F1 over those rows (the model learns something), memory as the process's peak
RSS above its RSS just before the model was built (the stream's rows included before), the
checkpoint's size (``len(dumps(model.get_state()))``), and where a row's time goes: cProfile
over ``--profile-rows`` further rows, own time summed by component (cProfile slows the Python
parts, so read the split, not the sum).

Usage::

    python benchmarks/label_scale.py [--labels 1000,10000,100000] [--rows 4000,3000,1000]
        [--models ihomer,ihomer-routing] [--profile-rows 200]

Writes ``benchmarks/results/label_scale.json`` and ``benchmarks/results/label_scale.md``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PAGE = os.sysconf("SC_PAGE_SIZE")

N_FEATURES = 1_000
SIGNATURE = 3  # features each label owns
PRESENT = 0.9  # chance that an owned feature shows when its label is positive
NOISE = 5  # random features per instance
EXTRA_DRAWS = 2.5  # Poisson mean of the label draws after the first (one most frequent set size)

COMPONENTS = {  # source path fragment -> component, first match wins
    "kernels/linear.py": "linear learners (compiled)",
    "kernels/experts.py": "decision layer (compiled)",
    "kernels/knn.py": "decision layer (compiled)",
    "kernels/targets.py": "decision layer (compiled)",
    "kernels/decision.py": "routing rule (compiled)",
    "streamlabels/labeltree/": "label tree (Python)",
}
OTHER = "Python glue (numpy included)"


def planted_stream(n_labels: int, n_instances: int, seed: int = 0) -> Iterator[tuple[dict, set]]:
    """``(x, positives)`` pairs of the planted stream described above."""
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(1.0 / np.arange(1, n_labels + 1))
    cumulative /= cumulative[-1]
    owned = rng.integers(0, N_FEATURES, size=(n_labels, SIGNATURE))
    for _ in range(n_instances):
        draws = np.searchsorted(cumulative, rng.random(1 + rng.poisson(EXTRA_DRAWS)), "right")
        labels = np.unique(np.minimum(draws, n_labels - 1))
        shown = owned[labels][rng.random((len(labels), SIGNATURE)) < PRESENT]
        columns = np.union1d(shown, rng.integers(0, N_FEATURES, NOISE))
        yield {f"f{j}": 1.0 for j in columns.tolist()}, {f"y{i}" for i in labels.tolist()}


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _build(model_name: str, n_labels: int):
    from streamlabels.cli.models import make_model

    features = [f"f{j}" for j in range(N_FEATURES)]
    return make_model(model_name, features, [f"y{i}" for i in range(n_labels)], sparse=True)


def _component(filename: str) -> str:
    return next((name for part, name in COMPONENTS.items() if part in filename), OTHER)


def measure(n_labels: int, model_name: str, n_rows: int, profile_rows: int) -> dict:
    """One (label count, model) run; meant for a fresh process (the RSS figures)."""
    rows = list(planted_stream(n_labels, n_rows + profile_rows))
    started = time.perf_counter()
    warm = _build(model_name, 20)
    for x, y in planted_stream(20, 300, seed=1):  # past a restructuring: every kernel loaded
        warm.predict_positives_one(x)
        warm.learn_one(x, y)
    load_s = time.perf_counter() - started
    del warm
    before = rss_bytes()
    model = _build(model_name, n_labels)
    steady = n_rows // 2
    tp = fp = fn = 0
    started = time.perf_counter()
    for i, (x, y) in enumerate(rows[:n_rows]):
        if i == steady:
            first_half_s, started = time.perf_counter() - started, time.perf_counter()
        predicted = model.predict_positives_one(x)
        if i >= steady:
            tp, fp, fn = tp + len(predicted & y), fp + len(predicted - y), fn + len(y - predicted)
        model.learn_one(x, y)
    steady_s = time.perf_counter() - started
    peak, after = peak_rss_bytes() - before, rss_bytes() - before
    profiler = cProfile.Profile()
    profiler.enable()
    for x, y in rows[n_rows:]:
        model.predict_positives_one(x)
        model.learn_one(x, y)
    profiler.disable()
    split: dict[str, float] = {}
    for (filename, _, _), (_, _, own, _, _) in pstats.Stats(profiler).stats.items():
        split[_component(filename)] = split.get(_component(filename), 0.0) + own
    started = time.perf_counter()
    state_bytes = len(_dumps(model.get_state()))
    size = model.model_size()
    return {
        "labels": n_labels, "model": model_name, "rows": n_rows,
        "positives_per_row": sum(len(y) for _, y in rows) / len(rows),
        "inst_per_s_first_half": steady / first_half_s,
        "inst_per_s": (n_rows - steady) / steady_s,
        "micro_f1_second_half": 2 * tp / (2 * tp + fp + fn) if tp else 0.0,
        "peak_rss_growth_mb": peak / 2**20, "rss_growth_mb": after / 2**20,
        "state_mb": state_bytes / 2**20, "state_s": time.perf_counter() - started,
        "groups": size["groups"], "tree_bytes": size["tree_bytes"],
        "profile_ms_per_row": {k: 1e3 * v / profile_rows for k, v in sorted(split.items())},
        "code_load_s": load_s,
    }


def _dumps(state) -> bytes:
    from streamlabels.state import dumps

    return dumps(state)


def markdown(results: list[dict], command: str, load: str) -> str:
    lines = [
        "# Cost against the label count (`benchmarks/label_scale.py`)", "",
        f"`{command}`; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores; load average before the run: {load}.", "",
        "| labels | model | rows | positives/row | inst/s (first half) | inst/s (second half) | "
        "micro-F1 (second half) | peak RSS growth MiB | checkpoint MiB | groups |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['labels']:,} | {r['model']} | {r['rows']:,} | {r['positives_per_row']:.2f} "
            f"| {r['inst_per_s_first_half']:.1f} "
            f"| {r['inst_per_s']:.1f} | {r['micro_f1_second_half']:.3f} | "
            f"{r['peak_rss_growth_mb']:.0f} | {r['state_mb']:.1f} | {r['groups']} |"
        )
    components = sorted({c for r in results for c in r["profile_ms_per_row"]})
    lines += ["", "ms per row under cProfile, own time by component:", "",
              "| labels | model | " + " | ".join(components) + " |",
              "|---:|---|" + "---:|" * len(components)]
    for r in results:
        cells = " | ".join(f"{r['profile_ms_per_row'].get(c, 0.0):.2f}" for c in components)
        lines.append(f"| {r['labels']:,} | {r['model']} | {cells} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default="1000,10000,100000")
    parser.add_argument("--rows", default="4000,3000,1000", help="rows per label count")
    parser.add_argument("--models", default="ihomer,ihomer-routing")
    parser.add_argument("--profile-rows", type=int, default=200)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # LABELS,MODEL,ROWS: a child's run
    args = parser.parse_args()
    if args.one:
        n_labels, model_name, n_rows = args.one.split(",")
        print(json.dumps(measure(int(n_labels), model_name, int(n_rows), args.profile_rows)))
        return
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    results = []
    for n_labels, n_rows in zip(args.labels.split(","), args.rows.split(","), strict=True):
        for model_name in args.models.split(","):
            child = [sys.executable, __file__, "--one", f"{n_labels},{model_name},{n_rows}",
                     "--profile-rows", str(args.profile_rows)]
            out = subprocess.run(child, check=True, capture_output=True, text=True).stdout
            results.append(json.loads(out.splitlines()[-1]))
            r = results[-1]
            print(f"{r['labels']:>7,} {r['model']:15s} {r['inst_per_s']:8.1f} inst/s "
                  f"peak +{r['peak_rss_growth_mb']:.0f} MiB, checkpoint {r['state_mb']:.1f} MiB, "
                  f"micro-F1 {r['micro_f1_second_half']:.3f}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "label_scale.json").write_text(json.dumps(results, indent=1))
    command = "python benchmarks/" + " ".join([Path(__file__).name, *sys.argv[1:]])
    (RESULTS / "label_scale.md").write_text(markdown(results, command, load))


if __name__ == "__main__":
    main()
