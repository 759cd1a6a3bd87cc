"""The Kafka session: poll -> decode -> the role's pipeline -> send -> commit what is acknowledged.

A :class:`Session` owns everything Kafka: the clients (:mod:`.clients`), the poll loop,
dead letters, commits, reconnecting after a failure, and a clean shutdown. What a batch is *for*
belongs to the pipeline it runs (:mod:`.roles`: predict and learn, learn only, or score
only), which sees decoded instances and a function that sends a prediction.

Delivery and exactness:

- The session never waits on the producer after a batch: the sends stay in flight and the next
  batch is polled. An input offset is committed only once every output record of its batch and
  of all batches before it was acknowledged (:class:`~.delivery.InFlight`), so every
  message gets its prediction at least once.
- When the pipeline keeps a model and a checkpoint is due, the session first waits until every
  send is acknowledged, then commits, then the pipeline writes the model with the offsets it has
  learned up to. On start the newest valid checkpoint is restored and every assigned partition it
  knows is sought to its offset, overriding the group's committed offset; a partition it does not
  know starts at its beginning. Messages after the checkpoint are therefore predicted again (the
  at-least-once duplicates) but learned exactly once.
- If a send fails (the broker went away, say) nothing from its batch on is committed or
  checkpointed: the clients are dropped, the pipeline rolls back (a model to its newest
  checkpoint), and the session reconnects after a pause. A model without checkpoints cannot roll
  back, so the session stops with an error.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from typing import Protocol

from streamlabels import __version__

from .clients import open_clients
from .codec import Codec, InvalidMessage, dead_letter_headers
from .config import ServiceConfig
from .delivery import InFlight
from .errors import KafkaFailure, is_kafka_error
from .telemetry import Heartbeat, Metrics, TelemetryServer

__all__ = ["Pipeline", "Session"]

log = logging.getLogger(__name__)

POLL_TIMEOUT_MS = 200
"""How long one poll waits at most; it bounds how quickly a stop request is noticed."""


def poll_timeout_ms(fetch_max_wait_ms: int) -> int:
    """How long one poll of the loop waits: no longer than a fetch may. A kafka-python (3.0)
    poll that finds no fetch in flight at the moment one completes sleeps ``retry_backoff_ms``
    (100 ms) with the fetched records waiting (its idle sleep, dpkp/kafka-python#3039); at 1,000
    messages/s that stalled the loop for 100 ms two to four times in 25 s, enough to set the p99.
    A poll no longer than a fetch wait bounds what such a miss costs."""
    return min(POLL_TIMEOUT_MS, max(1, fetch_max_wait_ms))

RECONNECT_DELAY_S = 2.0

COMMIT_INTERVAL_S = 0.1
"""Least time between two commits in the loop: each is a request to the group coordinator, and
committing after every small batch would cap the rate. A crash repeats at most this much more."""

RECORD_FRAMING_BYTES = 512
"""What a record's framing (batch header, lengths, offsets) may take of the producer's size
limit, at most; the key, value and headers get the rest."""


def _record_bytes(key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> int:
    """The most a record of these parts counts against the producer's size limit."""
    parts = len(key or b"") + len(value) + sum(len(k) + len(v) + 10 for k, v in headers)
    return RECORD_FRAMING_BYTES + parts


def _freeze_long_lived() -> None:
    """Collect, then move every object alive now (modules, the model, the clients) out of the
    garbage collector's reach. Done by the loop after partitions are assigned: a group join
    leaves garbage behind (kafka-python: ~10,000 timed-out waits with their frames, ~200,000
    objects), and left to the collector it is swept by a full pass in the middle of the stream,
    pausing the loop for ~100 ms; frozen, full passes scan only what the loop allocates
    (measured on tmc2007-500). Not in the assignment callback itself: kafka-python runs it on
    its network thread, which warns when a task holds it ~100 ms."""
    gc.collect()
    gc.freeze()


class Pipeline(Protocol):
    """What a role does with the batches a :class:`Session` polls."""

    def start(self, stopping: threading.Event) -> dict | None:
        """Get ready (restore a model, wait for a snapshot); where each partition resumes:
        offsets by ``(topic, partition)`` (a partition not in them starts at its beginning), or
        None to resume from the group's committed offsets."""

    def connected(self, producer) -> None:
        """The clients are (re)connected; ``producer`` is the session's."""

    def serve(self, instances: list, send) -> tuple[int, int]:
        """Handle a batch's valid instances in offset order; ``send(id, labels, scores,
        version)`` publishes a prediction. Returns how many were predicted and learned."""

    def due(self) -> bool:
        """Whether :meth:`settled` has work that needs every send acknowledged first."""

    def settled(self, offsets: dict) -> None:
        """Every send is acknowledged and committed up to ``offsets``: checkpoint, publish."""

    @property
    def can_roll_back(self) -> bool:
        """Whether :meth:`roll_back` can undo what a lost batch did (else the session stops)."""

    def roll_back(self) -> dict | None:
        """Undo what was learned after the last checkpoint (Kafka lost a batch); resume points
        as :meth:`start` gives them."""

    @property
    def version(self) -> int:
        """The model version the pipeline predicts with now."""

    def close(self, clean: bool, offsets: dict) -> None:
        """Last words after a clean stop (a final checkpoint), and release what it holds."""


class Session:
    """Runs one :class:`Pipeline` against Kafka until :meth:`stop`.

    Call :meth:`run` (it blocks), typically from the main thread with :meth:`stop` wired to
    SIGTERM and SIGINT.
    """

    def __init__(self, config: ServiceConfig, pipeline: Pipeline, labels: list, metrics: Metrics):
        self.config = config
        self.pipeline = pipeline
        self.metrics = metrics
        self.codec = Codec(
            labels, config.format, config.max_message_bytes, config.max_features, config.max_labels
        )
        self._record_limit = config.producer_max_bytes
        self.heartbeat = Heartbeat()
        self.telemetry: TelemetryServer | None = None
        self.offsets: dict[tuple[str, int], int] = {}  # next offset of each partition's reads
        self.assigned: set[tuple[str, int]] = set()
        self._freeze_due = False
        self._resume: dict | None = None
        self._inflight = InFlight()
        self._last_commit = 0.0
        self._stop = threading.Event()
        self._consumer = None
        self._producer = None

    # -- lifecycle --------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish its batch and shut down cleanly (safe from a signal handler)."""
        self._stop.set()

    def run(self) -> None:
        """Start the pipeline, connect, and process batches until :meth:`stop`; then shut down."""
        log.info("starting", extra={"config": self.config.redacted(), "version": __version__})
        self._resume_from(self.pipeline.start(self._stop))
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
                except Exception as error:
                    if not is_kafka_error(error) or not self.pipeline.can_roll_back:
                        raise
                    self._reconnect_later(error)
        except BaseException:
            failed = True
            raise
        finally:
            self.heartbeat.running = False
            self._shutdown(failed)

    def _resume_from(self, resume: dict | None) -> None:
        self._resume = resume
        self.offsets = dict(resume or {})

    def _connect(self) -> None:
        self._consumer, self._producer = open_clients(self.config)
        self._consumer.subscribe(self.config.input_topic, self._assigned, self._revoked)
        self.pipeline.connected(self._producer)

    def _reconnect_later(self, error: Exception) -> None:
        """Drop the clients and what was in flight, roll the pipeline back, wait, reconnect."""
        log.warning(
            "kafka failure: rolling back, then reconnecting",
            extra={"error": str(error), "delay_s": RECONNECT_DELAY_S},
        )
        self.heartbeat.running = False
        self._close_clients()
        self._resume_from(self.pipeline.roll_back())
        self._stop.wait(RECONNECT_DELAY_S)

    def _close_clients(self) -> None:
        self._inflight.clear()
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        if self._producer is not None:
            self._producer.close()
            self._producer = None

    def _shutdown(self, failed: bool) -> None:
        clean = not failed and self._consumer is not None
        try:
            if clean:
                try:
                    self._drain()
                except BaseException:
                    clean = False
                    raise
        finally:
            try:
                self.pipeline.close(clean, dict(self.offsets))
            finally:
                self._close_clients()
                if self.telemetry is not None:
                    self.telemetry.close()
                log.info(
                    "stopped", extra={"model_version": self.pipeline.version, "clean": not failed}
                )

    # -- rebalances -------------------------------------------------------------------------

    def _assigned(self, partitions: list[tuple[str, int]]) -> None:
        """Newly assigned partitions resume where the pipeline's learning ends."""
        self._freeze_due = True
        self.assigned = set(partitions)
        log.info(
            "partitions assigned", extra={"partitions": sorted(f"{t}:{p}" for t, p in partitions)}
        )
        if self._resume is None:
            return
        for topic, partition in partitions:
            offset = self.offsets.get((topic, partition))
            self._consumer.seek(topic, partition, offset)
            if offset is not None:
                log.info(
                    "resuming partition",
                    extra={"partition": f"{topic}:{partition}", "offset": offset},
                )
            else:
                log.info(
                    "partition not in the checkpoint, reading it from the beginning",
                    extra={"partition": f"{topic}:{partition}"},
                )

    def _revoked(self, partitions: list[tuple[str, int]]) -> None:
        """Commit what is acknowledged before another member takes the partitions over.

        Where the client cannot wait here (kafka-python's network thread), sends still in flight
        are not waited for: their records are read again by the next owner (at least once).
        """
        if self._consumer.can_block:
            self._producer.flush()
        self._commit_acknowledged()
        if self._resume is None:  # the next owner continues from the group's commits
            for tp in partitions:
                self.offsets.pop(tp, None)
        self.assigned = set()

    # -- the loop ---------------------------------------------------------------------------

    def _loop(self) -> None:
        batch_size = self.config.batch_size
        timeout_ms = poll_timeout_ms(self.config.fetch_max_wait_ms)
        while not self._stop.is_set():
            self.heartbeat.beat()
            records = self._consumer.poll(timeout_ms, batch_size)
            if self._freeze_due:
                self._freeze_due = False
                _freeze_long_lived()
            if records:
                self._process(records)
            self._commit_when_due()
            if self.pipeline.due():
                self._drain()
                self.pipeline.settled(dict(self.offsets))
            self._update_lag()

    def _process(self, records: list) -> None:
        start = time.perf_counter()
        sends = []
        dead: dict[str, int] = {}
        valid = []
        offsets = self.offsets
        decode = self.codec.decode
        for record in records:
            try:
                valid.append(decode(record.value))
            except InvalidMessage as error:
                sends.append(self._dead_letter(record, error))
                dead[error.reason] = dead.get(error.reason, 0) + 1
            offsets[(record.topic, record.partition)] = record.offset + 1
        producer, topic, encode = self._producer, self.config.output_topic, self.codec.encode_scored

        def send(id, labels: list, scores: list, version: int) -> None:
            value = encode(id, labels, scores, version)
            sends.append(producer.send(topic, key=str(id).encode(), value=value))

        n_predicted, n_learned = self.pipeline.serve(valid, send)
        self._inflight.add(sends, offsets)
        m = self.metrics
        m.messages_in.inc(len(records))
        m.predictions_out.inc(n_predicted)
        m.learned.inc(n_learned)
        for reason, count in dead.items():
            m.dead_letters.labels(reason=reason).inc(count)
        m.model_version.set(self.pipeline.version)
        m.batch_seconds.observe(time.perf_counter() - start)

    def _commit_acknowledged(self, wait: bool = True) -> None:
        """Commit the offsets after the newest batch acknowledged with all before it."""
        offsets = self._inflight.acknowledged()
        if offsets:
            self._consumer.commit(offsets, wait)
            self._last_commit = time.monotonic()

    def _commit_when_due(self) -> None:
        """In the loop commits do not wait for the broker (a lost one is superseded by the next,
        and a crash repeats at most what it would have covered); a checkpoint, a rebalance and
        shutdown commit synchronously."""
        if time.monotonic() - self._last_commit >= COMMIT_INTERVAL_S:
            self._commit_acknowledged(wait=False)

    def _drain(self) -> None:
        """Wait until every send is acknowledged, then commit everything read."""
        self._producer.flush()
        self._commit_acknowledged()
        if len(self._inflight):
            raise KafkaFailure("sends still unacknowledged after a flush; not committing")

    def _dead_letter(self, record, error: InvalidMessage):
        """The original record's key and value, with headers saying why and where from. A value
        too large for the producer's record limit keeps the first bytes that fit, and the header
        ``streamlabels.original_bytes`` gives its whole size."""
        headers = dead_letter_headers(error, record.topic, record.partition, record.offset)
        value = record.value
        if value is not None and _record_bytes(record.key, value, headers) > self._record_limit:
            headers.append(("streamlabels.original_bytes", str(len(value)).encode()))
            value = value[: max(0, self._record_limit - _record_bytes(record.key, b"", headers))]
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

    def _update_lag(self) -> None:
        for topic, partition in self.assigned:
            highwater = self._consumer.highwater(topic, partition)
            position = self.offsets.get((topic, partition))
            if highwater is not None and position is not None:
                self.metrics.lag.labels(topic=topic, partition=str(partition)).set(
                    max(highwater - position, 0)
                )
