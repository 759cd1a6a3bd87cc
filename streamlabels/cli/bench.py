"""Speed, compile cost, memory and accuracy of several models on one stream, in one process.

Every model sees the same instances: the stream is read into memory once, before any timing, so
file reading and parsing are not measured (as arrays; a model that takes dicts gets them made
before its clock starts). Each model then runs in :func:`streamlabels.evaluate.prequential`'s
test-then-train loop, the one ``replay`` runs (window by window for a model with
``predict_learn_many``, else instance by instance), with the same metrics, and is measured:

- ``instances_per_second``: instances over the wall time of that loop (predict, score, learn,
  and the loop's own metric history, one point per window).
- ``steady_instances_per_second``: the rate after the first ``WARMUP_INSTANCES`` instances. A
  model's whole-run rate includes its warm-up, and in one process the warm-up of code that models
  share (numba kernels, loaded or compiled once) falls on the first model that needs it: the
  ratio of whole-run rates depends on the order the models are listed in, the steady ratio does
  not.
- ``warmup_s``: one-off cost at the start, the time of the first ``WARMUP_INSTANCES`` instances
  minus that many times the steady per-instance time (the mean over the remaining instances).
  For numba models this is mostly compilation or cache loading; for MOA, JVM class loading and
  JIT.
- ``numba.compile_s``: time spent in numba compilations during the run, from numba's own
  ``numba:compile`` events (outermost only). Loading a kernel from numba's disk cache is no
  compilation; a kernel already compiled by an earlier model in the process costs nothing again,
  so the first numba model of a bench pays for the ones that share its kernels.
- ``memory.peak_rss_delta_mb``: the resident set size, sampled after every window of the loop
  (each of the first ``WARMUP_INSTANCES`` instances, then every ``BLOCK``), at its peak minus
  its value before the model was built. It includes the JVM and numba's compiled code; memory
  freed by an earlier model and reused lowers the figure of a later one.
  ``memory.tracemalloc_peak_mb`` (``--tracemalloc``) comes from a second, untimed run of a fresh
  model under :mod:`tracemalloc`: Python and numpy allocations only, never the JVM's heap.
- ``model_size``: the model's ``model_size()``, where it has one.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import resource
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from streamlabels.cli.commands import add_command, check_positive
from streamlabels.cli.models import add_target_argument, check_models, make_model

# numpy, the prequential loop and the arrays are imported by the functions that use them: the
# command line imports this module to build its parser, and must start fast (`streamlabels models`).
if TYPE_CHECKING:
    from streamlabels.streams.arrays import ArrayStream

__all__ = ["bench", "bench_model", "numba_cache_state", "parse_models"]

WARMUP_INSTANCES = 10
BLOCK = 500  # instances per window after the warm-up: prequential's default
HEADLINE_METRICS = ("micro_f1", "macro_f1", "subset_accuracy", "hamming_loss")

EXAMPLES = """examples:
  STREAMLABELS_DATA=../shared/datasets streamlabels bench yeast --models ihomer,br-lr --out b.json
  streamlabels bench imdb --models ihomer,br-lr:2000,moa-mlht:5000 --out imdb.json
                                     # NAME:N runs that model on the first N instances only
  streamlabels bench tmc2007-500 --models ihomer,moa-mlht --n 3000 --shuffle 1 --tracemalloc
"""


def parse_models(spec: str) -> list[tuple[str, int | None]]:
    """``"a,b:2000"`` -> ``[("a", None), ("b", 2000)]``: names with optional instance caps.

    Examples
    --------
    >>> parse_models("ihomer, br-lr:2000")
    [('ihomer', None), ('br-lr', 2000)]
    >>> parse_models("br-lr:0")
    Traceback (most recent call last):
    ...
    ValueError: bad model spec 'br-lr:0': the cap must be a positive integer
    """
    models = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, _, cap = item.partition(":")
        if cap and (not cap.isdigit() or int(cap) < 1):
            raise ValueError(f"bad model spec {item!r}: the cap must be a positive integer")
        models.append((name, int(cap) if cap else None))
    if not models:
        raise ValueError("no models given")
    return models


def numba_cache_state() -> dict:
    """Where numba caches compiled kernels and how many of this package's are there already.

    ``state`` is "warm" when index files (``*.nbi``) of streamlabels kernels exist, so a fresh
    process loads rather than compiles them. Index files are named after the kernel's module
    (``linear.learn_row-154.py311.nbi``), which is how they are recognised.
    """
    import numba

    package = Path(__file__).parent.parent  # streamlabels/
    modules = {path.stem for path in package.rglob("*.py")}
    where = Path(numba.config.CACHE_DIR) if numba.config.CACHE_DIR else package
    files = [p for p in where.rglob("*.nbi") if p.name.split(".")[0] in modules]
    return {
        "cache_dir": str(where),
        "set_by": "NUMBA_CACHE_DIR" if numba.config.CACHE_DIR else "default (__pycache__)",
        "index_files": len(files),
        "state": "warm" if files else "cold",
    }


def _rss_mb() -> float:
    """The current resident set size (Linux), else the peak so far (what other systems offer)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


