"""The ``streamlabels`` command: replay streams prequentially, list datasets, draw reports
(:mod:`.report`), bench models (:mod:`.bench`), list the models (:mod:`.models`).

Errors are one clear line; ``--debug`` shows the full traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from streamlabels.cli.bench import add_parser as add_bench_parser
from streamlabels.cli.commands import add_command, add_registered_commands, check_positive
from streamlabels.cli.compile import add_parser as add_compile_parser
from streamlabels.cli.fetch import add_parser as add_fetch_parser
from streamlabels.cli.models import add_target_argument, check_models, list_models, make_model
from streamlabels.cli.report import VIZ, run_report
from streamlabels.extras import MissingExtra, require

__all__ = ["main"]

EXAMPLES = {
    "replay": """examples:
  streamlabels replay                               # the embedded synthetic drifting stream
  STREAMLABELS_DATA=../shared/datasets streamlabels replay yeast --model br-lr
  streamlabels replay yeast --model ihomer --shuffle 1 --out yeast.json --plot yeast.png
  streamlabels replay my.arff.gz --labels -14       # MULAN file, the last 14 attributes are labels
  streamlabels replay tmc2007-500 --n 10000 --save m.ckpt   # stop after 10,000 instances
  streamlabels replay tmc2007-500 --resume m.ckpt           # go on: the same final metrics
""",
    "datasets": """examples:
  STREAMLABELS_DATA=../shared/datasets streamlabels datasets
  streamlabels datasets fetch --all                 # download and verify every dataset
""",
    "report": """examples:
  streamlabels replay yeast --out yeast.json && streamlabels report yeast.json --out pictures/
  streamlabels report benchmarks/results/accuracy.json --out pictures/
  streamlabels report benchmarks/results/accuracy.json --metric subset_accuracy
  streamlabels report ihomer.json br-lr.json --out cmp.png   # two replays, one picture
  streamlabels report bench.json --out pictures/            # a bar per model of a bench
""",
    "models": """examples:
  streamlabels models                               # every name --model / --models accept
  streamlabels models | grep ' no '                 # the ones that need something installed
