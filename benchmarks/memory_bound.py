"""Is iHOMER's memory bounded? Replay a dataset K times and watch the model's size.

A stream ``K`` times longer than the file is made by replaying the file ``K`` times in a row,
each pass in its own fixed shuffled order (``--order file`` keeps the file order), test-then-train
on every instance. Every ``--every`` instances it records the checkpoint size
(``len(dumps(model.get_state()))``), the bytes of the arrays in that state, the model's deep size
(``sys.getsizeof`` over the objects the model reaches, arrays included: no tracemalloc, which would
slow the run), ``model_size()`` and the process RSS. At the end of each pass it also records which
parts of the state hold those bytes (per state key, and per model attribute) and, outside the
timed run, the tracemalloc size of a model restored from the checkpoint.

Verdict: over the second half of the run (the end of pass ``K//2`` to the end of pass ``K``) the
checkpoint and the deep size must grow by less than ``--tolerance`` (default 1%) per pass, relative
to their size at pass ``K//2``. Replaying the same file saturates what depends on the data alone
(feature names, distinct label sets): what still grows accumulates with time, not with data.

Usage::

    python benchmarks/memory_bound.py DATASET [--passes 10] [--every 2000] [--seed 1]
        [--order shuffled|file] [--limit N] [--tolerance 0.01]

Adds the entry ``DATASET-xK`` to ``benchmarks/results/memory_bound.json`` (other entries are
kept) and rewrites ``benchmarks/results/memory_bound.md`` from all entries. When the model has
``predict_learn_many`` the rows go through it in chunks of ``--every`` rows (a CSR batch in
``stream.feature_names`` order); otherwise through ``predict_one`` and ``learn_one``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from streamlabels.cli.models import make_model
from streamlabels.state import dumps, loads
from streamlabels.streams import datasets
from streamlabels.streams.arrays import ArrayStream

HERE = Path(__file__).resolve().parent
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def array_bytes(value) -> int:
    """Bytes of the numpy arrays inside a nested state value."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sum(array_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(array_bytes(v) for v in value)
    return 0


