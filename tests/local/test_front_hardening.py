"""The local endpoint's front refuses what it cannot read, times out idle clients, caps connections, warns off loopback."""
from __future__ import annotations

import json
import socket
import threading
import warnings
from urllib.parse import urlparse

import pytest

from bundle.errors import BundleError
from bundle.local import front
from bundle.local.endpoint import LocalEndpoint, is_loopback


def raw_request(url: str, request: bytes, timeout: float = 10) -> bytes:
    address = urlparse(url)
    with socket.create_connection((address.hostname, address.port), timeout=timeout) as conn:
        conn.sendall(request)
        chunks = []
        while True:
            try:
                data = conn.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            chunks.append(data)
            if b"\r\n\r\n" in b"".join(chunks):
                head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0)
                if len(body) >= length:
                    break
        return b"".join(chunks)


def status_and_json(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body) if body else {}


@pytest.mark.parametrize("length", [b"-5", b"abc", b"4, 4"])
def test_a_bad_content_length_is_a_4xx(endpoint, length):
    request = b"POST /endpoints/iris-test/invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + length + b"\r\n\r\n[]"
    status, document = status_and_json(raw_request(endpoint.url, request))
    assert status == 400 and "Content-Length" in document["message"]


def test_a_chunked_body_is_refused_with_411(endpoint):
    request = b"POST /endpoints/iris-test/invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n\r\n"
    status, document = status_and_json(raw_request(endpoint.url, request))
    assert status == 411 and "chunked" in document["message"]


def test_an_idle_connection_is_closed(endpoint, monkeypatch):
    monkeypatch.setattr(front._FrontHandler, "timeout", 0.5)
    address = urlparse(endpoint.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\n")  # and then nothing
        assert conn.recv(1024) == b"", "the front closed the idle connection"


def test_connections_over_the_cap_are_answered_503(endpoint):
    # A front of its own with a cap of one, before the shared endpoint's worker: connections other tests left open on
    # the shared front would hold (and later free) slots of its cap.
    server = front._FrontServer(("127.0.0.1", 0), endpoint.worker_url, "iris-test", "primary", 10, False, max_connections=1)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = "http://127.0.0.1:%d" % server.server_address[1]
    holder = socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10)
    try:
        holder.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200" in holder.recv(1024).split(b"\r\n")[0], "the first connection holds the only slot (keep-alive)"
        answer = raw_request(url, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503")
    finally:
        holder.close()
        server.shutdown()
        server.server_close()


def test_binding_beyond_loopback_warns(tmp_path):
    """The warning comes before anything starts: an artifact that is not there ends the endpoint after it."""
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0") and not is_loopback("127.evil.example")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(BundleError):
            LocalEndpoint(tmp_path / "absent.tar.gz", host="0.0.0.0", port=0)
    assert any("not a loopback address" in str(w.message) for w in caught)
