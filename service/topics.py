"""Moving streams in and out of Kafka: create topics, replay a stream into one, read one back.

The demo, the benchmark and the tests all need the same three chores around the service; they
live here so each uses the same, tested code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Self

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from .codec import Codec

__all__ = ["TopicReader", "create_topics", "instance_messages", "produce"]


def create_topics(bootstrap_servers: str, names: Iterable[str], partitions: int = 1) -> None:
    """Create the topics (existing ones are left as they are)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="streamlabels-admin")
    try:
        for name in names:
            try:
                admin.create_topics([NewTopic(name, partitions, 1)])
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def instance_messages(stream: Iterable[tuple[dict, dict]], codec: Codec, start: int = 0):
    """Yield ``(id, encoded message)`` for each ``(x, y)``; ids count up from ``start``."""
    for i, (x, y) in enumerate(stream, start):
        yield i, codec.encode_instance(i, x, [label for label, v in y.items() if v])


def produce(
    bootstrap_servers: str,
    topic: str,
    messages: Iterable[tuple[object, bytes]],
    rate: float | None = None,
    on_sent: Callable[[int], None] | None = None,
) -> int:
    """Send ``(key, value)`` pairs to ``topic`` in order, flush, and return how many were sent.

    ``rate`` (messages per second) paces the sends; ``on_sent`` is called with the running count
    every 100 messages, for progress displays.
    """
    producer = KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        linger_ms=5,
        client_id="streamlabels-replay",
    )
    start = time.perf_counter()
    count = 0
    try:
        for key, value in messages:
            if rate is not None:
                wait = start + count / rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            producer.send(topic, key=str(key).encode(), value=value)
            count += 1
            if on_sent is not None and count % 100 == 0:
                on_sent(count)
        producer.flush()
    finally:
        producer.close()
    return count


class TopicReader:
    """Reads every partition of a topic from the beginning, without a consumer group.

    Records accumulate in :attr:`records` across calls of :meth:`read_until`.
    """

    def __init__(self, bootstrap_servers: str, topic: str):
        self.topic = topic
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="streamlabels-reader",
        )
        partitions = None
        deadline = time.monotonic() + 30
        while not partitions and time.monotonic() < deadline:
            partitions = self.consumer.partitions_for_topic(topic)
            if not partitions:
                self.consumer.poll(timeout_ms=100)
        if not partitions:
            raise LookupError(f"topic {topic!r} does not exist")
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        self.consumer.assign(assigned)
        self.consumer.seek_to_beginning(*assigned)
        self.records = []

    def read_until(self, done: Callable[[list], bool], timeout: float = 60.0) -> list:
        """Poll until ``done(records)`` holds, or raise TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not done(self.records):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.topic}: condition not met after {timeout} s "
                    f"({len(self.records)} records read)"
                )
            for records in self.consumer.poll(timeout_ms=200).values():
                self.records.extend(records)
        return self.records

    def close(self) -> None:
        self.consumer.close(autocommit=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