class _CompileClock:
    """Sums numba's outermost ``numba:compile`` events (nested ones are inside them)."""

    def __init__(self):
        from numba.core import event

        clock = self

        class Listener(event.Listener):
            def on_start(self, _event):
                if clock.depth == 0:
                    clock.started = time.perf_counter()
                clock.depth += 1

            def on_end(self, _event):
                clock.depth -= 1
                if clock.depth == 0:
                    clock.seconds += time.perf_counter() - clock.started
                    clock.count += 1

        self._event = event
        self._listener = Listener()
        self.depth = 0
        self.started = 0.0
        self.seconds = 0.0
        self.count = 0

    def __enter__(self):
        self._event.register("numba:compile", self._listener)
        return self

    def __exit__(self, *exc):
        self._event.unregister("numba:compile", self._listener)


def _load_loop():
    """:func:`~streamlabels.evaluate.prequential`, its modules and iHOMER's loaded (about 100 MB
    with numba's): before any memory baseline, so that no model's figures include them."""
    import streamlabels.ihomer  # noqa: F401
    from streamlabels.evaluate.prequential import prequential

    return prequential


def _run(prequential, model, data: ArrayStream) -> dict:
    """Run ``model`` test-then-train over ``data`` in the loop of ``prequential``
    (:func:`streamlabels.evaluate.prequential`); returns seconds, timing marks, metrics and peak
    RSS.

    The loop runs in three legs, each resumed from the last one's metric counts (so the metrics
    are those of one uninterrupted run): the first instance, the rest of the first
    ``WARMUP_INSTANCES``, then the rest in windows of ``BLOCK``. The legs time the first instance
    and the warm-up apart. The resident set size is sampled after every window.
    """
    # A model without the batch API takes dicts: made here, before its clock starts.
    source = data if hasattr(model, "predict_learn_many") else list(data)
    peak_rss = _rss_mb()

    def sample(_point):
        nonlocal peak_rss
        peak_rss = max(peak_rss, _rss_mb())

    legs = ((1, 1), (WARMUP_INSTANCES, WARMUP_INSTANCES - 1), (None, BLOCK))  # (end, window)
    seconds, counts = [], None
    for end, window in legs:
        result = prequential(source, model, data.label_names, n=end, window=window,
                             resume=counts, on_window=sample)
        seconds.append(result.seconds)
        counts = result.counts
    return {
        "seconds": sum(seconds),
        "first": seconds[0],
        "warm": seconds[0] + seconds[1],
        "metrics": result.metrics,
        "peak_rss": max(peak_rss, _rss_mb()),
    }


