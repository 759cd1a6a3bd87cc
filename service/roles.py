"""The service's roles: the pipelines a :class:`~.session.Session` runs on its batches.

- ``single`` (:class:`Single`, the default): one process predicts every valid instance, learns
  the labelled ones and checkpoints. How a batch is predicted depends on ``scoring``:

  - ``strict``: every message in offset order, test-then-train: the model predicts it, and only
    then, if the message is labelled, does the model learn it. So the predictions on a single
    partition equal ``streamlabels replay`` on the same order. A run of labelled messages is
    one compiled call (``IHOMER.score_learn_many``), a run of unlabelled ones one scoring pass.
  - ``batch`` (the default): every message is scored once, in at most two compiled calls per
    batch. The unlabelled messages are scored together by the model as it stood before the batch
    (``IHOMER.score_many``, over the model's own feature columns); the labelled ones are scored
    and learned test-then-train in offset order in one call (``score_learn_many``), each
    predicted, as in ``strict``, by the model that has learned the labelled messages before it.
    So a labelled batch costs what ``strict`` costs, and an unlabelled message never waits on
    learning: within a batch it does not benefit from the labels of earlier messages. With one
    message per batch this is ``strict``. Every prediction's ``model_version`` is the version
    that scored it.

  Learning is the same in both: each labelled message once, in offset order.
- ``trainer`` (:class:`Trainer`): the single writer of a model. It reads the labelled instances in
  its own consumer group, learns them in order, checkpoints exactly as ``single`` does, and every
  ``snapshot_every`` instances or ``snapshot_seconds`` publishes a snapshot to the snapshot topic
  (:mod:`.snapshots`). It produces no predictions.
- ``scorer`` (:class:`Scorer`): replicas in one consumer group split the input partitions. Each
  follows the snapshot topic on a background thread and scores every polled batch with the
  newest complete snapshot it holds (a swap happens between batches, with no pause). Scorers
  never learn and never write checkpoints; on a rebalance a partition continues from the group's
  committed offset, so delivery stays at-least-once.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time

import numpy as np

from streamlabels.evaluate import MultiLabelMetrics
from streamlabels.scoring import export, score_many, to_csr

from .config import ServiceConfig
from .errors import ServiceError
from .learning import LearnedModel, truth_matrix
from .snapshots import (
    SnapshotFollower,
    SnapshotPublisher,
    create_snapshot_topic,
    read_snapshot_topic,
)
from .telemetry import Metrics

__all__ = ["Scorer", "Single", "Trainer"]

log = logging.getLogger(__name__)


def _send_each(instances: list, flags: np.ndarray, scores: np.ndarray, versions, send) -> None:
    """Send each instance's prediction: its labels, scores and the model version that scored
    it (``versions``, an iterable, one per instance)."""
    for instance, guess, proba, version in zip(
        instances, flags.tolist(), scores.tolist(), versions
    ):
        send(instance.id, guess, proba, version)


class _Prequential:
    """Running scores of predictions against labels, shown as gauges once per batch."""

    def __init__(self, labels: list, metrics: Metrics):
        self.scores = MultiLabelMetrics(len(labels))
        self.n_labels = len(labels)
        self.metrics = metrics

    def truth(self, instances: list) -> np.ndarray:
        return truth_matrix(instances, self.n_labels)

    def update(self, truth: np.ndarray, predicted: np.ndarray) -> None:
        if len(truth):
            self.scores.update(truth, predicted)

    def report(self) -> None:
        scores = self.scores.get()
        self.metrics.micro_f1.set(scores["micro_f1"])
        self.metrics.subset_accuracy.set(scores["subset_accuracy"])


class _Learning:
    """What the roles that own a model (``single``, ``trainer``) share: the model, its version,
    and a restart from its checkpoint (``self.learned``, a :class:`LearnedModel`)."""

    learned: LearnedModel

    @property
    def model(self):
        return self.learned.model

    @property
    def version(self) -> int:
        return self.learned.version

    @property
    def can_roll_back(self) -> bool:
        """A lost batch leaves the model ahead of the committed offsets: a checkpoint undoes it."""
        return self.learned.store is not None

    def start(self, stopping: threading.Event) -> dict | None:
        return self.learned.restore()

    def roll_back(self) -> dict | None:
        return self.learned.restore()


class Single(_Learning):
    """Predicts every valid instance and learns the labelled ones (role ``single``)."""

    def __init__(self, config: ServiceConfig, labels: list, metrics: Metrics):
        self.learned = LearnedModel(config, labels, metrics)
        self.strict = config.scoring == "strict"
        self.prequential = _Prequential(labels, metrics)

    def connected(self, producer) -> None:
        """Nothing to set up: predictions go through the session."""

    def serve(self, instances: list, send) -> tuple[int, int]:
        self.learned.ready(instances)
        n_learned = self._strict(instances, send) if self.strict else self._batch(instances, send)
        self.learned.served(n_learned)
        self.prequential.report()
        return len(instances), n_learned

    def _strict(self, instances: list, send) -> int:
        """Exact test-then-train in offset order: each instance is scored by the model that has
        learned every labelled one before it, then learned if labelled. A run of labelled
        instances is one compiled call (``score_learn_many``), a run of unlabelled ones one
        scoring pass."""
        n_learned = 0
        for labelled, run in itertools.groupby(instances, key=lambda i: i.y is not None):
            run = list(run)
            version = self.model.n_instances
            xs = [instance.x for instance in run]
            if not labelled:
                flags, scores = self.model.score_many(xs)
                _send_each(run, flags, scores, itertools.repeat(version), send)
                continue
            truth = self.prequential.truth(run)
            flags, scores = self.model.score_learn_many(xs, truth)
            _send_each(run, flags, scores, itertools.count(version), send)
            self.prequential.update(truth, flags)
            n_learned += len(run)
        return n_learned

    def _batch(self, instances: list, send) -> int:
        """Score the unlabelled instances at once from the model before the batch, and the
        labelled ones test-then-train in one pass; send every prediction in offset order."""
        labelled = np.array([instance.y is not None for instance in instances])
        if labelled.all() or not labelled.any():  # one kind: the same single pass as strict's
            return self._strict(instances, send)
        version = self.model.n_instances
        flags = np.zeros((len(instances), self.prequential.n_labels), dtype=bool)
        scores = np.zeros(flags.shape)
        versions = np.full(len(instances), version)
        if not labelled.all():
            flags[~labelled], scores[~labelled] = self.model.score_many(
                [instance.x for instance, y in zip(instances, labelled) if not y])
        if labelled.any():
            rows = [instance for instance, y in zip(instances, labelled) if y]
            truth = self.prequential.truth(rows)
            flags[labelled], scores[labelled] = self.model.score_learn_many(
                [instance.x for instance in rows], truth)
            versions[labelled] += np.arange(len(rows))
            self.prequential.update(truth, flags[labelled])
        _send_each(instances, flags, scores, versions.tolist(), send)
        return int(labelled.sum())

    def due(self) -> bool:
        return self.learned.checkpoint_due()

    def settled(self, offsets: dict) -> None:
        self.learned.checkpoint(offsets)

    def close(self, clean: bool, offsets: dict) -> None:
        if clean:
            self.learned.checkpoint(offsets, only_if_changed=True)


class Trainer(_Learning):
    """Learns the labelled instances, checkpoints, and publishes versioned snapshots."""

    def __init__(self, config: ServiceConfig, labels: list, metrics: Metrics):
        self.config = config
        self.metrics = metrics
        self.learned = LearnedModel(config, labels, metrics)
        self.publisher: SnapshotPublisher | None = None
        self._learned_since_publish = 0
        self._last_publish = time.monotonic()

    def connected(self, producer) -> None:
        """Continue the versions already on the snapshot topic, and publish the model."""
        config = self.config
        create_snapshot_topic(
            config.bootstrap_servers, config.snapshot_topic, config.kafka_security()
        )
        existing = read_snapshot_topic(
            _client_config(config), config.snapshot_topic, config.model_name
        )
        self.publisher = SnapshotPublisher(
            producer, config.snapshot_topic, config.model_name, config.snapshot_chunk_bytes
        )
        self.publisher.adopt(existing)
        log.info(
            "snapshot topic read",
            extra={"topic": config.snapshot_topic, "newest_version": self.publisher.version},
        )
        self.publish()

    def serve(self, instances: list, send) -> tuple[int, int]:
        """Learn the labelled instances in offset order; unlabelled ones are for the scorers."""
        self.learned.ready(instances)
        labelled = [instance for instance in instances if instance.y is not None]
        self.learned.learn([instance.x for instance in labelled],
                           truth_matrix(labelled, len(self.learned.labels)))
        self.learned.served(len(labelled))
        self._learned_since_publish += len(labelled)
        return 0, len(labelled)

    def _publish_due(self) -> bool:
        every, seconds = self.config.snapshot_every, self.config.snapshot_seconds
        return bool(self._learned_since_publish) and (
            (every is not None and self._learned_since_publish >= every)
            or (seconds is not None and time.monotonic() - self._last_publish >= seconds)
        )

    def due(self) -> bool:
        return self.learned.checkpoint_due() or self._publish_due()

    def settled(self, offsets: dict) -> None:
        if self.learned.checkpoint_due():
            self.learned.checkpoint(offsets)
        if self._publish_due():
            self.publish()

    def publish(self) -> None:
        """Publish the model as it stands, unless the topic already has this version or newer
        or there is no model yet (``scaling="auto"`` waits for the first batch).

        After a restart from an older checkpoint the model's version is behind the topic's; it
        publishes again once it has learned past the newest published version.
        """
        if self.model is None:
            return
        published = self.publisher.publish(export(self.model))
        self._learned_since_publish = 0
        self._last_publish = time.monotonic()
        if published:
            self.metrics.snapshots_published.inc()
            log.info("snapshot published", extra={"model_version": self.model.n_instances})

    def close(self, clean: bool, offsets: dict) -> None:
        if not clean:
            return
        try:
            if self.publisher is not None and self._learned_since_publish:
                self.publish()
        finally:
            self.learned.checkpoint(offsets, only_if_changed=True)


class Scorer:
    """Scores its share of the input partitions with the newest complete snapshot; never learns."""

    can_roll_back = True  # it learns nothing: after a Kafka failure it just reconnects

    def __init__(self, config: ServiceConfig, labels: list, metrics: Metrics):
        self.config = config
        self.metrics = metrics
        self.follower = SnapshotFollower(
            _client_config(config),
            config.snapshot_topic,
            config.model_name,
            labels,
            on_load=self._loaded,
            on_refuse=metrics.snapshots_refused.inc,
        )
        self.prequential = _Prequential(labels, metrics)

    @property
    def version(self) -> int:
        return self.follower.assembler.version

    def start(self, stopping: threading.Event) -> None:
        """Follow the snapshot topic and wait (until ``stopping``) for the first snapshot."""
        config = self.config
        create_snapshot_topic(
            config.bootstrap_servers, config.snapshot_topic, config.kafka_security()
        )
        self.follower.start()
        log.info("waiting for the first snapshot", extra={"topic": config.snapshot_topic})
        while not self.follower.wait(0.2) and not stopping.is_set():
            self._check_follower()

    def roll_back(self) -> None:
        """Keep the snapshot; the partitions resume from the group's committed offsets."""

    def connected(self, producer) -> None:
        """Nothing to set up: snapshots come on the follower's own consumer."""

    def _loaded(self, snapshot) -> None:
        self.metrics.snapshots_loaded.inc()
        self.metrics.model_version.set(snapshot.n_instances)

    def _check_follower(self) -> None:
        if self.follower.error is not None:
            raise ServiceError(f"the snapshot follower stopped: {self.follower.error}")

    def serve(self, instances: list, send) -> tuple[int, int]:
        """Score the batch with one snapshot (the newest held when the batch starts)."""
        self._check_follower()
        if not instances:
            return 0, 0
        snapshot = self.follower.snapshot
        flags, scores = score_many(snapshot, to_csr(snapshot, [i.x for i in instances]))
        _send_each(instances, flags, scores, itertools.repeat(snapshot.n_instances), send)
        rows = [k for k, instance in enumerate(instances) if instance.y is not None]
        if rows:
            self.prequential.update(
                self.prequential.truth([instances[k] for k in rows]), flags[rows]
            )
            self.prequential.report()
        return len(instances), 0

    def due(self) -> bool:
        return False

    def settled(self, offsets: dict) -> None:
        """Nothing to save: scorers hold no model of their own."""

    def close(self, clean: bool, offsets: dict) -> None:
        self.follower.close()


def _client_config(config: ServiceConfig) -> dict:
    return {"bootstrap_servers": config.bootstrap_servers.split(","), **config.kafka_security()}
