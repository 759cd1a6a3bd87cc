"""Memory of the Kafka service over a long replay: does its resident set stay flat?

A stream is replayed many times (default: yeast, 20 passes, about 48,000 messages) at a steady
rate through a real broker (Tansu) into ``streamlabels serve`` running in its own process, with
checkpoints on. Every second the service's resident set (``VmRSS`` from ``/proc/PID/status``) and
the number of predictions read back are sampled. The summary compares the resident set after the
warm-up (the first fifth of the run: imports, the first JIT compilations, the first checkpoints)
with the end of the run, and fits a slope over the rest: a leak shows as a steady climb.

Run ``python benchmarks/service_memory.py`` (``STREAMLABELS_DATA`` must point at the datasets);
prints the summary and writes ``results/hardening.json``.
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

from streamlabels.streams import datasets
from streamlabels_service.broker import Broker
from streamlabels_service.codec import Codec
from streamlabels_service.topics import TopicReader, create_topics, instance_messages, produce

RESULTS = Path(__file__).parent / "results" / "hardening.json"
REPO = Path(__file__).resolve().parents[1]


def rss_kib(pid: int) -> int:
    """The process's resident set in KiB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(f"no VmRSS for process {pid}")


def summarise(samples: list[dict]) -> dict:
    """Warm-up versus end, and the slope (MiB per 10,000 predictions) after the warm-up."""
    rss = np.array([s["rss_kib"] for s in samples], dtype=float) / 1024
    done = np.array([s["predictions"] for s in samples], dtype=float)
    settled = slice(len(samples) // 5, None)
    slope = np.polyfit(done[settled], rss[settled], 1)[0] * 10_000 if np.ptp(done[settled]) else 0.0
    return {
        "samples": len(samples),
        "rss_mib_at_warmup_end": round(float(rss[len(samples) // 5]), 1),
        "rss_mib_final": round(float(rss[-1]), 1),
        "rss_mib_max": round(float(rss.max()), 1),
        "rss_mib_growth_after_warmup": round(float(rss[-1] - rss[len(samples) // 5]), 1),
        "rss_mib_per_10k_predictions_after_warmup": round(float(slope), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="yeast")
    parser.add_argument("--passes", type=int, default=20)
    parser.add_argument("--rate", type=float, default=800.0, help="messages per second")
    args = parser.parse_args()

    stream = datasets.load(args.dataset)
    labels, data = list(stream.label_names), list(stream)
    codec = Codec(labels)
    messages = list(instance_messages(data * args.passes, codec))
    topics = {
        "input_topic": "in-memory",
        "output_topic": "out-memory",
        "dead_letter_topic": "dlq-memory",
        "group_id": "memory",
    }
    with Broker() as broker, tempfile.TemporaryDirectory() as folder:
        servers = broker.bootstrap_servers
        create_topics(servers, [v for k, v in topics.items() if k != "group_id"])
        flags = {
            "bootstrap_servers": servers,
            "labels": ",".join(labels),
            "checkpoint_dir": os.path.join(folder, "checkpoints"),
            "checkpoint_every": 5000,
            "metrics_port": "off",
            "session_timeout_ms": 6000,
            "heartbeat_interval_ms": 1000,
            **topics,
        }
        command = [sys.executable, "-m", "streamlabels.cli", "serve"] + [
            arg for k, v in flags.items() for arg in ("--" + k.replace("_", "-"), str(v))
        ]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        service = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.DEVNULL)
        sender = threading.Thread(
            target=produce, args=(servers, topics["input_topic"], messages, args.rate)
        )
        samples: list[dict] = []
        start = time.monotonic()
        sender.start()
        try:
            with TopicReader(servers, topics["output_topic"]) as out:
                while len(out.records) < len(messages):
                    tick = time.monotonic()
                    samples.append(
                        {
                            "t": round(tick - start, 2),
                            "rss_kib": rss_kib(service.pid),
                            "predictions": len(out.records),
                        }
                    )
                    while time.monotonic() - tick < 1.0:
                        for records in out.consumer.poll(timeout_ms=100).values():
                            out.records.extend(records)
                    if service.poll() is not None:
                        raise RuntimeError(f"the service exited with {service.returncode}")
        finally:
            sender.join()
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=60)
    result = {
        "benchmark": "service memory over a long replay",
        "dataset": args.dataset,
        "passes": args.passes,
        "messages": len(messages),
        "rate_per_s": args.rate,
        "python": platform.python_version(),
        "summary": summarise(samples),
        "curve": samples,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=2))


if __name__ == "__main__":
    main()
