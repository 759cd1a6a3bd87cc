"""The small Kafka client interface the session needs, and its kafka-python implementation.

The session only ever polls records, commits offsets, seeks on assignment, reads high-water marks,
and sends records whose acknowledgement it checks later. Keeping that surface this small lets a
second client (:mod:`.confluent`, selected by ``--client``) run under the same session and
the same tests.

A **producer** has ``send(topic, key=..., value=..., headers=...)`` returning a delivery handle
with ``is_done`` (acknowledged or failed) and ``exception`` (None unless it failed), ``flush()`` and
``close()``; kafka-python's ``KafkaProducer`` is one as it is. A **consumer** is a
:class:`KafkaPythonConsumer`-shaped object. Records have ``topic``, ``partition``, ``offset``,
``key``, ``value`` and ``headers``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from .config import ServiceConfig

__all__ = ["KafkaPythonConsumer", "crc32c_is_compiled", "open_clients"]

log = logging.getLogger(__name__)

Partitions = Callable[[list[tuple[str, int]]], None]


def crc32c_is_compiled() -> bool:
    """Whether kafka-python checks record CRCs with the ``crc32c`` C package (5x faster reads)."""
    from kafka.record import util

    return util.crc32c_c is not None


def open_clients(config: ServiceConfig, client_id: str = "streamlabels-service"):
    """``(consumer, producer)`` of ``config.client``, configured from ``config``.

    Raises ConnectionError when the brokers cannot be reached.
    """
    if config.client == "confluent-kafka":
        from .confluent import open_confluent_clients

        return open_confluent_clients(config, client_id)
    if not crc32c_is_compiled():
        log.warning(
            "the crc32c package is not installed: kafka-python checks CRCs in pure Python, "
            "which makes reading several times slower (pip install crc32c)"
        )
    common = {
        "bootstrap_servers": config.bootstrap_servers.split(","),
        "client_id": client_id,
        **config.kafka_security(),
    }
    try:
        producer = KafkaProducer(
            acks="all",
            linger_ms=config.linger_ms,
            batch_size=config.producer_batch_bytes,
            compression_type=None if config.compression == "none" else config.compression,
            max_request_size=config.producer_max_bytes,
            **common,
        )
        consumer = KafkaConsumer(
            group_id=config.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=config.batch_size,
            fetch_max_wait_ms=config.fetch_max_wait_ms,
            session_timeout_ms=config.session_timeout_ms,
            heartbeat_interval_ms=config.heartbeat_interval_ms,
            **common,
        )
    except KafkaError as error:
        raise ConnectionError(
            f"cannot reach Kafka at {config.bootstrap_servers}: {error}"
        ) from error
    return KafkaPythonConsumer(consumer), producer


class KafkaPythonConsumer:
    """A kafka-python ``KafkaConsumer`` in a consumer group, behind the session's interface."""

    def __init__(self, consumer: KafkaConsumer):
        self._consumer = consumer
        self._in_rebalance = False

    @property
    def can_block(self) -> bool:
        """False inside a rebalance callback: kafka-python may run those on its network thread,
        which must not wait on itself (a flush or a synchronous commit there raises)."""
        return not self._in_rebalance

    def subscribe(self, topic: str, on_assigned: Partitions, on_revoked: Partitions) -> None:
        """Join the group on ``topic``; the callbacks run on a rebalance."""
        self._consumer.subscribe([topic], listener=_Listener(self, on_assigned, on_revoked))

    def poll(self, timeout_ms: int, max_records: int) -> list:
        """The next records of every assigned partition (each partition's in offset order)."""
        batch = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        if len(batch) == 1:
            return next(iter(batch.values()))
        return [record for records in batch.values() for record in records]

    def commit(self, offsets: dict[tuple[str, int], int], wait: bool = True) -> None:
        """Commit the next offset to read of each partition: synchronously, or without waiting
        when ``wait`` is false or inside a rebalance callback (see :attr:`can_block`)."""
        offsets = {TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in offsets.items()}
        if wait and self.can_block:
            self._consumer.commit(offsets)
        else:
            self._consumer.commit_async(offsets)

    def seek(self, topic: str, partition: int, offset: int | None) -> None:
        """Read ``partition`` from ``offset`` next (None: from its beginning)."""
        tp = TopicPartition(topic, partition)
        if offset is None:
            self._consumer.seek_to_beginning(tp)
        else:
            self._consumer.seek(tp, offset)

    def assignment(self) -> set[tuple[str, int]]:
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def highwater(self, topic: str, partition: int) -> int | None:
        """The partition's high-water mark as of the last fetch (None before the first)."""
        return self._consumer.highwater(TopicPartition(topic, partition))

    def close(self) -> None:
        """Leave the group without committing anything."""
        self._consumer.close(autocommit=False)


class _Listener(ConsumerRebalanceListener):
    def __init__(self, consumer: KafkaPythonConsumer, on_assigned: Partitions,
                 on_revoked: Partitions):
        self.consumer, self.on_assigned, self.on_revoked = consumer, on_assigned, on_revoked

    def on_partitions_revoked(self, revoked) -> None:
        self._run(self.on_revoked, revoked)

    def on_partitions_assigned(self, assigned) -> None:
        self._run(self.on_assigned, assigned)

    def _run(self, callback: Partitions, partitions) -> None:
        self.consumer._in_rebalance = True
        try:
            callback([(tp.topic, tp.partition) for tp in partitions])
        finally:
            self.consumer._in_rebalance = False
