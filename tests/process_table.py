"""Nothing the suite starts outlives it: a pytest plugin (loaded by conftest.py) that fails the run listing any server
process the suite started and left behind, and turns SIGTERM into the KeyboardInterrupt pytest cleans up after.

The run marks itself with an environment variable that every process it starts inherits (the xdist workers, the
image's gunicorn, multi-model-server's launcher and JVM, `python -m bundle serve`); at the end, the top process
(the xdist controller, or pytest alone) looks for server processes that carry this run's mark, gives them up to
LEFTOVER_GRACE seconds to leave (a server whose parent died is being told to) and fails naming the ones that stay.
Other runs on the same machine carry other marks, so they never count.
"""
from __future__ import annotations

import os
import re
import signal
import uuid

import psutil
import pytest

MARK = "BUNDLE_TEST_RUN"
SERVER = re.compile(r"gunicorn|java|moto|mxnet-model-server|multi_model\.py|-m bundle serve")
LEFTOVER_GRACE = 30.0


def pytest_configure(config):
    os.environ.setdefault(MARK, uuid.uuid4().hex)  # the xdist workers inherit the controller's
    if not hasattr(config, "workerinput"):
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def leftovers(mark: str) -> list[psutil.Process]:
    """Server processes started by the run marked `mark` that are still running."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "environ"]):
        try:
            command = " ".join(process.info["cmdline"] or ())
            if (process.info["environ"] or {}).get(MARK) == mark and SERVER.search(command) and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:
            continue
    return [p for p in found if p.pid != os.getpid()]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller checks once every worker is done
    left = leftovers(os.environ[MARK])
    if left:
        _, left = psutil.wait_procs(left, timeout=LEFTOVER_GRACE)
    if left:
        lines = []
        for process in left:
            try:
                lines.append(f"  pid {process.pid}: {' '.join(process.cmdline())[:200]}")
            except psutil.Error:
                lines.append(f"  pid {process.pid}")
            try:
                process.kill()  # reported, then stopped: the next run starts clean
            except psutil.Error:
                pass
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "server processes the suite started are still running after it:\n" + "\n".join(lines)
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
