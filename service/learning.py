"""The model a service process trains: restored from, and saved to, its checkpoints.

Both roles that learn (``single`` and ``trainer``) keep one :class:`LearnedModel`. A checkpoint
holds the model with the input offsets it has learned up to; the session writes one only when
every output record below those offsets is acknowledged, so a restart from it loses nothing and
learns nothing twice.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from streamlabels import IHOMER, __version__

from .checkpoint import CheckpointStore
from .config import ConfigError, ServiceConfig
from .telemetry import Metrics

__all__ = ["LearnedModel", "truth_matrix"]

log = logging.getLogger(__name__)


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
        """Load the newest valid checkpoint, or build a new model.

        Returns where each partition resumes: the checkpoint's offsets (a partition missing from
        them starts at its beginning), or None without checkpoints (the group's commits rule).
        """
        restored = self.store.load_latest() if self.store else None
        offsets = {}
        if restored is None:
            config = self.config
            self.model = IHOMER(
                labels=self.labels,
                scaling=config.scaling,
                target=config.target,
                n_min=config.n_min,
                lr=config.lr,
                seed=config.seed,
            )
            log.info("new model", extra={"labels": len(self.labels)})
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
                    "offsets": {f"{t}:{p}": o for (t, p), o in sorted(offsets.items())},
                },
            )
        self._dirty = False
        self._learned_since_checkpoint = 0
        self.update_metrics()
        return offsets if self.store is not None else None

    @property
    def version(self) -> int:
        """Instances learned so far: the ``model_version`` of what it predicts now."""
        return self.model.n_instances

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
        if self.store is None or not self._dirty:
            return False
        every, seconds = self.config.checkpoint_every, self.config.checkpoint_seconds
        if every is not None and self._learned_since_checkpoint >= every:
            return True
        return seconds is not None and time.monotonic() - self._last_checkpoint >= seconds

    def checkpoint(self, offsets: dict, only_if_changed: bool = False) -> None:
        """Write the model with the input ``offsets`` it has learned up to."""
        if self.store is None or (only_if_changed and not self._dirty):
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
        self.metrics.model_version.set(self.model.n_instances)
        for part, value in self.model.model_size().items():
            self.metrics.model_size.labels(part=part).set(value)


def truth_matrix(instances: list, n_labels: int) -> np.ndarray:
    """The labels of labelled instances as a bool matrix, columns in vocabulary order."""
    return np.array(
        [np.fromiter(i.y.values(), dtype=bool, count=n_labels) for i in instances]
    ).reshape(len(instances), n_labels)
