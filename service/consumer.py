"""The service loop: poll -> decode -> predict -> learn -> produce -> flush -> commit -> checkpoint.

How a polled batch is predicted depends on ``scoring``:

- ``strict``: every message in offset order, test-then-train: the model predicts it, the
  prediction is queued, and only then, if the message is labelled, does the model learn it. So
  the predictions on a single partition equal ``streamlabels replay`` on the same order.
- ``batch`` (the default): the batch's valid messages are scored at once by the compiled batch
  scorer from a snapshot of the model as it stood before the batch
  (:func:`streamlabels.scoring.export`), then the labelled ones are learned in offset order.
  With one message per batch this is ``strict``; within a larger batch, later messages do not
  benefit from the labels of earlier ones. Every prediction's ``model_version`` is the version
  that scored it (the instances learned before its batch).

Learning is the same in both: each labelled message once, in offset order.

Delivery and exactness:

- Offsets are committed only after the batch's predictions and dead letters were flushed, so every
  message gets its prediction at least once.
- A checkpoint holds the model together with the offsets it has learned up to. On start the newest
  valid one is restored and every assigned partition it knows is sought to its offset, overriding
  the group's committed offset. Messages after the checkpoint are therefore predicted again (the
  at-least-once duplicates) but learned exactly once by the restored model. With checkpoints on, a
  partition the checkpoint does not know (no checkpoint yet, or a new partition) starts at its
  beginning: the model has learned nothing from it, whatever the group had committed before a
  crash.
- If a flush fails (the broker went away, say) nothing is committed or checkpointed. With
  checkpoints on, the service rolls the model back to its newest checkpoint, waits, reconnects
  and carries on from the checkpoint's offsets: nothing is lost or learned twice. Without
  checkpoints there is nothing to roll back to, so it stops with an error.
- One service instance trains one model (a single writer); a consumer group of several trainers
  would each learn a share of the partitions.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from service.checkpoint import CheckpointStore
from service.codec import Codec, InvalidMessage, dead_letter_headers
from service.config import ConfigError, ServiceConfig
from service.telemetry import Heartbeat, Metrics, TelemetryServer
from streamlabels import IHOMER, __version__
from streamlabels.features import dicts_to_csr
from streamlabels.evaluate import MultiLabelMetrics
from streamlabels.scoring import Snapshot, export, predict_many, predict_proba_many, to_csr

__all__ = ["KafkaFailure", "Service", "ServiceError", "score_batch"]

log = logging.getLogger(__name__)

POLL_TIMEOUT_MS = 200
"""How long one poll waits; it bounds how quickly a stop request is noticed."""


RECONNECT_DELAY_S = 2.0


class ServiceError(RuntimeError):
    """The service cannot go on (for example a produce failed); it stops without committing."""


class KafkaFailure(ServiceError):
    """Kafka refused or lost what the batch sent; nothing of the batch was committed."""


class Service:
    """The Kafka consumer service around one IHOMER model.

    Parameters
    ----------
    config
        The settings (:class:`~service.config.ServiceConfig`).
    metrics
        Where to count (default: a fresh :class:`~service.telemetry.Metrics`).

    Call :meth:`run` (blocks until :meth:`stop`), typically from the main thread with
    :meth:`stop` wired to SIGTERM and SIGINT.
    """

    def __init__(self, config: ServiceConfig, metrics: Metrics | None = None):
        self.config = config
        self.labels = config.label_vocabulary()
        self.codec = Codec(
            self.labels,
            config.format,
            config.max_message_bytes,
            config.max_features,
            config.max_labels,
        )
        self.metrics = metrics or Metrics()
        self.heartbeat = Heartbeat()
        self.store = (
            CheckpointStore(config.checkpoint_dir, config.checkpoint_keep)
            if config.checkpoint_dir
            else None
        )
        self.model: IHOMER | None = None
        self.offsets: dict[tuple[str, int], int] = {}
        self.scores = MultiLabelMetrics(len(self.labels))
        self._columns: dict = {}  # feature name -> column of the batches given to learn_many
        self.telemetry: TelemetryServer | None = None
        self._stop = threading.Event()
        self._learned_since_checkpoint = 0
        self._dirty = False
        self._last_checkpoint = time.monotonic()
        self._consumer = None
        self._producer = None

    # -- lifecycle --------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish its batch and shut down cleanly (safe from a signal handler)."""
        self._stop.set()

    def run(self) -> None:
        """Restore, connect, and process batches until :meth:`stop`; then shut down cleanly."""
        log.info("starting", extra={"config": self.config.redacted(), "version": __version__})
        self.restore()
        if self.config.metrics_port is not None:
            self.telemetry = TelemetryServer(
                self.metrics, self.heartbeat, self.config.metrics_host, self.config.metrics_port
            )
            log.info(
                "telemetry listening",
                extra={"url": f"http://{self.telemetry.host}:{self.telemetry.port}/metrics"},
            )
        failed = False
        try:
            while not self._stop.is_set():
                try:
                    self._connect()
                    self.heartbeat.running = True
                    self._loop()
                except (KafkaFailure, KafkaError) as error:
                    if not self._can_roll_back():
                        raise
                    self._reconnect_later(error)
        except BaseException:
            failed = True
            raise
        finally:
            self.heartbeat.running = False
            self._shutdown(failed)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.heartbeat.beat()
            batch = self._consumer.poll(
                timeout_ms=POLL_TIMEOUT_MS, max_records=self.config.batch_size
            )
            if batch:
                self._process(batch)
            self._update_lag()
            self._housekeeping()

    def _can_roll_back(self) -> bool:
        """A failed batch leaves the model ahead of the committed offsets: a checkpoint undoes it."""
        return self.store is not None

    def _reconnect_later(self, error: Exception) -> None:
        """Drop the clients, wait, and go back to the newest checkpoint before reconnecting."""
        log.warning(
            "kafka failure: rolling back to the newest checkpoint, then reconnecting",
            extra={"error": str(error), "delay_s": RECONNECT_DELAY_S},
        )
        self.heartbeat.running = False
        self._close_clients()
        self._stop.wait(RECONNECT_DELAY_S)
        self._roll_back()

    def _roll_back(self) -> None:
        self.restore()

    def _close_clients(self) -> None:
        if self._consumer is not None:
            self._consumer.close(autocommit=False)
            self._consumer = None
        if self._producer is not None:
            self._producer.close()
            self._producer = None

    def restore(self) -> None:
        """Load the newest valid checkpoint, or build a new model; :meth:`run` calls it first."""
        restored = self.store.load_latest() if self.store else None
        self.offsets = {}
        if restored is None:
            self.model = IHOMER(
                labels=self.labels,
                scaling=self.config.scaling,
                n_min=self.config.n_min,
                lr=self.config.lr,
                seed=self.config.seed,
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
            self.model = restored.model
            self.offsets = dict(restored.offsets)
            log.info(
                "restored checkpoint",
                extra={
                    "checkpoint": str(restored.path),
                    "model_version": self.model.n_instances,
                    "offsets": {f"{t}:{p}": o for (t, p), o in sorted(self.offsets.items())},
                },
            )
        self._update_model_metrics()

    def _connect(self) -> None:
        config = self.config
        common = {
            "bootstrap_servers": config.bootstrap_servers.split(","),
            **config.kafka_security(),
        }
        try:
            self._producer = KafkaProducer(
                client_id="streamlabels-service",
                acks="all",
                linger_ms=5,
                max_request_size=max(config.max_message_bytes, config.snapshot_chunk_bytes)
                + 65_536,
                **common,
            )
            self._consumer = KafkaConsumer(
                client_id="streamlabels-service",
                group_id=config.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=config.batch_size,
                session_timeout_ms=config.session_timeout_ms,
                heartbeat_interval_ms=config.heartbeat_interval_ms,
                **common,
            )
        except KafkaError as error:
            raise ConnectionError(
                f"cannot reach Kafka at {config.bootstrap_servers}: {error}"
            ) from error
        self._consumer.subscribe([config.input_topic], listener=self._rebalance_listener())

    def _rebalance_listener(self) -> ConsumerRebalanceListener:
        return _SeekToCheckpoint(self)

    def _shutdown(self, failed: bool) -> None:
        try:
            if not failed and self._consumer is not None:
                self.checkpoint(only_if_changed=True)
        finally:
            self._close_clients()
            if self.telemetry is not None:
                self.telemetry.close()
            log.info(
                "stopped",
                extra={
                    "model_version": self.model.n_instances if self.model else 0,
                    "clean": not failed,
                },
            )

    # -- the batch ---------------------------------------------------------------------------

    def _process(self, batch: dict) -> None:
        start = time.perf_counter()
        sends = []
        n_in = 0
        dead: dict[str, int] = {}
        valid = []
        for tp, records in batch.items():
            for record in records:
                n_in += 1
                try:
                    valid.append((record, self.codec.decode(record.value)))
                except InvalidMessage as error:
                    sends.append(self._dead_letter(record, error))
                    dead[error.reason] = dead.get(error.reason, 0) + 1
                self.offsets[(tp.topic, tp.partition)] = record.offset + 1
        n_predicted, n_learned = self._serve(valid, sends)
        self._producer.flush()
        failures = [f.exception for f in sends if f.failed()]
        if failures:
            raise KafkaFailure(
                f"{len(failures)} sends failed, first: {failures[0]}; not committing"
            )
        self._consumer.commit(
            {tp: OffsetAndMetadata(self.offsets[(tp.topic, tp.partition)], "", -1) for tp in batch}
        )
        self._dirty = True
        self._learned_since_checkpoint += n_learned
        m = self.metrics
        m.messages_in.inc(n_in)
        m.predictions_out.inc(n_predicted)
        m.learned.inc(n_learned)
        for reason, count in dead.items():
            m.dead_letters.labels(reason=reason).inc(count)
        scores = self.scores.get()
        m.micro_f1.set(scores["micro_f1"])
        m.subset_accuracy.set(scores["subset_accuracy"])
        m.model_version.set(self._model_version())
        m.batch_seconds.observe(time.perf_counter() - start)

    def _model_version(self) -> int:
        return self.model.n_instances

    def _serve(self, valid: list, sends: list) -> int:
        """Predict and learn the batch's valid ``(record, instance)`` pairs in offset order.

        Prediction sends go to ``sends``; returns how many instances were predicted and learned.
        """
        if self.config.scoring == "strict":
            return len(valid), sum(self._strict(instance, sends) for _, instance in valid)
        snapshot = export(self.model)
        flags, scores = score_batch(snapshot, [instance.x for _, instance in valid])
        version = snapshot.n_instances
        labelled = []
        for (_, instance), guess, proba in zip(valid, flags, scores):
            sends.append(self._send_prediction(instance.id, guess, proba, version))
            if instance.y is not None:
                self.scores.update(self._truth(instance), np.asarray(guess, dtype=bool))
                labelled.append(instance)
        self._learn_batch(labelled)
        return len(valid), len(labelled)

    def _strict(self, instance, sends: list) -> int:
        """Exact test-then-train of one instance: predict with the model as it is, then learn."""
        predicted, proba = self.model.score_one(instance.x)
        sends.append(
            self._send_prediction(instance.id, predicted, proba, self.model.n_instances)
        )
        if instance.y is None:
            return 0
        self._learn(instance, predicted)
        return 1

    def _send_prediction(self, id, guess: np.ndarray, proba: np.ndarray, version: int):
        value = self.codec.encode_scored(id, guess.tolist(), proba.tolist(), version)
        return self._producer.send(self.config.output_topic, key=str(id).encode(), value=value)

    def _learn(self, instance, guess) -> None:
        self.scores.update(self._truth(instance), np.asarray(guess, dtype=bool))
        self.model.learn_one(instance.x, instance.y)

    def _learn_batch(self, instances: list) -> None:
        """``learn_one`` on each instance in turn, as compiled calls (``IHOMER.learn_many``)."""
        if not instances:
            return
        X = dicts_to_csr([instance.x for instance in instances], self._columns)
        Y = np.array([self._truth(instance) for instance in instances])
        self.model.learn_many(X, Y, list(self._columns))

    def _truth(self, instance) -> np.ndarray:
        return np.fromiter(instance.y.values(), dtype=bool, count=len(self.labels))

    def _dead_letter(self, record, error: InvalidMessage):
        headers = dead_letter_headers(error, record.topic, record.partition, record.offset)
        value = record.value
        if value is not None and len(value) > self.config.max_message_bytes:
            headers.append(("streamlabels.original_bytes", str(len(value)).encode()))
            value = value[: self.config.max_message_bytes]
        log.warning(
            "dead letter",
            extra={
                "reason": error.reason,
                "detail": error.detail,
                "origin": f"{record.topic}:{record.partition}:{record.offset}",
            },
        )
        return self._producer.send(
            self.config.dead_letter_topic, key=record.key, value=value, headers=headers
        )

    # -- checkpoints and gauges --------------------------------------------------------------

    def _housekeeping(self) -> None:
        """Between batches: write a checkpoint when one is due."""
        if self._checkpoint_due():
            self.checkpoint()

    def _checkpoint_due(self) -> bool:
        if self.store is None or not self._dirty:
            return False
        every, seconds = self.config.checkpoint_every, self.config.checkpoint_seconds
        if every is not None and self._learned_since_checkpoint >= every:
            return True
        return seconds is not None and time.monotonic() - self._last_checkpoint >= seconds

    def checkpoint(self, only_if_changed: bool = False) -> None:
        """Write a checkpoint of the model and the offsets it has learned up to."""
        if self.store is None or (only_if_changed and not self._dirty):
            return
        metadata = {
            "labels": self.labels,
            "model_version": self.model.n_instances,
            "group_id": self.config.group_id,
            "input_topic": self.config.input_topic,
            "streamlabels_version": __version__,
        }
        path = self.store.save(self.model, self.offsets, metadata)
        self._learned_since_checkpoint = 0
        self._dirty = False
        self._last_checkpoint = time.monotonic()
        self.metrics.checkpoints.inc()
        self._update_model_metrics()
        log.info(
            "checkpoint written",
            extra={"checkpoint": str(path), "model_version": self.model.n_instances},
        )

    def _update_model_metrics(self) -> None:
        self.metrics.model_version.set(self.model.n_instances)
        for part, value in self.model.model_size().items():
            self.metrics.model_size.labels(part=part).set(value)

    def _update_lag(self) -> None:
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            position = self.offsets.get((tp.topic, tp.partition))
            if highwater is not None and position is not None:
                self.metrics.lag.labels(topic=tp.topic, partition=str(tp.partition)).set(
                    max(highwater - position, 0)
                )


def score_batch(snapshot: Snapshot, xs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores of every feature dict from one snapshot, columns in its label order."""
    if not xs:
        empty = np.empty((0, snapshot.n_labels))
        return empty.astype(bool), empty
    rows = to_csr(snapshot, xs)
    return predict_many(snapshot, rows), predict_proba_many(snapshot, rows)


class _SeekToCheckpoint(ConsumerRebalanceListener):
    """Rebalance listener: newly assigned partitions resume where the model's learning ends."""

    def __init__(self, service: Service):
        self.service = service

    def on_partitions_revoked(self, revoked) -> None:
        """Nothing to do: every finished batch is already committed."""

    def on_partitions_assigned(self, assigned) -> None:
        for tp in assigned:
            offset = self.service.offsets.get((tp.topic, tp.partition))
            if offset is not None:
                self.service._consumer.seek(tp, offset)
                log.info(
                    "resuming partition",
                    extra={"partition": f"{tp.topic}:{tp.partition}", "offset": offset},
                )
            elif self.service.store is not None:
                self.service._consumer.seek_to_beginning(tp)
                log.info(
                    "partition not in the checkpoint, reading it from the beginning",
                    extra={"partition": f"{tp.topic}:{tp.partition}"},
                )
