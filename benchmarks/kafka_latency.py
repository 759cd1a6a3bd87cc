"""Latency of the Kafka service at a steady rate on tmc2007-500, through a real broker (Tansu).

``streamlabels serve`` runs in its own process with a preset (default ``--latency``). Messages
are produced at a fixed rate (default 1,000/s) for a fixed time (default 25 s) after one warm-up
message that absorbs the start-up and the group join. A message's latency is the time from just
before its input is sent to the arrival of its prediction at an independent reader (one process,
one clock: what a client of the service sees, the broker's fetch waits included). p50, p99 and
max are reported over the messages after the first second.

Run ``python benchmarks/kafka_latency.py [--preset throughput] [--client confluent-kafka]``;
prints the figures and writes ``results/kafka_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from confluent_kafka import Producer
from kafka_throughput import OutputReader, new_topics, start_service, stop  # script folder

from service.broker import Broker
from service.codec import Codec
from streamlabels.streams import datasets

RESULTS = Path(__file__).parent / "results" / "kafka_latency.json"


def paced(servers: str, topic: str, messages: list, rate: float, sent: np.ndarray) -> None:
    """Send ``messages`` at ``rate`` per second, noting each send time in ``sent``."""
    producer = Producer({"bootstrap.servers": servers, "acks": "all", "linger.ms": 0})
    start = time.perf_counter()
    for i, (key, value) in enumerate(messages):
        wait = start + i / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        sent[i] = time.perf_counter()
        producer.produce(topic, value=value, key=str(key).encode())
        producer.poll(0)
    producer.flush()


def percentiles(ms: np.ndarray) -> dict:
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


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
    sent = np.zeros(n)
    with Broker() as broker, tempfile.TemporaryDirectory() as folder:
        servers = broker.bootstrap_servers
        topics = new_topics(servers, f"latency-{args.client}")
        reader = OutputReader(servers, topics["output_topic"])
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
            warm_up = codec.encode_instance(-1, data[0][0], None)
            paced(servers, topics["input_topic"], [("warm-up", warm_up)], 1.0, np.zeros(1))
            reader.read(1, timeout=120)
            reader.arrivals.clear()
            reader.values.clear()
            paced(servers, topics["input_topic"], messages, args.rate, sent)
            reader.read(n, timeout=600)
        finally:
            stop(process)
            reader.close()
    received = np.zeros(n)
    for value, arrival in zip(reader.values, reader.arrivals):
        i = json.loads(value)["id"]
        received[i] = received[i] or arrival
    warm = slice(int(args.rate), n)
    end_to_end = (received[warm] - sent[warm]) * 1000
    result = {
        "dataset": "tmc2007-500",
        "client": args.client,
        "preset": args.preset,
        "scoring": args.scoring,
        "rate_messages_per_s": args.rate,
        "seconds": args.seconds,
        "messages": n,
        "warm_up_messages_excluded": int(args.rate),
        "end_to_end": percentiles(end_to_end),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    e = result["end_to_end"]
    print(
        f"{args.client}, --{args.preset}, {args.scoring}: {n:,} messages at {args.rate:,.0f}/s "
        f"for {args.seconds:.0f} s: p50 {e['p50_ms']:.1f} ms, p99 {e['p99_ms']:.1f} ms, "
        f"max {e['max_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
