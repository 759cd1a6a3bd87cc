"""A real HTTP server on 127.0.0.1 that serves the shared upstream copies under their pinned paths.

``{root}/{path}.gz`` (the shared folder stores the exact upstream bytes gzipped) is served,
decompressed, at ``/{path}``, with ``Range`` support so that resumed downloads can be tested.
``faults`` makes it misbehave per path: ``"corrupt"`` (one byte changed), ``"short"`` (a complete
response missing its last byte), ``"cut"`` (announces every byte, sends half, closes), ``"slow"``
(64 KiB every 50 ms) and an integer status (``500``). ``requests`` records ``(path, range header)`` of every request.

Run it by hand to point ``STREAMLABELS_MIRROR`` at it:
``python tests/streams/upstream_server.py ../shared/datasets/upstream 8765``.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import re
import sys
import threading
import time
from pathlib import Path


class UpstreamHandler(http.server.BaseHTTPRequestHandler):
    def __init__(self, *args, server_state, **kwargs):
        self.state = server_state
        super().__init__(*args, **kwargs)

    def log_message(self, *args):
        pass

    def _body(self, path: str) -> bytes | None:
        copy = self.state.root / (path.lstrip("/") + ".gz")
        if not copy.is_file() or ".." in path:
            return None
        return self.state.cached(copy)

    def do_GET(self):
        path = self.path.split("?")[0]
        self.state.requests.append((path, self.headers.get("Range")))
        fault = self.state.faults.get(path)
        body = self._body(path)
        if isinstance(fault, int) or body is None:
            self.send_error(fault if isinstance(fault, int) else 404)
            return
        if fault == "corrupt":
            middle = len(body) // 2
            body = body[:middle] + bytes([body[middle] ^ 1]) + body[middle + 1 :]
        elif fault == "short":
            body = body[:-1]
        start = 0
        wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if wanted and int(wanted.group(1)) < len(body):
            start = int(wanted.group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if fault == "cut":
            self.wfile.write(body[start : start + (len(body) - start) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if fault == "slow":  # 64 KiB every 50 ms, so that a client can be killed mid-transfer
            for i in range(start, len(body), 1 << 16):
                self.wfile.write(body[i : i + (1 << 16)])
                self.wfile.flush()
                time.sleep(0.05)
            return
        self.wfile.write(body[start:])


class UpstreamServer:
    """The server, its base URL, and the knobs tests turn (``faults``, ``requests``)."""

    def __init__(self, root: Path, port: int = 0):
        self.root = Path(root)
        self.faults: dict[str, object] = {}
        self.requests: list[tuple[str, str | None]] = []
        self._bodies: dict[Path, bytes] = {}
        handler = functools.partial(UpstreamHandler, server_state=self)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def cached(self, copy: Path) -> bytes:
        if copy not in self._bodies:
            self._bodies[copy] = gzip.decompress(copy.read_bytes())
        return self._bodies[copy]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


if __name__ == "__main__":
    server = UpstreamServer(Path(sys.argv[1]), int(sys.argv[2]))
    print(f"serving {server.root} at {server.url}", flush=True)
    threading.Event().wait()
