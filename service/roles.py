"""Scale-out roles: one trainer publishes model snapshots, any number of scorers serve them.

- ``single`` (:class:`~service.consumer.Service`, the default): one process predicts, learns and
  checkpoints.
- ``trainer`` (:class:`Trainer`): the single writer of a model. It reads the labelled instances in
  its own consumer group, learns them in order, checkpoints exactly as ``single`` does, and every
  ``snapshot_every`` instances or ``snapshot_seconds`` publishes a snapshot to the snapshot topic
  (:mod:`service.snapshots`). It produces no predictions.
- ``scorer`` (:class:`Scorer`): replicas in one consumer group split the input partitions. Each
  follows the snapshot topic on a background thread and scores every polled batch with the
  newest complete snapshot it holds (a swap happens between batches, with no pause), produces
  the predictions with that snapshot's ``model_version``, then commits. Scorers never learn and
  never write checkpoints; on a rebalance a partition continues from the group's committed
  offset, so delivery stays at-least-once.
"""

from __future__ import annotations

import logging
import time

from kafka.consumer.subscription_state import ConsumerRebalanceListener

from service.config import ServiceConfig
from service.consumer import Service, ServiceError, score_batch
from service.snapshots import (
    SnapshotFollower,
    SnapshotPublisher,
    create_snapshot_topic,
    read_snapshot_topic,
)
from service.telemetry import Metrics
from streamlabels.scoring import export

__all__ = ["Scorer", "Trainer", "build_service"]

log = logging.getLogger(__name__)


def build_service(config: ServiceConfig, metrics: Metrics | None = None) -> Service:
    """The service of ``config.role``."""
    roles = {"single": Service, "trainer": Trainer, "scorer": Scorer}
    return roles[config.role](config, metrics)


def _client_config(config: ServiceConfig) -> dict:
    return {"bootstrap_servers": config.bootstrap_servers.split(","), **config.kafka_security()}


class Trainer(Service):
    """Learns the labelled instances, checkpoints, and publishes versioned snapshots."""

    def __init__(self, config: ServiceConfig, metrics: Metrics | None = None):
        super().__init__(config, metrics)
        self.publisher: SnapshotPublisher | None = None
        self._learned_since_publish = 0
        self._last_publish = time.monotonic()

    def _connect(self) -> None:
        super()._connect()
        config = self.config
        create_snapshot_topic(
            config.bootstrap_servers, config.snapshot_topic, config.kafka_security()
        )
        existing = read_snapshot_topic(
            _client_config(config), config.snapshot_topic, config.model_name
        )
        self.publisher = SnapshotPublisher(
            self._producer, config.snapshot_topic, config.model_name, config.snapshot_chunk_bytes
        )
        self.publisher.adopt(existing)
        log.info(
            "snapshot topic read",
            extra={"topic": config.snapshot_topic, "newest_version": self.publisher.version},
        )
        self.publish()

    def _serve(self, valid: list, sends: list) -> tuple[int, int]:
        """Learn the labelled instances in offset order; unlabelled ones are for the scorers."""
        labelled = [instance for _, instance in valid if instance.y is not None]
        self._learn_batch(labelled)
        self._learned_since_publish += len(labelled)
        return 0, len(labelled)

    def _housekeeping(self) -> None:
        super()._housekeeping()
        every, seconds = self.config.snapshot_every, self.config.snapshot_seconds
        if self._learned_since_publish and (
            (every is not None and self._learned_since_publish >= every)
            or (seconds is not None and time.monotonic() - self._last_publish >= seconds)
        ):
            self.publish()

    def publish(self) -> None:
        """Publish the model as it stands, unless the topic already has this version or newer.

        After a restart from an older checkpoint the model's version is behind the topic's; it
        publishes again once it has learned past the newest published version.
        """
        published = self.publisher.publish(export(self.model))
        self._learned_since_publish = 0
        self._last_publish = time.monotonic()
        if published:
            self.metrics.snapshots_published.inc()
            log.info("snapshot published", extra={"model_version": self.model.n_instances})

    def _shutdown(self, failed: bool) -> None:
        try:
            if not failed and self.publisher is not None and self._learned_since_publish:
                self.publish()
        finally:
            super()._shutdown(failed)


class Scorer(Service):
    """Scores its share of the input partitions with the newest complete snapshot; never learns."""

    def __init__(self, config: ServiceConfig, metrics: Metrics | None = None):
        super().__init__(config, metrics)
        self.store = None  # scorers hold no model of their own to checkpoint
        self.follower = SnapshotFollower(
            _client_config(config),
            config.snapshot_topic,
            config.model_name,
            self.labels,
            on_load=self._loaded,
            on_refuse=self.metrics.snapshots_refused.inc,
        )
        self.assigned: set = set()

    def restore(self) -> None:
        """Follow the snapshot topic and wait (until :meth:`stop`) for the first snapshot."""
        config = self.config
        create_snapshot_topic(
            config.bootstrap_servers, config.snapshot_topic, config.kafka_security()
        )
        self.follower.start()
        log.info("waiting for the first snapshot", extra={"topic": config.snapshot_topic})
        while not self.follower.wait(0.2) and not self._stop.is_set():
            self._check_follower()

    def _can_roll_back(self) -> bool:
        """A scorer learns nothing, so after a Kafka failure it just reconnects."""
        return True

    def _roll_back(self) -> None:
        """Keep the snapshot; the partitions resume from the group's committed offsets."""

    def _loaded(self, snapshot) -> None:
        self.metrics.snapshots_loaded.inc()
        self.metrics.model_version.set(snapshot.n_instances)

    def _check_follower(self) -> None:
        if self.follower.error is not None:
            raise ServiceError(f"the snapshot follower stopped: {self.follower.error}")

    def _model_version(self) -> int:
        return self.follower.assembler.version

    def _serve(self, valid: list, sends: list) -> tuple[int, int]:
        """Score the batch with one snapshot (the newest held when the batch starts)."""
        self._check_follower()
        snapshot = self.follower.snapshot
        flags, scores = score_batch(snapshot, [instance.x for _, instance in valid])
        for (_, instance), guess, proba in zip(valid, flags, scores):
            sends.append(self._send_prediction(instance.id, guess, proba, snapshot.n_instances))
            if instance.y is not None:
                self.scores.update(self._truth(instance), guess)
        return len(valid), 0

    def _rebalance_listener(self) -> ConsumerRebalanceListener:
        return _Reassigned(self)

    def _shutdown(self, failed: bool) -> None:
        try:
            super()._shutdown(failed)
        finally:
            self.follower.close()


class _Reassigned(ConsumerRebalanceListener):
    """A scorer's partitions continue from the group's committed offsets; it keeps its snapshot."""

    def __init__(self, scorer: Scorer):
        self.scorer = scorer

    def on_partitions_revoked(self, revoked) -> None:
        for tp in revoked:
            self.scorer.offsets.pop((tp.topic, tp.partition), None)
        self.scorer.assigned = set()

    def on_partitions_assigned(self, assigned) -> None:
        self.scorer.assigned = {(tp.topic, tp.partition) for tp in assigned}
        log.info(
            "partitions assigned",
            extra={"partitions": sorted(f"{t}:{p}" for t, p in self.scorer.assigned)},
        )
