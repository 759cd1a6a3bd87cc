"""Seconds from starting ``streamlabels serve`` to its first prediction, through a real broker.

A new replica of the service (a container start, a scale-out) is useless until it predicts. This
starts Tansu, puts 50 tmc2007-500 messages on a fresh input topic, then starts ``streamlabels
serve`` in its own process with the numba cache as given (``--cache filled``: a folder that
``streamlabels compile`` filled first, as a container image would; ``--cache empty``: a new one)
and times, on one clock, the moment the process is started, and the arrival of the first
prediction at an independent reader of the output topic. The consumer group uses the test
settings for this broker (session timeout 6 s, heartbeat 1 s: a join takes about 3 s on Tansu,
whatever the service does; Kafka's own ``group.initial.rebalance.delay.ms`` is 3 s by default).

Run ``python benchmarks/service_first_prediction.py [--cache filled|empty] [--runs 3]``; prints
each run and writes ``results/service_first_prediction.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kafka_throughput import OutputReader, new_topics, produce_all, start_service, stop

from streamlabels.streams import datasets
from streamlabels_service.broker import Broker
from streamlabels_service.codec import Codec

RESULTS = Path(__file__).parent / "results" / "service_first_prediction.json"
N_MESSAGES = 50


def one_run(broker: Broker, messages: list, labels: list, cache: str, tag: str) -> float:
    topics = new_topics(broker.bootstrap_servers, tag)
    produce_all(broker.bootstrap_servers, topics["input_topic"], messages, "confluent-kafka")
    reader = OutputReader(broker.bootstrap_servers, topics["output_topic"])
    os.environ["NUMBA_CACHE_DIR"] = cache
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        process = start_service(broker.bootstrap_servers, topics, labels, folder)
        try:
            reader.read(1, timeout=600)
        finally:
            stop(process)
            reader.close()
    return reader.arrivals[0] - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", choices=("filled", "empty"), default="filled")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    stream = datasets.load("tmc2007-500")
    labels = list(stream.label_names)
    codec = Codec(labels)
    messages = [
        (i, codec.encode_instance(i, x, [name for name, on in y.items() if on]))
        for i, (x, y) in zip(range(N_MESSAGES), stream)
    ]
    filled = tempfile.mkdtemp(prefix="numba-cache-")
    if args.cache == "filled":
        subprocess.run(
            [sys.executable, "-m", "streamlabels.cli", "compile"], check=True, capture_output=True,
            env={**os.environ, "NUMBA_CACHE_DIR": filled},
        )
    seconds = []
    with Broker() as broker:
        for run in range(args.runs):
            cache = filled if args.cache == "filled" else tempfile.mkdtemp(prefix="numba-cache-")
            seconds.append(one_run(broker, messages, labels, cache, f"first-{args.cache}-{run}"))
            print(f"run {run + 1}: first prediction {seconds[-1]:.2f} s after the start")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"cache": args.cache, "seconds": seconds}, indent=1) + "\n")


if __name__ == "__main__":
    main()
