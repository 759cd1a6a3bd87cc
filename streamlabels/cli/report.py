"""``streamlabels report``: results JSONs drawn as PNG pictures, one run or several side by side.

Three kinds of JSON are read: a ``replay --out`` report (metrics over time, per label), a
``bench --out`` report (several models on one stream) and ``benchmarks/results/accuracy.json``
(several models on several streams). Several files are compared in one picture: replays as lines
over time, and every file as bars of a metric per model.
"""

from __future__ import annotations

import json
from pathlib import Path

from streamlabels.extras import require

__all__ = ["VIZ", "comparison_rows", "run_report"]

VIZ = {"matplotlib": "matplotlib"}
"""What drawing needs (the ``viz`` extra)."""


def _kind(data, source: Path) -> str:
    if isinstance(data, dict) and "history" in data:
        return "replay"
    if isinstance(data, dict) and "runs" in data:
        return "accuracy"
    if isinstance(data, dict) and isinstance(data.get("models"), list) and "stream" in data:
        return "bench"
    raise ValueError(
        f"{source}: neither a `streamlabels replay --out` JSON (with 'history'), a "
        "`streamlabels bench --out` JSON (with 'models') nor a benchmarks accuracy JSON "
        "(with 'runs')"
    )


def comparison_rows(data: dict, kind: str) -> list[dict]:
    """The rows :func:`~streamlabels.evaluate.plots.plot_comparison` draws (one per model, stream
    and order) from a JSON of any of the three kinds."""
    if kind == "accuracy":
        return list(data["runs"])
    if kind == "replay":
        results = [data]
    else:
        results = data["models"]
    return [
        {
            "dataset": data["stream"], "model": result["model"], "order": data["order"],
            "status": "ok", "metrics": result["metrics"],
            "instances_per_second": result["instances_per_second"],
        }
        for result in results
    ]


def _pictures(sources: list[Path], documents: list, kinds: list[str], metric: str) -> dict:
    """Name -> figure for the files given."""
    from streamlabels.evaluate import plots as viz

    if len(sources) == 1 and kinds[0] == "replay":
        data, source = documents[0], sources[0]
        title = f"{data.get('stream', source.stem)} · {data.get('model', '?')} · "
        title += data.get("order", "file")
        return {
            "history": viz.plot_history(data["history"], title, data.get("events", ())),
            "per-label": viz.plot_per_label(data.get("per_label", []), title=title),
        }
    rows = [row for data, kind in zip(documents, kinds) for row in comparison_rows(data, kind)]
    pictures = {}
    replays = [data for data, kind in zip(documents, kinds) if kind == "replay"]
    if len(replays) > 1:
        pictures["history"] = viz.plot_histories(replays)
    pictures[metric] = viz.plot_comparison(rows, metric=metric)
    pictures["throughput"] = viz.plot_throughput(rows, order=rows[0]["order"])
    return pictures


def run_report(args) -> int:
    """Draw ``args.results`` into the folder ``args.out``, or into the one PNG ``args.out``
    names (the first picture: the histories of several replays, else the metric's bars)."""
    require("streamlabels report", "viz", VIZ)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = [Path(name) for name in args.results]
    documents = [json.loads(source.read_text()) for source in sources]
    kinds = [_kind(data, source) for data, source in zip(documents, sources)]
    pictures = _pictures(sources, documents, kinds, args.metric)
    out = Path(args.out)
    if out.suffix.lower() == ".png":
        first = next(iter(pictures.values()))
        out.parent.mkdir(parents=True, exist_ok=True)
        targets = {out: first}
    else:
        out.mkdir(parents=True, exist_ok=True)
        stem = sources[0].stem if len(sources) == 1 else "comparison"
        targets = {out / f"{stem}-{name}.png": figure for name, figure in pictures.items()}
    for path, figure in targets.items():
        figure.savefig(path, dpi=120, bbox_inches="tight")
        print(path)
    for figure in pictures.values():
        plt.close(figure)
    return 0
