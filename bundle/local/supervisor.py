"""`serve` watches the servers it started and restarts one that dies, as SageMaker replaces an instance whose health
check fails.

Every `poll` seconds each server (the image's gunicorn master, or multi-model-server's launcher, and the variants'
workers) is checked: its process must be running and answer `GET /ping` with 200. A server whose process exited, or
that failed FAILED_PINGS pings in a row, is stopped (its whole process group), the reason logged, and started again on
the same port (the front's routes stay valid) after a backoff that doubles with each recent failure. More than
`max_restarts` failures within `window` seconds means the server cannot be kept up: the supervisor gives up, records
why in `failure` and calls `on_give_up` (serve then stops and exits non-zero).

Restarts run in the supervisor's own thread, which lives until `stop()`: the restarted servers' parent-death signal
(bundle/local/lifetime.py) is tied to it.
"""
from __future__ import annotations

import sys
import threading
import time
from collections import deque
from typing import Callable, Protocol

import urllib3

FAILED_PINGS = 3
PING_TIMEOUT = 5.0


class Server(Protocol):
    url: str
    port: int | None

    def alive(self) -> bool: ...
    def start(self): ...
    def stop(self) -> None: ...


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Supervisor:
    def __init__(
        self,
        servers: dict[str, Server],
        poll: float = 1.0,
        max_restarts: int = 5,
        window: float = 60.0,
        backoff: tuple[float, float] = (0.5, 8.0),  # the first wait, and the longest
        on_restart: Callable[[str], None] = lambda name: None,
        on_give_up: Callable[[], None] = lambda: None,
        log: Callable[[str], None] = _stderr,
    ):
        self.servers = servers
        self.poll = poll
        self.max_restarts = max_restarts
        self.window = window
        self.backoff = backoff
        self.on_restart = on_restart
        self.on_give_up = on_give_up
        self.log = log
        self.failure: str | None = None  # why the supervisor gave up
        self.restarts = 0
        self._failures: deque[float] = deque()
        self._missed = {name: 0 for name in servers}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = urllib3.PoolManager(retries=False, timeout=PING_TIMEOUT)

    @classmethod
    def for_endpoint(cls, endpoint, **options) -> "Supervisor":
        """The servers a LocalEndpoint started: its worker (or multi-model server) and the variants' workers."""
        servers = {"primary": endpoint.worker}
        if getattr(endpoint, "preprocessing_worker", None) is not None:  # the inference pipeline's first container
            servers["preprocessing"] = endpoint.preprocessing_worker
        for index, worker in enumerate(w for w in endpoint.variant_workers.values() if w is not endpoint.worker):
            servers[f"variant-{index + 1}"] = worker
        models = getattr(endpoint._server, "models", None)

        def restarted(name: str) -> None:
            if name == "primary" and models is not None:
                models.forget()  # a new multi-model server has no model registered

        return cls(servers, on_restart=restarted, on_give_up=endpoint.shutdown, **options)

    def start(self) -> "Supervisor":
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._http.clear()

    def _run(self) -> None:
        while not self._stopping.wait(self.poll):
            for name, server in self.servers.items():
                problem = self._problem(name, server)
                if problem and not self._restart(name, server, problem):
                    return

    def _problem(self, name: str, server: Server) -> str | None:
        """Why this server needs a restart, or None while it is healthy."""
        if not server.alive():
            code = server._process.returncode if getattr(server, "_process", None) is not None else None
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
            return f"its process exited ({how})"
        try:
            status = self._http.request("GET", server.url + "/ping").status
            problem = None if status == 200 else f"/ping answered {status}"
        except urllib3.exceptions.HTTPError as e:
            problem = f"/ping failed ({type(e).__name__})"
        if problem is None:
            self._missed[name] = 0
            return None
        self._missed[name] += 1
        return f"{problem} {FAILED_PINGS} times in a row" if self._missed[name] >= FAILED_PINGS else None

    def _restart(self, name: str, server: Server, problem: str) -> bool:
        """Restart until the server is up (True), or give up (False)."""
        while not self._stopping.is_set():
            now = time.monotonic()
            self._failures.append(now)
            while self._failures and self._failures[0] < now - self.window:
                self._failures.popleft()
            if len(self._failures) > self.max_restarts:
                self.failure = f"the {name} server failed {len(self._failures)} times in {self.window:g} s, last: {problem}"
                self.log(f"serve: {self.failure}; giving up")
                server.stop()
                self.on_give_up()
                return False
            wait = min(self.backoff[0] * 2 ** (len(self._failures) - 1), self.backoff[1])
            self.log(f"serve: the {name} server at {server.url}: {problem}; restarting in {wait:g} s")
            server.stop()
            if self._stopping.wait(wait):
                return False
            try:
                server.start()
            except Exception as e:  # noqa: BLE001 - whatever stopped it from starting is the next failure's reason
                problem = f"it did not start again ({str(e).splitlines()[0]})"
                continue
            self.restarts += 1
            self._missed[name] = 0
            self.on_restart(name)
            self.log(f"serve: the {name} server is back at {server.url}")
            return True
        return False
