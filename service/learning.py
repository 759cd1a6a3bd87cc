"""The model a service process trains: restored from, and saved to, its checkpoints.

Both roles that learn (``single`` and ``trainer``) keep one :class:`LearnedModel`. A checkpoint
holds the model with the input offsets it has learned up to; the session writes one only when
every output record below those offsets is acknowledged, so a restart from it loses nothing and
learns nothing twice.

A new model's feature scaling is ``--scaling``; with ``auto`` (the default) it is chosen from rows
(:func:`choose_scaling`): the first rows of the ``--labels-from`` file, decided at start, or else
the first polled batch, the model being built just before that batch is served. A model restored
from a checkpoint keeps the scaling it was trained with.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from streamlabels import IHOMER, __version__

from .checkpoint import CheckpointStore
from .config import ConfigError, ServiceConfig
from .telemetry import Metrics

__all__ = ["LearnedModel", "choose_scaling", "truth_matrix"]

log = logging.getLogger(__name__)

SAMPLE_ROWS = 500
"""How many rows (at most) ``scaling="auto"`` looks at."""

SPARSE_SHARE = 0.75
"""Rows are sparse when one names, on average, less than this share of the distinct features the
sample names. Dense rows name every feature (share 1.0 on yeast, emotions, scene and flags, whose
rows hold 59% zeros); sparse rows a few of many (tmc2007-500: 0.53 over 2 rows, 0.26 over 5, 0.04
over 2,000; medical, enron, bibtex, imdb and delicious alike). 0.75, not 0.5, so that a sample
of two sparse rows already reads as sparse; a single row always reads as dense."""


def choose_scaling(rows: list[dict]) -> tuple[str, dict]:
    """IHOMER's scaling for rows like ``rows``: ``"sparse"`` where rows leave most features out
    (its work per row is in the row's features only, where ``"standard"`` centring makes every
    row dense: 4x slower on tmc2007-500), else ``"standard"``; with the numbers that decided.

    >>> choose_scaling([{"a": 1.0, "b": 0.0}, {"a": 2.0, "b": 3.0}])[0]
    'standard'
    >>> choose_scaling([{"w1": 1.0}, {"w7": 2.0}, {"w3": 1.0, "w9": 1.0}])
    ('sparse', {'rows': 3, 'features_per_row': 1.33, 'features_named': 4, 'share': 0.333})
    """
    named = set().union(*rows)
    per_row = sum(map(len, rows)) / len(rows) if rows else 0.0
    share = per_row / len(named) if named else 1.0
    numbers = {
        "rows": len(rows),
        "features_per_row": round(per_row, 2),
        "features_named": len(named),
        "share": round(share, 3),
    }
    return ("sparse" if share < SPARSE_SHARE else "standard"), numbers


class LearnedModel:
    """One IHOMER model, its checkpoint store (if any) and when the next checkpoint is due."""

    def __init__(self, config: ServiceConfig, labels: list[str], metrics: Metrics):
        self.config = config
        self.labels = labels
        self.metrics = metrics
        self.store = (
            CheckpointStore(config.checkpoint_dir, config.checkpoint_keep)
            if config.checkpoint_dir
            else None
        )
        self.model: IHOMER | None = None
        self._learned_since_checkpoint = 0
        self._dirty = False
        self._last_checkpoint = time.monotonic()

    def restore(self) -> dict[tuple[str, int], int] | None:
        """Load the newest valid checkpoint, or build a new model (with ``scaling="auto"`` and no
        ``labels_from`` file, only once the first batch is served: :meth:`ready`).

        Returns where each partition resumes: the checkpoint's offsets (a partition missing from
        them starts at its beginning), or None without checkpoints (the group's commits rule).
        """
        restored = self.store.load_latest() if self.store else None
        offsets = {}
        self.model = None
        if restored is None:
            config = self.config
            rows = config.sample_rows(SAMPLE_ROWS) if config.scaling == "auto" else []
            if config.scaling != "auto":
                self._build(config.scaling, {"scaling_from": "--scaling"})
            elif rows:
                self._build_for(rows, config.labels_from)
            else:
                log.info("scaling auto: to be chosen from the first polled batch")
        else:
            saved = restored.metadata.get("labels")
            if saved != self.labels:
                raise ConfigError(
                    f"checkpoint {restored.path} was trained on labels {saved}, but the service "
                    f"is configured with {self.labels}; use another --checkpoint-dir or the "
                    "same labels"
                )
            if restored.model.target != self.config.target:
                raise ConfigError(
                    f"checkpoint {restored.path} decides for target {restored.model.target!r}, "
                    f"but the service is configured with {self.config.target!r}; use another "
                    "--checkpoint-dir or the same --target"
                )
            self.model = restored.model
            offsets = dict(restored.offsets)
            log.info(
                "restored checkpoint",
                extra={
                    "checkpoint": str(restored.path),
                    "model_version": self.model.n_instances,
                    "scaling": self.model.scaling,
                    "offsets": {f"{t}:{p}": o for (t, p), o in sorted(offsets.items())},
                },
            )
        self._dirty = False
        self._learned_since_checkpoint = 0
        self.update_metrics()
        return offsets if self.store is not None else None

    def _build(self, scaling: str, why: dict) -> None:
        config = self.config
        self.model = IHOMER(
            labels=self.labels, scaling=scaling, target=config.target, n_min=config.n_min,
            lr=config.lr, seed=config.seed,
        )
        log.info("new model", extra={"labels": len(self.labels), "scaling": scaling, **why})

    def _build_for(self, rows: list[dict], source: str) -> None:
        scaling, numbers = choose_scaling(rows)
        self._build(scaling, {"scaling_from": source, **numbers})

    def ready(self, instances: list) -> None:
        """Build the model, if it waits for rows, with the scaling that ``instances`` (a batch
        about to be served) call for."""
        if self.model is None and instances:
            self._build_for([i.x for i in instances[:SAMPLE_ROWS]], "the first polled batch")
            self.update_metrics()

    @property
    def version(self) -> int:
        """Instances learned so far: the ``model_version`` of what it predicts now."""
        return 0 if self.model is None else self.model.n_instances

    def learn(self, xs: list[dict], Y: np.ndarray) -> None:
        """``learn_one`` on each feature dict of ``xs`` in turn, as compiled calls
        (``learn_many``, over the model's own feature columns)."""
        if xs:
            self.model.learn_many(xs, Y)

    def served(self, n_learned: int) -> None:
        """A batch is done and ``n_learned`` of it learned: the offsets moved, a checkpoint may
        be due."""
        self._learned_since_checkpoint += n_learned
        self._dirty = True

    def checkpoint_due(self) -> bool:
        if self.store is None or not self._dirty or self.model is None:
            return False
        every, seconds = self.config.checkpoint_every, self.config.checkpoint_seconds
        if every is not None and self._learned_since_checkpoint >= every:
            return True
        return seconds is not None and time.monotonic() - self._last_checkpoint >= seconds

    def checkpoint(self, offsets: dict, only_if_changed: bool = False) -> None:
        """Write the model with the input ``offsets`` it has learned up to."""
        if self.store is None or self.model is None or (only_if_changed and not self._dirty):
            return
        metadata = {
            "labels": self.labels,
            "model_version": self.model.n_instances,
            "group_id": self.config.group_id,
            "input_topic": self.config.input_topic,
            "streamlabels_version": __version__,
        }
        path = self.store.save(self.model, offsets, metadata)
        self._learned_since_checkpoint = 0
        self._dirty = False
        self._last_checkpoint = time.monotonic()
        self.metrics.checkpoints.inc()
        self.update_metrics()
        log.info(
            "checkpoint written",
            extra={"checkpoint": str(path), "model_version": self.model.n_instances},
        )

    def update_metrics(self) -> None:
        """The model's version and size gauges (at restore and checkpoint: sizes cost a walk)."""
        self.metrics.model_version.set(self.version)
        if self.model is None:
            return
        for part, value in self.model.model_size().items():
            self.metrics.model_size.labels(part=part).set(value)


def truth_matrix(instances: list, n_labels: int) -> np.ndarray:
    """The labels of labelled instances as a bool matrix, columns in vocabulary order."""
    return np.array(
        [np.fromiter(i.y.values(), dtype=bool, count=n_labels) for i in instances]
    ).reshape(len(instances), n_labels)
