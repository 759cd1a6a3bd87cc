"""The session's client interface (:mod:`.clients`) on confluent-kafka (librdkafka).

Selected with ``--client confluent-kafka``. librdkafka does the protocol work in C threads, so a
produced or consumed record costs the Python loop a fraction of what kafka-python's pure-Python
protocol costs; the service's guarantees do not change, since the session sees the same
interface: records in offset order per partition, delivery handles it checks before committing,
synchronous commits, and seeks applied as partitions are assigned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from .config import ServiceConfig

__all__ = ["ConfluentConsumer", "ConfluentProducer", "open_confluent_clients"]

log = logging.getLogger(__name__)

Partitions = Callable[[list[tuple[str, int]]], None]

_SECURITY_NAMES = {
    "security_protocol": "security.protocol",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_plain_username": "sasl.username",
    "sasl_plain_password": "sasl.password",
    "ssl_cafile": "ssl.ca.location",
    "ssl_certfile": "ssl.certificate.location",
    "ssl_keyfile": "ssl.key.location",
}


def open_confluent_clients(config: ServiceConfig, client_id: str):
    """``(consumer, producer)`` on librdkafka, configured from ``config``."""
    common = {
        "bootstrap.servers": config.bootstrap_servers,
        "client.id": client_id,
        # as kafka-python does: without it a small request can wait for the delayed ACK of
        # the one before (tens of ms); librdkafka batches by itself, so throughput is the same
        "socket.nagle.disable": True,
        **{_SECURITY_NAMES[k]: v for k, v in config.kafka_security().items()},
    }
    producer = Producer(
        {
            **common,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": config.linger_ms,
            "batch.size": config.producer_batch_bytes,
            "compression.type": config.compression,
            "message.max.bytes": config.producer_max_bytes,
        }
    )
    consumer = Consumer(
        {
            **common,
            "group.id": config.group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": config.fetch_max_wait_ms,
            "session.timeout.ms": config.session_timeout_ms,
            "heartbeat.interval.ms": config.heartbeat_interval_ms,
        }
    )
    return ConfluentConsumer(consumer), ConfluentProducer(producer)


class _Record:
    """One consumed message with the attributes the session reads."""

    __slots__ = ("headers", "key", "offset", "partition", "topic", "value")

    def __init__(self, message):
        self.topic = message.topic()
        self.partition = message.partition()
        self.offset = message.offset()
        self.key = message.key()
        self.value = message.value()
        self.headers = message.headers()


class ConfluentConsumer:
    """A confluent-kafka ``Consumer`` in a consumer group, behind the session's interface."""

    def __init__(self, consumer: Consumer):
        self._consumer = consumer
        self._seeks: dict | None = None  # offsets chosen while an assignment is under way
        self._assigned: set[tuple[str, int]] = set()

    can_block = True  # rebalance callbacks run inside poll, on the caller's thread

    def subscribe(self, topic: str, on_assigned: Partitions, on_revoked: Partitions) -> None:
        """Join the group on ``topic``; the callbacks run inside :meth:`poll` on a rebalance."""

        def assign(consumer, partitions) -> None:
            self._seeks = {}
            try:
                on_assigned([(tp.topic, tp.partition) for tp in partitions])
                for tp in partitions:
                    tp.offset = self._seeks.get((tp.topic, tp.partition), tp.offset)
            finally:
                self._seeks = None
            self._assigned = {(tp.topic, tp.partition) for tp in partitions}
            consumer.assign(partitions)

        def revoke(consumer, partitions) -> None:
            on_revoked([(tp.topic, tp.partition) for tp in partitions])
            self._assigned = set()

        self._consumer.subscribe([topic], on_assign=assign, on_revoke=revoke)

    def poll(self, timeout_ms: int, max_records: int) -> list:
        """The next records of every assigned partition (each partition's in offset order)."""
        # consume() waits until it has max_records or the timeout passed: wait for one record
        # at most, then take what is already fetched, as kafka-python's poll does.
        messages = self._consumer.consume(max_records, 0)
        if not messages:
            messages = self._consumer.consume(1, timeout_ms / 1000)
            if messages and max_records > 1:
                messages += self._consumer.consume(max_records - 1, 0)
        records = []
        for message in messages:
            error = message.error()
            if error is None:
                records.append(_Record(message))
            elif error.fatal():
                raise KafkaException(error)
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer: %s", error)
        return records

    def commit(self, offsets: dict[tuple[str, int], int], wait: bool = True) -> None:
        """Commit the next offset to read of each partition; synchronously unless ``wait`` is
        false."""
        self._consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
            asynchronous=not wait,
        )

    def seek(self, topic: str, partition: int, offset: int | None) -> None:
        """Read ``partition`` from ``offset`` next (None: from its beginning)."""
        offset = OFFSET_BEGINNING if offset is None else offset
        if self._seeks is not None:  # inside an assignment: applied as it is assigned
            self._seeks[(topic, partition)] = offset
        else:
            self._consumer.seek(TopicPartition(topic, partition, offset))

    def assignment(self) -> set[tuple[str, int]]:
        return set(self._assigned)

    def highwater(self, topic: str, partition: int) -> int | None:
        """The partition's high-water mark as of the last fetch (None before the first)."""
        _, high = self._consumer.get_watermark_offsets(
            TopicPartition(topic, partition), cached=True
        )
        return high if high >= 0 else None

    def close(self) -> None:
        """Leave the group without committing anything (auto-commit is off)."""
        self._consumer.close()


class _Delivery:
    """A send's delivery handle; asking whether it is done serves pending delivery reports."""

    __slots__ = ("_producer", "done", "exception")

    def __init__(self, producer: Producer):
        self._producer = producer
        self.done = False
        self.exception = None

    def __call__(self, error, message) -> None:
        self.done = True
        if error is not None:
            self.exception = KafkaException(error)

    @property
    def is_done(self) -> bool:
        if not self.done:
            self._producer.poll(0)
        return self.done


class ConfluentProducer:
    """A confluent-kafka ``Producer`` with kafka-python's ``send``, ``flush`` and ``close``."""

    def __init__(self, producer: Producer):
        self._producer = producer

    def send(self, topic: str, key=None, value=None, headers=None) -> _Delivery:
        """Queue a record; its handle is done once the broker acknowledged or refused it."""
        delivery = _Delivery(self._producer)
        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key, headers=headers, on_delivery=delivery
                )
                return delivery
            except BufferError:  # the local queue is full: wait for deliveries to drain it
                self._producer.poll(0.05)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued record is acknowledged or failed."""
        remaining = self._producer.flush(-1 if timeout is None else timeout)
        if remaining:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, f"{remaining} sends pending"))

    def close(self) -> None:
        """Give queued records a moment, then drop the producer (its sends are not waited on
        after a failure: nothing they carry was committed)."""
        self._producer.flush(1.0)
