"""``replay --save`` / ``--resume``: a replay's model and running metric counts in one file.

A long replay can stop and go on: the file holds the model's checkpoint (``IHOMER.get_state``),
the counters of the running metrics and what was replayed (stream, model name, order, labels),
in the hash-checked :mod:`streamlabels.state` format. The model and the counts live in one blob
so they cannot drift apart, and the file is written by :func:`streamlabels.files.write_atomic`,
so a crash mid-write leaves the previous checkpoint whole. A resumed replay skips the instances
the model has learned and adds up to the metrics of one uninterrupted run, bit for bit.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from streamlabels import state
from streamlabels.files import remove_stale, write_atomic

__all__ = ["KIND", "VERSION", "check_savable", "load_run", "save_run"]

KIND = "streamlabels.replay"
VERSION = 1
_RUN_KEYS = ("stream", "model", "target", "order", "seed", "labels")


def check_savable(model, name: str) -> None:
    """Refuse, before a replay starts, a model whose state cannot be saved (a baseline, a peer,
    iHOMER over a river learner), rather than after hours of replay."""
    get_state = getattr(model, "get_state", None)
    try:
        if get_state is None:
            raise state.StateError("it has no get_state()")
        get_state()
    except state.StateError as exc:
        raise ValueError(
            f"--save needs a model that can be checkpointed (an ihomer model without a river "
            f"learner); {name!r} cannot: {exc}"
        ) from exc


def save_run(path: str | os.PathLike, model, run: dict, counts: dict) -> None:
    """Write ``model`` (checked by :func:`check_savable`), the run's identity ``run`` (stream,
    model name, order, seed, labels) and the metrics' ``counts`` to ``path``, atomically."""
    blob = state.seal(KIND, VERSION, {
        **{key: run[key] for key in _RUN_KEYS}, "model_state": model.get_state(), "counts": counts,
    })
    path = Path(path)
    remove_stale(path.parent, glob.escape(path.name))  # left by a replay killed while saving
    write_atomic(path, blob)


def load_run(path: str | os.PathLike, run: dict, model_class) -> tuple[object, dict]:
    """The model (``model_class.from_state``) and metric counts saved at ``path`` by
    :func:`save_run`, refused with a clear error when the file is damaged, is not a replay
    checkpoint, or was made by another replay than ``run`` describes."""
    try:
        _, saved = state.unseal(Path(path).read_bytes(), KIND, (VERSION,))
    except state.StateError as exc:
        raise state.StateError(f"{path}: cannot resume from it: {exc}") from exc
    for key in _RUN_KEYS:
        if saved.get(key) != run[key]:
            shown = "its labels" if key == "labels" else repr(saved.get(key))
            raise state.StateError(
                f"{path}: saved by a replay with another {key} ({shown}); resume it with the "
                "same stream, --model, --target, --shuffle, --seed and --labels"
            )
    model = model_class.from_state(saved["model_state"])
    counts = saved["counts"]
    seen = counts.get("metrics", {}).get("n") if isinstance(counts, dict) else None
    if seen != model.n_instances:
        raise state.StateError(
            f"{path}: the model has learned {model.n_instances} instances but the metrics "
            f"count {seen}"
        )
    return model, counts
