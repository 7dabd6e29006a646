"""`serve` supervises its servers: the image's gunicorn master killed with SIGKILL is noticed, the reason logged, and
the server started again on its port, so /ping and invocations answer again; a server that keeps dying makes `serve`
give up and exit non-zero."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil

from bundle.local.endpoint import LocalEndpoint
from bundle.ops.examples import instances_request
from conftest import REPO, http_request

RESTART_WAIT = 90.0  # how long a test waits for a restart on a busy machine (it returns as soon as it happens)


def wait_for(condition, what: str, timeout: float = RESTART_WAIT):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.1)


def test_a_killed_gunicorn_master_is_restarted_and_the_endpoint_answers_again(artifact):
    logged = []
    with LocalEndpoint(artifact.path, port=0, endpoint_name="iris-supervised") as endpoint:
        supervisor = endpoint.supervise(poll=0.2, log=logged.append)
        killed, port = endpoint.worker._process.pid, endpoint.worker.port
        os.kill(killed, signal.SIGKILL)
        wait_for(lambda: supervisor.restarts == 1, "the worker restarted")
        assert endpoint.worker._process.pid != killed and endpoint.worker.port == port
        assert http_request(endpoint.url, "GET", "/ping")[0] == 200
        status, _, body = http_request(
            endpoint.url, "POST", "/endpoints/iris-supervised/invocations", json.dumps(instances_request()).encode(), {"Content-Type": "application/json"}
        )
        assert status == 200 and json.loads(body)["predictions"] == [0, 1, 2]
    assert any("its process exited (killed by signal 9)" in line for line in logged), logged
    assert supervisor.failure is None


def gunicorn_master(serve: psutil.Process) -> psutil.Process | None:
    for child in serve.children():
        try:
            if "gunicorn" in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


def test_serve_gives_up_and_exits_non_zero_when_its_worker_keeps_dying(artifact):
    process = subprocess.Popen(
        [sys.executable, "-m", "bundle", "serve", "--port", "0", "--workers", "1", "--max-restarts", "1", "--artifact", str(artifact.path)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert json.loads(process.stdout.readline())["status"] == "serving"
        serve = psutil.Process(process.pid)
        first = gunicorn_master(serve)
        first.kill()
        wait_for(lambda: (m := gunicorn_master(serve)) is not None and m.pid != first.pid, "a new gunicorn master")
        gunicorn_master(serve).kill()  # the second death in a minute: more than --max-restarts 1
        out, err = process.communicate(timeout=RESTART_WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1, err
    last = json.loads(out.strip().splitlines()[-1])
    assert last["status"] == "failed" and "failed 2 times" in last["reason"], last
    assert "restarting in" in err and "giving up" in err and "Traceback" not in err