def deep_bytes(root, seen: set) -> int:
    """``sys.getsizeof`` summed over the objects ``root`` reaches and ``seen`` does not hold yet.

    Containers, numpy arrays (their buffers through ``base``) and streamlabels / river objects are
    followed; classes, functions and compiled dispatchers are not model memory and are skipped.
    """
    total, stack = 0, [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            total += sys.getsizeof(obj)
            if obj.base is not None:
                stack.append(obj.base)
            continue
        if isinstance(obj, dict):
            total += sys.getsizeof(obj)
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            total += sys.getsizeof(obj)
            stack.extend(obj)
        elif isinstance(obj, (str, bytes, int, float, bool, complex, np.generic)) or obj is None:
            total += sys.getsizeof(obj)
        elif type(obj).__module__.split(".")[0] in ("streamlabels", "river"):
            total += sys.getsizeof(obj)
            stack.extend(getattr(obj, "__dict__", {}).values())
            for cls in type(obj).__mro__:
                for slot in getattr(cls, "__slots__", ()):
                    if hasattr(obj, slot):
                        stack.append(getattr(obj, slot))
    return total


def snapshot(model, seen_instances: int, pass_no: int, seconds: float) -> dict:
    """The cheap measurements taken every ``--every`` instances."""
    state = model.get_state()
    return {
        "n": seen_instances,
        "pass": pass_no,
        "seconds": round(seconds, 2),
        "checkpoint_bytes": len(dumps(state)),
        "state_array_bytes": array_bytes(state),
        "model_bytes": deep_bytes(model, set()),
        "rss_bytes": rss_bytes(),
        "events": len(state["events"]),
        **model.model_size(),
    }


def breakdown(model) -> dict:
    """Where the bytes are: checkpoint bytes per state key (one level into dict values), and
    deep bytes per model attribute (an object shared by two attributes counts for the first)."""
    state = model.get_state()
    empty = len(dumps({}))
    per_key = {}
    for key, value in state.items():
        per_key[key] = len(dumps({key: value})) - empty
        if isinstance(value, dict):
            for sub, inner in value.items():
                per_key[f"{key}.{sub}"] = len(dumps({sub: inner})) - empty
    seen: set = set()
    per_attribute = {name: deep_bytes(value, seen) for name, value in vars(model).items()}
    kinds: dict = {}
    for event in state["events"]:
        kinds[event["kind"]] = kinds.get(event["kind"], 0) + 1
    return {
        "checkpoint_bytes_per_key": per_key,
        "model_bytes_per_attribute": per_attribute,
        "events_per_kind": kinds,
    }


def restored_traced_bytes(model) -> int:
    """tracemalloc's count of what a model restored from the checkpoint holds (outside the timed
    run: tracing is slow, and restoring measures the model alone, not the process)."""
    blob = dumps(model.get_state())
    tracemalloc.start()
    twin = type(model).from_state(loads(blob))
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del twin
    return size


def run_pass(model, data: ArrayStream, every: int, batched: bool, on_chunk) -> None:
    """Test-then-train over the rows of ``data`` in order, ``every`` rows per chunk."""
    for X, Y in data.batches(every):
        if batched:
            model.predict_learn_many(X, Y, feature_names=data.feature_names)
        else:
            chunk = ArrayStream(X, Y, data.feature_names, data.label_names)
            for x, y in chunk:
                model.predict_one(x)
                model.learn_one(x, y)
        on_chunk(Y.shape[0])


def growth(pass_ends: list[dict], field: str, first: int, last: int) -> dict:
    """Size at the end of pass ``first`` and ``last``, and the growth per pass between them."""
    a, b = pass_ends[first - 1][field], pass_ends[last - 1][field]
    per_pass = (b - a) / (last - first) if last > first else 0.0
    return {
        f"pass_{first}": a,
        f"pass_{last}": b,
        "bytes_per_pass": round(per_pass, 1),
        "relative_per_pass": round(per_pass / a, 5) if a else None,
    }


def verdict(pass_ends: list[dict], tolerance: float) -> dict:
    """Bounded when the checkpoint and the deep size grow by less than ``tolerance`` per pass over
    the second half of the run; RSS growth is reported beside them but does not decide."""
    k = len(pass_ends)
    first = max(1, k // 2)
    fields = ("checkpoint_bytes", "state_array_bytes", "model_bytes", "rss_bytes")
    rates = {field: growth(pass_ends, field, first, k) for field in fields}
    deciding = [rates[f]["relative_per_pass"] or 0.0 for f in ("checkpoint_bytes", "model_bytes")]
    return {
        "from_pass": first,
        "to_pass": k,
        "tolerance_per_pass": tolerance,
        "growth": rates,
        "bounded": k > first and max(deciding) < tolerance,
    }


def growing_parts(first: dict, last: dict, passes: int) -> list[dict]:
    """State keys and model attributes that are larger at the later pass end, largest growth
    first."""
    rows = []
    tables = {"checkpoint_bytes_per_key": "checkpoint", "model_bytes_per_attribute": "deep"}
    for table, unit in tables.items():
        for name, after in last[table].items():
            before = first[table].get(name, 0)
            if after > before:
                rows.append({
                    "part": name,
                    "measure": unit,
                    "before": before,
                    "after": after,
                    "bytes_per_pass": round((after - before) / passes, 1),
                })
    return sorted(rows, key=lambda r: -r["bytes_per_pass"])


def measure(args) -> dict:
    stream = datasets.load(args.dataset)
    data = ArrayStream.read(stream, args.limit)
    model = make_model(
        args.model,
        stream.feature_names,
        stream.label_names,
        seed=args.model_seed,
        sparse=getattr(stream, "sparse", False),
    )
    batched = hasattr(model, "predict_learn_many")
    rng = np.random.default_rng(args.seed)
    points, pass_ends, breakdowns = [], [], []
    seen, learn_seconds = 0, 0.0
    clock = [time.perf_counter()]

    def on_chunk(rows: int) -> None:
        nonlocal seen, learn_seconds
        seen += rows
        learn_seconds += time.perf_counter() - clock[0]
        points.append(snapshot(model, seen, pass_no, learn_seconds))
        clock[0] = time.perf_counter()

    for pass_no in range(1, args.passes + 1):
        order = np.arange(len(data)) if args.order == "file" else rng.permutation(len(data))
        clock[0] = time.perf_counter()
        shuffled = ArrayStream(data.X[order], data.Y[order], data.feature_names, data.label_names)
        run_pass(model, shuffled, args.every, batched, on_chunk)
        end = dict(points[-1], peak_rss_bytes=peak_rss_bytes())
        end["restored_traced_bytes"] = restored_traced_bytes(model)
        pass_ends.append(end)
        breakdowns.append(breakdown(model))
        print(
            f"pass {pass_no:>2}: n={seen:,} checkpoint {end['checkpoint_bytes'] / 2**20:.2f} MiB, "
            f"deep {end['model_bytes'] / 2**20:.2f} MiB, RSS {end['rss_bytes'] / 2**20:.0f} MiB, "
            f"events {end['events']}, {seen / learn_seconds:,.0f} inst/s",
            flush=True,
        )

    base = 2 if args.passes > 2 else 1
    return {
        "dataset": args.dataset,
        "model": args.model,
        "n_instances": len(data),
        "n_features": len(data.feature_names),
        "n_labels": len(data.label_names),
        "passes": args.passes,
        "order": args.order if args.order == "file" else f"shuffled per pass (seed {args.seed})",
        "model_seed": args.model_seed,
        "every": args.every,
        "path": "predict_learn_many" if batched else "predict_one + learn_one",
        "instances_per_second": round(seen / learn_seconds, 1),
        "verdict": verdict(pass_ends, args.tolerance),
        "growing_from_pass": base,
        "growing": growing_parts(breakdowns[base - 1], breakdowns[-1], args.passes - base),
        "pass_ends": pass_ends,
        "breakdown_first": breakdowns[base - 1],
        "breakdown_last": breakdowns[-1],
        "points": points,
    }


def mib(n: float) -> str:
    return f"{n / 2**20:.2f}"


def markdown(results: dict) -> str:
    """Per run: pass-end sizes (passes 1, 2 and about ten more), the verdict, the growing parts."""
    lines = ["# Memory over a replayed stream (`benchmarks/memory_bound.py`)", ""]
    for r in results.values():
        v = r["verdict"]
        lines += [
            f"## {r['dataset']}: {r['n_instances']:,} instances x {r['passes']} passes, "
            f"{r['order']}, {r['path']}, {r['instances_per_second']:,.0f} inst/s",
            "",
            "| pass | instances | checkpoint MiB | state arrays MiB | deep MiB | restored "
            "(tracemalloc) MiB | RSS MiB | events | tree nodes | groups |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        step = max(1, r["passes"] // 10)
        for p in r["pass_ends"]:
            if p["pass"] > 2 and p["pass"] % step:
                continue
            lines.append(
                f"| {p['pass']} | {p['n']:,} | {mib(p['checkpoint_bytes'])} | "
                f"{mib(p['state_array_bytes'])} | {mib(p['model_bytes'])} | "
                f"{mib(p['restored_traced_bytes'])} | {p['rss_bytes'] / 2**20:.0f} | "
                f"{p['events']} | {p['tree_nodes']} | {p['groups']} |"
            )
        g = v["growth"]
        lines += [
            "",
            f"Growth per pass from pass {v['from_pass']} to {v['to_pass']}: checkpoint "
            f"{_rate(g['checkpoint_bytes'])}, deep size {_rate(g['model_bytes'])}, RSS "
            f"{_rate(g['rss_bytes'])}. Verdict (< {v['tolerance_per_pass']:.0%} per pass): "
            f"**{'bounded' if v['bounded'] else 'NOT bounded'}**.",
            "",
        ]
        growing = [row for row in r["growing"] if row["bytes_per_pass"] >= 1][:12]
        if growing:
            lines += [
                f"Largest growing parts (pass {r['growing_from_pass']} to {r['passes']}; all in "
                "the JSON):",
                "",
                "| part | measure | before | after | bytes/pass |",
                "|---|---|---:|---:|---:|",
            ]
            lines += [
                f"| `{row['part']}` | {row['measure']} | {row['before']:,} | {row['after']:,} | "
                f"{row['bytes_per_pass']:,.0f} |"
                for row in growing
            ]
            lines.append("")
    return "\n".join(lines)


def _rate(g: dict) -> str:
    rel = g["relative_per_pass"]
    return f"{g['bytes_per_pass'] / 1024:+,.1f} KiB ({rel:+.2%})" if rel is not None else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = os.environ.get("STREAMLABELS_DATA", str(HERE.parent.parent / "shared/datasets"))
    parser.add_argument("dataset", help="registered dataset name, e.g. imdb or delicious")
    parser.add_argument("--data", default=default_data, help="directory holding the .arff.gz files")
    parser.add_argument("--model", default="ihomer")
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--every", type=int, default=2000, help="instances between measurements")
    parser.add_argument("--order", choices=("shuffled", "file"), default="shuffled")
    parser.add_argument("--seed", type=int, default=1, help="seed of the per-pass shuffles")
    parser.add_argument("--model-seed", type=int, default=42)
    parser.add_argument("--limit", type=int, help="use only the first N instances of the file")
    parser.add_argument("--tolerance", type=float, default=0.01, help="growth per pass allowed")
    parser.add_argument("--out", default=str(HERE / "results" / "memory_bound.json"))
    args = parser.parse_args()

    os.environ["STREAMLABELS_DATA"] = args.data
    result = measure(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = json.loads(out.read_text()) if out.exists() else {}
    payload.update(python=platform.python_version(), machine=platform.machine())
    payload.setdefault("results", {})[f"{args.dataset}-x{args.passes}"] = result
    out.write_text(json.dumps(payload, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(payload["results"]))

    print(markdown({"": result}).split("\n", 2)[2])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