def bench_model(
    name: str,
    data: ArrayStream,
    feature_names: Sequence,
    label_names: Sequence,
    *,
    seed: int = 42,
    sparse: bool = False,
    cap: int | None = None,
    trace_memory: bool = False,
    target: str | None = None,
) -> dict:
    """Build model ``name`` (deciding for ``target``, :func:`~.models.make_model`) and run it
    test-then-train over ``data`` (the first ``cap`` rows)."""
    from streamlabels.streams.arrays import ArrayStream

    prequential = _load_loop()
    labels = list(label_names)
    if cap:
        data = ArrayStream(data.X[:cap], data.Y[:cap], data.feature_names, data.label_names)
    gc.collect()
    rss_before = _rss_mb()
    with _CompileClock() as compiles:
        started = time.perf_counter()
        model = make_model(name, feature_names, labels, seed=seed, sparse=sparse, target=target)
        setup = time.perf_counter() - started
        run = _run(prequential, model, data)
    n = len(data)
    steady = None
    if n > WARMUP_INSTANCES:
        steady = (run["seconds"] - run["warm"]) / (n - WARMUP_INSTANCES)
    size = model.model_size() if hasattr(model, "model_size") else None
    result = {
        "model": name,
        "cap": cap,
        "n_instances": n,
        "seconds": run["seconds"],
        "instances_per_second": n / run["seconds"] if run["seconds"] > 0 else float("inf"),
        "steady_instances_per_second": 1.0 / steady if steady else None,
        "setup_s": setup,
        "first_instance_s": run["first"],
        "warmup_s": run["warm"] - WARMUP_INSTANCES * steady if steady is not None else None,
        "steady_us_per_instance": steady * 1e6 if steady is not None else None,
        "numba": {"compile_s": compiles.seconds, "compilations": compiles.count},
        "memory": {
            "rss_before_mb": rss_before,
            "peak_rss_delta_mb": run["peak_rss"] - rss_before,
            "tracemalloc_peak_mb": None,
        },
        "model_size": size,
        "metrics": run["metrics"],
    }
    del model
    if trace_memory:
        gc.collect()
        tracemalloc.start()
        try:
            model = make_model(name, feature_names, labels, seed=seed, sparse=sparse, target=target)
            _run(prequential, model, data)
            result["memory"]["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()
    return result


def load_instances(
    stream, n: int | None = None, shuffle: int | None = None
) -> tuple[ArrayStream, str]:
    """The stream's instances in memory (the first ``n``; of a fixed permutation with
    ``shuffle``, the one ``streamlabels replay --shuffle`` uses) and the order in words."""
    from streamlabels.streams.arrays import ArrayStream

    if shuffle is None:
        return ArrayStream.read(stream, n), "file"
    data = ArrayStream.read(stream).permuted(shuffle)
    if n is not None:
        data = ArrayStream(data.X[:n], data.Y[:n], data.feature_names, data.label_names)
    return data, f"shuffled (seed {shuffle})"


def _environment() -> dict:
    import numba
    import numpy as np
    import river

    return {
        "python": platform.python_version(),
        "numba": numba.__version__,
        "numpy": np.__version__,
        "river": river.__version__,
        "machine": platform.machine(),
        "system": platform.system(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def bench(
    stream,
    models: Sequence[tuple[str, int | None]],
    *,
    name: str,
    n: int | None = None,
    shuffle: int | None = None,
    seed: int = 42,
    trace_memory: bool = False,
    on_model=None,
    target: str | None = None,
) -> dict:
    """Run every model of ``models`` (name, cap) on the same in-memory copy of ``stream``.

    ``on_model`` is called with each model's result as it finishes (progress displays use it).
    """
    cache = numba_cache_state()
    _load_loop()  # before the data, so that the models' memory is measured on a settled heap
    started = time.perf_counter()
    data, order = load_instances(stream, n, shuffle)
    load_seconds = time.perf_counter() - started
    sparse = bool(getattr(stream, "sparse", False))
    results = []
    for model, cap in models:
        result = bench_model(
            model,
            data,
            stream.feature_names,
            stream.label_names,
            seed=seed,
            sparse=sparse,
            cap=cap,
            trace_memory=trace_memory,
            target=target,
        )
        results.append(result)
        if on_model is not None:
            on_model(result)
    first = results[0]
    for result in results:
        result["ratio_vs_first"] = {
            **{key: _ratio(result[key], first[key])
               for key in ("instances_per_second", "steady_instances_per_second")},
            "peak_rss_delta_mb": _ratio(
                result["memory"]["peak_rss_delta_mb"], first["memory"]["peak_rss_delta_mb"]
            ),
        }
    return {
        "stream": name,
        "order": order,
        "seed": seed,
        "n": n,
        "n_instances": len(data),
        "load_seconds": load_seconds,
        "n_features": len(stream.feature_names),
        "n_labels": len(stream.label_names),
        "sparse": sparse,
        "warmup_instances": WARMUP_INSTANCES,
        "numba_cache": cache,
        "environment": _environment(),
        "definitions": {
            "instances_per_second": "instances / wall time of prequential's test-then-train loop",
            "steady_instances_per_second": f"the same after the first {WARMUP_INSTANCES} "
            "instances (whose code loading falls on the first model that needs the code)",
            "warmup_s": f"time of the first {WARMUP_INSTANCES} instances minus "
            f"{WARMUP_INSTANCES} x the mean per-instance time of the rest",
            "numba.compile_s": "time in numba compilations during the model's build and run",
            "peak_rss_delta_mb": "peak resident set size (sampled after each of the first "
            f"{WARMUP_INSTANCES} instances, then every {BLOCK}) minus the size before the model "
            "was built",
            "tracemalloc_peak_mb": "tracemalloc peak of a second, untimed run (no JVM heap)",
        },
        "models": results,
    }


def _ratio(value: float | None, reference: float | None) -> float | None:
    return value / reference if value is not None and reference and reference > 0 else None


def render_table(report: dict):
    """A rich table of ``report``: one row per model, speed and memory also as ratios."""
    from rich.table import Table

    capped = f"first {report['n']:,} instances (--n)" if report["n"] else "whole stream"
    table = Table(
        title=f"{report['stream']} · {report['order']} · {capped} · numba cache "
        f"{report['numba_cache']['state']} at start",
        caption=f"ratios: vs {report['models'][0]['model']} · steady: after the first "
        f"{report['warmup_instances']} instances (shared code loads for the first model that "
        f"needs it) · warm-up: first "
        f"{report['warmup_instances']} instances minus steady time · RSS Δ: peak minus before",
    )
    columns = (
        "model", "instances", "inst/s", "× first", "steady inst/s", "× first", "warm-up s",
        "numba compile s",
        "peak RSS Δ MB", "× first", "micro-F1", "macro-F1", "subset acc", "Hamming",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "model" else "right")
    for result in report["models"]:
        ratio = result["ratio_vs_first"]
        warmup, steady = result["warmup_s"], result["steady_instances_per_second"]
        metrics = result["metrics"]
        table.add_row(
            result["model"] + (f" (first {result['cap']:,})" if result["cap"] else ""),
            f"{result['n_instances']:,}",
            f"{result['instances_per_second']:,.0f}",
            _format_ratio(ratio["instances_per_second"]),
            "" if steady is None else f"{steady:,.0f}",
            _format_ratio(ratio["steady_instances_per_second"]),
            "" if warmup is None else f"{warmup:.3f}",
            f"{result['numba']['compile_s']:.2f}",
            f"{result['memory']['peak_rss_delta_mb']:.1f}",
            _format_ratio(ratio["peak_rss_delta_mb"]),
            *(f"{metrics[key]:.4f}" for key in HEADLINE_METRICS),
        )
    return table


def _format_ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}×"


def add_parser(commands) -> None:
    """Add the ``bench`` subcommand to the command line's subparsers."""
    parser = add_command(
        commands,
        "bench",
        "speed, compile time, memory and accuracy of several models on one stream",
        EXAMPLES,
        _run_command,
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("stream", help="dataset name or ARFF path")
    parser.add_argument(
        "--models",
        required=True,
        help="comma-separated model names, each optionally NAME:N to run it on the first N "
        "instances only; ratios are against the first",
    )
    parser.add_argument("--n", type=int, help="load only the first N instances (all models)")
    parser.add_argument("--shuffle", type=int, metavar="SEED", help="bench a fixed permutation")
    parser.add_argument("--seed", type=int, default=42, help="model seed")
    add_target_argument(parser)
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also measure a tracemalloc peak (second run)"
    )
    parser.add_argument("--out", help="write the results as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def _run_command(args) -> int:
    from rich.console import Console

    from streamlabels.streams import datasets

    check_positive(n=args.n)
    models = parse_models(args.models)
    check_models(name for name, _ in models)
    stream = datasets.load(args.stream)
    progress = Console(stderr=True, quiet=args.quiet)
    progress.print(f"loading {args.stream} …")

    def on_model(result):
        progress.print(
            f"{result['model']}: {result['n_instances']:,} instances, "
            f"{result['instances_per_second']:,.0f}/s, micro-F1 {result['metrics']['micro_f1']:.4f}"
        )

    report = bench(
        stream,
        models,
        name=args.stream,
        n=args.n,
        shuffle=args.shuffle,
        seed=args.seed,
        trace_memory=args.tracemalloc,
        on_model=on_model,
        target=args.target,
    )
    Console(width=None if sys.stdout.isatty() else 200).print(render_table(report))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    return 0