""",
}


def _parse_labels(spec: str | None):
    if spec is None:
        return None
    try:
        return int(spec)
    except ValueError:
        pass
    if spec.endswith(".xml"):
        return spec
    return [name.strip() for name in spec.split(",") if name.strip()]


def open_stream(spec: str | None, labels=None, seed: int = 42):
    """The stream named by ``spec``: None for the synthetic default, a dataset name, or a path."""
    if spec is None:
        from streamlabels.streams.synthetic import Drift, SyntheticStream

        return SyntheticStream(
            n_instances=10_000,
            drifts=(Drift(at=4_000, kind="cooccurrence"), Drift(at=7_000, width=1_000)),
            seed=seed,
        )
    from streamlabels.streams import datasets

    return datasets.load(spec, labels=labels)


def _stream_length(stream, spec) -> int | None:
    length = getattr(stream, "n_instances", None)
    if length is None and spec is not None:
        from streamlabels.streams import datasets

        if spec in datasets.names():
            length = datasets.info(spec).n_instances
    return length


def _replay(args) -> int:
    started = time.perf_counter()
    check_positive(n=args.n, window=args.window)
    check_models([args.model])
    if args.plot:
        require("streamlabels replay --plot", "viz", VIZ)
    from rich.console import Console

    from streamlabels.evaluate.prequential import prequential

    console = Console(stderr=True, quiet=args.quiet)
    stream = open_stream(args.stream, _parse_labels(args.labels), seed=args.seed)
    order = "file"
    source = stream
    if args.shuffle is not None:
        from streamlabels.streams.arrays import ArrayStream

        source = ArrayStream.read(stream).permuted(args.shuffle)
        order = f"shuffled (seed {args.shuffle})"
    name = args.stream or "synthetic"
    run = {"stream": name, "model": args.model, "order": order, "seed": args.seed,
           "target": args.target, "labels": list(stream.label_names)}
    counts = None
    if args.resume:
        from streamlabels.cli.checkpoint import load_run
        from streamlabels.ihomer import IHOMER

        model, counts = load_run(args.resume, run, IHOMER)
    else:
        model = make_model(
            args.model,
            stream.feature_names,
            stream.label_names,
            seed=args.seed,
            sparse=getattr(stream, "sparse", False),
            target=args.target,
        )
    if args.save:
        from streamlabels.cli.checkpoint import check_savable

        check_savable(model, args.model)
    total = _stream_length(stream, args.stream)
    if args.n is not None:
        total = min(total, args.n) if total else args.n

    setup_seconds = time.perf_counter() - started  # imports, stream and model: paid once
    result = _run_with_progress(console, prequential, source, model, stream, args, total, counts)
    if args.save:
        from streamlabels.cli.checkpoint import save_run

        save_run(args.save, model, run, result.counts)
    report = {
        "stream": name,
        "model": args.model,
        "order": order,
        "seed": args.seed,
        "target": args.target or "micro_f1",
        "n_labels": len(stream.label_names),
        "setup_seconds": setup_seconds,
        **result.to_dict(),
        "labels_never_predicted": [
            row["label"] for row in result.per_label if row["tp"] + row["fp"] == 0
        ],
        "events": getattr(model, "events", []),
        "n_nonfinite": getattr(model, "n_nonfinite", 0),
    }
    _print_summary(report)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    if args.plot:
        from streamlabels.evaluate.plots import plot_history

        title = f"{name} · {args.model} · {order}"
        plot_history(report["history"], title, report["events"]).savefig(
            args.plot, dpi=120, bbox_inches="tight"
        )
    return 0


def _run_with_progress(console, prequential, source, model, stream, args, total, counts):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[live]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        done = 0 if counts is None else counts["metrics"]["n"]
        task = progress.add_task(f"{args.model}", total=total, live="", completed=done)

        def on_window(point):
            progress.update(
                task,
                completed=done + point["n"],
                live=f"micro-F1 {point['micro_f1']:.3f}  subset acc {point['subset_accuracy']:.3f}"
                f"  {point['n'] / max(point['seconds'], 1e-9):,.0f} inst/s",
            )

        return prequential(
            source, model, stream.label_names, n=args.n, window=args.window, on_window=on_window,
            ranking=args.ranking, calibration=True if args.calibration else None, resume=counts,
        )


def _print_summary(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{report['stream']} · {report['model']} · {report['order']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in report["metrics"].items():
        table.add_row(key, f"{value:.4f}")
    table.add_row("instances", f"{report['n_instances']:,}")
    if report["resumed_from"]:
        table.add_row("resumed after instance", f"{report['resumed_from']:,}")
    table.add_row("seconds", f"{report['seconds']:.2f}")
    table.add_row("instances/s (whole run)", f"{report['instances_per_second']:,.0f}")
    steady = report["steady_instances_per_second"]
    if steady is not None:  # one-time costs (numba compilation, cache loads) fall in window 1
        table.add_row("instances/s (steady: after window 1)", f"{steady:,.0f}")
        table.add_row("one-time cost in window 1 (s)", f"{report['warmup_seconds']:.2f}")
    table.add_row("one-time set-up before it (s)", f"{report['setup_seconds']:.2f}")
    table.add_row("peak memory (MB)", f"{report['peak_memory_mb']:.0f}")
    if report.get("n_nonfinite"):
        table.add_row("non-finite values left out", f"{report['n_nonfinite']:,}")
    Console().print(table)
    never = report["labels_never_predicted"]
    if never:  # a label never predicted scores 0 in every macro average: say why, once
        shown = ", ".join(map(str, never[:10]))
        if len(never) > 10:
            shown += f" … ({len(never)} in all)"
        Console().print(f"labels never predicted: {shown}", markup=False, highlight=False)


def _datasets(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from streamlabels.streams import datasets

    table = Table(title="known datasets")
    for column in ("name", "instances", "features", "labels", "found at"):
        table.add_column(column)
    for name, path in datasets.available():
        info = datasets.info(name)
        where = str(path) if path else "[dim]not found locally (datasets fetch NAME)[/dim]"
        table.add_row(
            name, f"{info.n_instances:,}", str(info.n_features), str(info.n_labels), where
        )
    Console().print(table)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamlabels", description="Online multi-label classification of data streams."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    replay = add_command(
        commands,
        "replay",
        "prequential (test-then-train) evaluation of a model on a stream",
        EXAMPLES["replay"],
        _replay,
    )
    replay.add_argument(
        "stream", nargs="?", help="dataset name or ARFF path (default: synthetic drifting stream)"
    )
    replay.add_argument("--model", default="ihomer", help="model name (default: ihomer)")
    replay.add_argument(
        "--labels", help="label spec for an ARFF path: a count (-n: last n), names a,b,c or an XML"
    )
    replay.add_argument("--n", type=int, help="stop after N instances")
    replay.add_argument("--seed", type=int, default=42, help="model (and synthetic stream) seed")
    add_target_argument(replay)
    replay.add_argument("--shuffle", type=int, metavar="SEED", help="replay a fixed permutation")
    replay.add_argument("--window", type=int, default=500, help="instances per history point")
    replay.add_argument("--out", help="write the results as JSON")
    replay.add_argument("--plot", help="draw metrics over time to this PNG")
    replay.add_argument("--quiet", action="store_true", help="no progress bar")
    replay.add_argument(
        "--ranking", action="store_true",
        help="also score the label ranking (one-error, coverage, ranking loss, average "
        "precision) from each prediction's scores",
    )
    replay.add_argument(
        "--calibration", action="store_true",
        help="also score the calibration of P(True) (Brier score, ECE over 10 bins) for a model "
        "that needs a second pass for it (baselines, peers); iHOMER models always report it",
    )
    replay.add_argument("--save", metavar="MODEL", help="write the model and metric counts here")
    replay.add_argument(
        "--resume", metavar="MODEL",
        help="go on from a --save file: skip the instances it has learned, add up the metrics",
    )

    datasets_parser = add_command(
        commands,
        "datasets",
        "list the known benchmark datasets and where they were found; fetch them",
        EXAMPLES["datasets"],
        _datasets,
    )
    add_fetch_parser(datasets_parser, add_command)

    report = add_command(
        commands,
        "report",
        "draw replays', benches' or a benchmark table's results as PNG pictures",
        EXAMPLES["report"],
        run_report,
    )
    report.add_argument(
        "results", nargs="+",
        help="`replay --out` or `bench --out` JSONs, or benchmarks/results/accuracy.json; "
        "several are drawn side by side",
    )
    report.add_argument(
        "--out", default=".", help="folder for the PNGs (default: current), or one .png file"
    )
    report.add_argument(
        "--metric", default="micro_f1", help="metric of the accuracy bars (default: micro_f1)"
    )

    add_bench_parser(commands)
    add_compile_parser(commands)
    add_command(
        commands,
        "models",
        "list every model name replay and bench accept, and whether it can run here",
        EXAMPLES["models"],
        list_models,
    )
    add_registered_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except MissingExtra as error:
        if args.debug:
            raise
        print(error, file=sys.stderr)
        return 2
    except (ValueError, KeyError, OSError) as error:
        if args.debug:
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"streamlabels: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
