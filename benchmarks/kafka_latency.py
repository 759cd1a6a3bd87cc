"""Latency of the Kafka service at a steady rate on tmc2007-500, through a real broker (Tansu).

``streamlabels serve`` runs in its own process with a preset (default ``--latency``) and its
default scaling. It sends ``--rate`` messages/s (default 1,000) for ``--seconds`` (default 25):
``rate x seconds`` messages, the dataset's 28,596 rows taken again in turn under new ids when
more are asked for. 300 labelled warm-up messages, in the topic before the service starts, absorb
the start-up, the group join and the loading of the compiled kernels. A message's latency is the
time from just before its input is sent to the arrival of its prediction at an independent
reader (one process, one clock: what a client of the service sees, the broker's fetch waits
included). p50, p99 and max are reported over the messages after the first second, and for each
5 s of sending, with the records the broker holds and the CPU the broker and the service took in
that window (from ``/proc``): Tansu's work per fetch grows with the records it holds, so later
windows are slower. The same run first measures the broker alone (the same producer and reader
on one topic, no service, a broker of its own): the floor the service adds to. Messages still
missing a minute after the last send are counted, not waited for.

Run ``python benchmarks/kafka_latency.py [--seconds 300] [--preset throughput] [--client
confluent-kafka]``; prints the figures and writes ``results/kafka_latency.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
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
WINDOW_S = 5.0
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


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a process has used so far, from ``/proc`` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuSampler(threading.Thread):
    """Samples the CPU time of processes every ``every`` seconds from ``start`` on."""

    def __init__(self, pids: dict, start: float, every: float):
        super().__init__(daemon=True)
        self.pids, self.start_at, self.every = pids, start, every
        self.samples = {name: [] for name in pids}
        self.done = threading.Event()

    def run(self) -> None:
        k = 0
        while True:
            wait = self.start_at + k * self.every - time.perf_counter()
            if self.done.wait(max(0.0, wait)):
                return
            for name, pid in self.pids.items():
                self.samples[name].append(cpu_seconds(pid))
            k += 1

    def percent(self) -> dict:
        """CPU per window, as a percentage of one core."""
        return {
            name: [100 * (b - a) / self.every for a, b in itertools.pairwise(values)]
            for name, values in self.samples.items()
        }


def figures(delays: np.ndarray) -> dict:
    """p50/p99/max in ms of latencies in seconds (a message never received is infinitely late)."""
    ms = delays * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50, method="higher")),
        "p99_ms": float(np.percentile(ms, 99, method="higher")),
        "max_ms": float(ms.max()),
        "missing": int(np.isinf(ms).sum()),
    }


def latencies(sent: np.ndarray, received: np.ndarray, warm: int, window: int) -> dict:
    """The figures over the messages after ``warm``, and for each ``window`` messages from the
    first (the test broker slows down as it holds more records)."""
    delays = np.where(received > 0, received - sent, np.inf)
    return {
        **figures(delays[warm:]),
        "by_window": [figures(delays[i : i + window]) for i in range(0, len(delays), window)],
    }


def timed_run(
    servers: str,
    topic: str,
    reader_topic: str,
    messages: list,
    rate: float,
    pids: dict,
    window_s: float,
    before: int = 0,
):
    """Send ``messages`` at ``rate`` to ``topic`` while reading ``reader_topic`` (which holds
    ``before`` records already); send times and first arrival times by message id (0: never
    arrived within a minute after the last send), and the CPU of ``pids`` per window."""
    n = len(messages)
    sent, received = np.zeros(n), np.zeros(n)
    reader = OutputReader(servers, reader_topic)
    feeding = threading.Thread(target=paced, args=(servers, topic, messages, rate, sent))
    sampler = CpuSampler(pids, time.perf_counter(), window_s)
    sampler.start()
    feeding.start()
    try:
        reader.read(before + n, timeout=n / rate + 60)
    except TimeoutError:
        pass
    finally:
        feeding.join()
        sampler.done.set()
        reader.close()
    for value, arrival in zip(reader.values, reader.arrivals):
        i = json.loads(value)["id"]
        if i >= 0:  # not a warm-up message
            received[i] = received[i] or arrival
    return sent, received, sampler.percent()


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
    data = list(stream)
    n = int(args.rate * args.seconds)
    codec = Codec(labels)
    messages = [  # the rows again in turn when more are asked for, each under its own id
        (i, codec.encode_instance(i, *_pair(data[i % len(data)]))) for i in range(n)
    ]
    warm = int(args.rate)
    window = int(args.rate * WINDOW_S)
    load_before = os.getloadavg()
    with Broker() as broker:  # its own broker: Tansu slows down as it holds more records
        servers = broker.bootstrap_servers
        create_topics(servers, ["latency-broker-only"])
        sent, received, cpu = timed_run(
            servers, "latency-broker-only", "latency-broker-only", messages, args.rate,
            {"broker": broker.process.pid}, WINDOW_S,
        )
        floor = {**latencies(sent, received, warm, window), "cpu_percent_by_window": cpu}
    with Broker() as broker, tempfile.TemporaryDirectory() as folder:
        servers = broker.bootstrap_servers
        topics = new_topics(servers, f"latency-{args.client}")
        # Labelled warm-up messages (ids below 0), in the topic before the service starts, load
        # the compiled kernels before the clock starts, as they would be after a service's first
        # minute, and give it a first batch to choose its scaling from.
        warm_up = [
            (f"warm-up{i}", codec.encode_instance(-1 - i, *_pair(pair)))
            for i, pair in enumerate(data[:WARM_UP])
        ]
        paced(servers, topics["input_topic"], warm_up, 10_000.0, np.zeros(WARM_UP))
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
            reader = OutputReader(servers, topics["output_topic"])
            reader.read(WARM_UP, timeout=120)
            reader.close()
            sent, received, cpu = timed_run(
                servers,
                topics["input_topic"],
                topics["output_topic"],
                messages,
                args.rate,
                {"broker": broker.process.pid, "service": process.pid},
                WINDOW_S,
                before=WARM_UP,
            )
            served = {**latencies(sent, received, warm, window), "cpu_percent_by_window": cpu}
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
        "distinct_rows": min(n, len(data)),
        "warm_up_messages_excluded": warm,
        "window_s": WINDOW_S,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "broker_only": floor,
        "service": served,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{n:,} messages ({min(n, len(data)):,} distinct rows) at {args.rate:,.0f}/s for "
        f"{args.seconds:.0f} s, tmc2007-500; load average {load_before[0]:.2f} before, "
        f"{result['load_average_after'][0]:.2f} after"
    )
    service = f"serve --{args.preset} --client {args.client}, {args.scoring}"
    for name, e in (("broker alone (producer -> reader)", floor), (service, served)):
        print(
            f"{name}: p50 {e['p50_ms']:.1f} ms, p99 {e['p99_ms']:.1f} ms, "
            f"max {e['max_ms']:.1f} ms, missing {e['missing']}"
        )
    print(
        "\nby 5 s of sending: records the broker holds at its end (alone; with the service: "
        "input and output), latency p50/p99/max ms, CPU % of one core"
    )
    print(
        f"{'from s':>6} {'held':>6} {'held':>6} | {'broker alone':^20} {'cpu':>4} | "
        f"{'with the service':^20} {'brkr':>4} {'serv':>4}"
    )
    for w, (alone, with_service) in enumerate(zip(floor["by_window"], served["by_window"])):
        held = (w + 1) * window
        print(
            f"{w * WINDOW_S:>6.0f} {held:>6,} {2 * held + 2 * WARM_UP:>6,} | "
            f"{_triple(alone)} {_at(floor, 'broker', w)} | {_triple(with_service)} "
            f"{_at(served, 'broker', w)} {_at(served, 'service', w)}"
        )


def _pair(pair: tuple) -> tuple:
    """A (features, labels) pair as ``encode_instance`` takes it after the id."""
    x, y = pair
    return x, [k for k, v in y.items() if v]


def _triple(e: dict) -> str:
    return f"{e['p50_ms']:5.1f} {e['p99_ms']:6.1f} {e['max_ms']:6.1f}"


def _at(run: dict, name: str, w: int) -> str:
    cpu = run["cpu_percent_by_window"][name]
    return f"{cpu[w]:4.0f}" if w < len(cpu) else "   -"


if __name__ == "__main__":
    main()
