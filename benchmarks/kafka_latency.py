"""Latency of the Kafka service at a steady rate on tmc2007-500, through a real broker (Tansu).

``streamlabels serve`` runs in its own process with a preset (default ``--latency``). Messages
are produced at a fixed rate (default 1,000/s) for a fixed time (default 25 s) after 300
labelled warm-up messages that absorb the start-up, the group join and the loading of the
compiled kernels. A message's latency is the time from just before its input is sent to the
arrival of its prediction at an independent reader (one process, one clock: what a client of the
service sees, the broker's fetch waits included). p50, p99 and max are reported over the
messages after the first second, and p99 over each 5 s (Tansu's work per fetch grows with the
records it holds, so later windows are slower). The same run first measures the broker alone
(the same producer and reader on one topic, no service, a broker of its own): the floor the
service adds to. Messages still missing a minute after the last send are counted, not waited
for.

Run ``python benchmarks/kafka_latency.py [--preset throughput] [--client confluent-kafka]``;
prints the figures and writes ``results/kafka_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from confluent_kafka import Producer
from kafka_throughput import OutputReader, new_topics, start_service, stop  # script folder

from streamlabels.streams import datasets
from streamlabels_service.broker import Broker
from streamlabels_service.codec import Codec
from streamlabels_service.topics import create_topics

RESULTS = Path(__file__).parent / "results" / "kafka_latency.json"
WARM_UP = 300
LINGER_MS = 5
"""The paced producer's linger: librdkafka's default. With 0 every message is a record batch of
its own, and Tansu's work per fetch grows with the batches it holds: at 1,000 messages/s a reader
of the broker alone stalled after 8,700 of 25,000 records (broker at 86% CPU); with 5 it keeps
p99 under 20 ms. What a client sends is the client's choice; this one batches as librdkafka's
users do by default."""


def paced(servers: str, topic: str, messages: list, rate: float, sent: np.ndarray) -> None:
    """Send ``messages`` at ``rate`` per second, noting each send time in ``sent``."""
    producer = Producer({"bootstrap.servers": servers, "acks": "all", "linger.ms": LINGER_MS})
    start = time.perf_counter()
    for i, (key, value) in enumerate(messages):
        wait = start + i / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        sent[i] = time.perf_counter()
        producer.produce(topic, value=value, key=str(key).encode())
        producer.poll(0)
    producer.flush()


def percentiles(sent: np.ndarray, received: np.ndarray, warm: int, window: int) -> dict:
    """p50/p99/max in ms over the messages after ``warm``, and p99 per ``window`` messages (the
    test broker slows down as it holds more records); a message never received counts as
    missing (and as infinitely late in the percentiles)."""
    delays = np.where(received[warm:] > 0, received[warm:] - sent[warm:], np.inf) * 1000
    return {
        "p50_ms": float(np.percentile(delays, 50, method="higher")),
        "p99_ms": float(np.percentile(delays, 99, method="higher")),
        "max_ms": float(delays.max()),
        "missing": int(np.isinf(delays).sum()),
        "p99_ms_by_window": [
            float(np.percentile(delays[i : i + window], 99, method="higher"))
            for i in range(0, len(delays), window)
        ],
    }


def timed_run(
    servers: str, topic: str, reader_topic: str, messages: list, rate: float, before: int = 0
):
    """Send ``messages`` at ``rate`` to ``topic`` while reading ``reader_topic`` (which holds
    ``before`` records already); send times and first arrival times by message id (0: never
    arrived within a minute after the last send)."""
    n = len(messages)
    sent, received = np.zeros(n), np.zeros(n)
    reader = OutputReader(servers, reader_topic)
    feeding = threading.Thread(target=paced, args=(servers, topic, messages, rate, sent))
    feeding.start()
    try:
        reader.read(before + n, timeout=n / rate + 60)
    except TimeoutError:
        pass
    finally:
        feeding.join()
        reader.close()
    for value, arrival in zip(reader.values, reader.arrivals):
        i = json.loads(value)["id"]
        if i >= 0:  # not a warm-up message
            received[i] = received[i] or arrival
    return sent, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="messages/s")
    parser.add_argument("--seconds", type=float, default=25.0, help="how long to send")
    parser.add_argument("--preset", default="latency", choices=("latency", "throughput"))
    parser.add_argument("--client", default="kafka-python")
    parser.add_argument("--scoring", default="batch", choices=("batch", "strict"))
    args = parser.parse_args()

    stream = datasets.load("tmc2007-500")
    labels = list(stream.label_names)
    n = int(args.rate * args.seconds)
    data = [pair for _, pair in zip(range(n), stream)]
    codec = Codec(labels)
    messages = [
        (i, codec.encode_instance(i, x, [k for k, v in y.items() if v]))
        for i, (x, y) in enumerate(data)
    ]
    warm = int(args.rate)
    window = int(args.rate * 5)  # 5 s
    with Broker() as broker:  # its own broker: Tansu slows down as it holds more records
        servers = broker.bootstrap_servers
        create_topics(servers, ["latency-broker-only"])
        floor = percentiles(
            *timed_run(servers, "latency-broker-only", "latency-broker-only", messages, args.rate),
            warm,
            window,
        )
    with Broker() as broker, tempfile.TemporaryDirectory() as folder:
        servers = broker.bootstrap_servers
        topics = new_topics(servers, f"latency-{args.client}")
        process = start_service(
            servers,
            topics,
            labels,
            folder,
            client=args.client,
            scoring=args.scoring,
            preset=args.preset,
        )
        try:
            # Labelled warm-up messages (ids below 0) load the compiled scoring and learning
            # kernels before the clock starts, as they would be after a service's first minute.
            warm_up = [
                (f"warm-up{i}", codec.encode_instance(-1 - i, x, [k for k, v in y.items() if v]))
                for i, (x, y) in enumerate(data[:WARM_UP])
            ]
            paced(servers, topics["input_topic"], warm_up, 100.0, np.zeros(WARM_UP))
            reader = OutputReader(servers, topics["output_topic"])
            reader.read(WARM_UP, timeout=120)
            reader.close()
            served = percentiles(
                *timed_run(
                    servers,
                    topics["input_topic"],
                    topics["output_topic"],
                    messages,
                    args.rate,
                    before=WARM_UP,
                ),
                warm,
                window,
            )
        finally:
            stop(process)
    result = {
        "dataset": "tmc2007-500",
        "client": args.client,
        "preset": args.preset,
        "scoring": args.scoring,
        "rate_messages_per_s": args.rate,
        "seconds": args.seconds,
        "messages": n,
        "warm_up_messages_excluded": warm,
        "broker_only": floor,
        "service": served,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{n:,} messages at {args.rate:,.0f}/s for {args.seconds:.0f} s, tmc2007-500")
    for name, e in (
        ("broker only (producer -> reader)", floor),
        (f"serve --{args.preset} --client {args.client}, {args.scoring}", served),
    ):
        print(
            f"{name}: p50 {e['p50_ms']:.1f} ms, p99 {e['p99_ms']:.1f} ms, "
            f"max {e['max_ms']:.1f} ms, missing {e['missing']}; p99 by 5 s: "
            + " ".join(f"{p:.0f}" for p in e["p99_ms_by_window"])
        )


if __name__ == "__main__":
    main()
