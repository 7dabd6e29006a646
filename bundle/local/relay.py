"""A loopback server speaking the container protocol (GET /ping, POST /invocations) that relays each request to image
workers behind it: the base of a variant's instances behind one address (bundle/local/balancer.py) and of an inference
pipeline's containers in series (bundle/local/pipeline.py). Subclasses say where a request goes (`forward`)."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FORWARDED = ("content-type", "accept", "contenttype")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "RelayServer"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self._relay("GET", b"")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        self._relay("POST", self.rfile.read(length) if length else b"")

    def _relay(self, method: str, body: bytes) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() in FORWARDED}
        status, data, content_type = self.server.forward(method, self.path.split("?", 1)[0], body, headers)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class RelayServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> "RelayServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def forward(self, method: str, path: str, body: bytes, headers: dict) -> tuple[int, bytes, str]:
        raise NotImplementedError
