"""What the service tells its operators: Prometheus metrics, a health endpoint, JSON logs.

Each :class:`Metrics` has its own registry, so several services (or tests) in one process never
collide. :class:`TelemetryServer` serves ``/metrics`` (Prometheus text format) and ``/healthz``
(200 while the poll loop is alive, 503 otherwise) on 127.0.0.1 by default. :class:`JsonFormatter`
writes one JSON object per log line and masks any secret value it was given, as a last guard
behind the rule that secrets are never logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["Heartbeat", "JsonFormatter", "Metrics", "TelemetryServer", "configure_logging"]

_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and any ``extra`` fields."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        line = json.dumps(entry, default=str)
        for secret in self.secrets:
            line = line.replace(secret, "***")
        return line


def configure_logging(level: str = "INFO", secrets: Iterable[str] = (), stream=None) -> None:
    """Send every log record of the process as JSON lines to ``stream`` (default stderr)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # kafka-python is chatty at INFO; its records show from WARNING up unless DEBUG is asked for.
    numeric = logging.getLevelName(level)
    logging.getLogger("kafka").setLevel(numeric if numeric <= logging.DEBUG else max(numeric, 30))


class Metrics:
    """The service's Prometheus metrics, in a registry of their own."""

    def __init__(self):
        self.registry = registry = CollectorRegistry()
        self.messages_in = Counter(
            "streamlabels_messages_in", "messages polled from the input topic", registry=registry
        )
        self.predictions_out = Counter(
            "streamlabels_predictions_out", "predictions produced", registry=registry
        )
        self.learned = Counter(
            "streamlabels_learned", "labelled instances learned", registry=registry
        )
        self.dead_letters = Counter(
            "streamlabels_dead_letters",
            "messages sent to the dead-letter topic",
            ["reason"],
            registry=registry,
        )
        self.lag = Gauge(
            "streamlabels_consumer_lag",
            "messages behind the partition's high-water mark",
            ["topic", "partition"],
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "streamlabels_batch_seconds",
            "time to decode, predict, learn, produce, flush and commit one batch",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.micro_f1 = Gauge(
            "streamlabels_micro_f1",
            "prequential micro-F1 over labelled messages",
            registry=registry,
        )
        self.subset_accuracy = Gauge(
            "streamlabels_subset_accuracy",
            "prequential subset accuracy over labelled messages",
            registry=registry,
        )
        self.model_version = Gauge(
            "streamlabels_model_version", "instances the model has learned", registry=registry
        )
        self.model_size = Gauge(
            "streamlabels_model_size", "model size by part", ["part"], registry=registry
        )
        self.checkpoints = Counter(
            "streamlabels_checkpoints", "checkpoints written", registry=registry
        )
        self.snapshots_published = Counter(
            "streamlabels_snapshots_published",
            "model snapshots the trainer published to the snapshot topic",
            registry=registry,
        )
        self.snapshots_loaded = Counter(
            "streamlabels_snapshots_loaded", "snapshots a scorer loaded and uses", registry=registry
        )
        self.snapshots_refused = Counter(
            "streamlabels_snapshots_refused",
            "published snapshots a scorer refused (missing chunks, bad hash, undecodable)",
            registry=registry,
        )

    def text(self) -> bytes:
        """The metrics in Prometheus text format."""
        return generate_latest(self.registry)


class TelemetryServer:
    """``/metrics`` and ``/healthz`` over HTTP, on a daemon thread.

    Parameters
    ----------
    metrics
        What ``/metrics`` shows.
    healthy
        Called for each ``/healthz`` request; True means 200, False 503.
    host, port
        Where to listen; port 0 picks a free port (see :attr:`port`).
    """

    def __init__(
        self, metrics: Metrics, healthy: Callable[[], bool], host: str = "127.0.0.1", port: int = 0
    ):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.split("?")[0] == "/metrics":
                    self._reply(200, CONTENT_TYPE_LATEST, metrics.text())
                elif self.path.split("?")[0] == "/healthz":
                    ok = healthy()
                    body = json.dumps({"status": "ok" if ok else "unhealthy"}).encode()
                    self._reply(200 if ok else 503, "application/json", body)
                else:
                    self._reply(404, "text/plain", b"not found\n")

            def _reply(self, code: int, content_type: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):
                """Requests are not logged: scrapes every few seconds would drown the log."""

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="telemetry", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class Heartbeat:
    """Liveness of the poll loop: healthy while it has turned within ``timeout`` seconds."""

    def __init__(self, timeout: float = 60.0):
        self.timeout = timeout
        self.running = False
        self._last = time.monotonic()

    def beat(self) -> None:
        self._last = time.monotonic()

    def __call__(self) -> bool:
        return self.running and time.monotonic() - self._last < self.timeout
