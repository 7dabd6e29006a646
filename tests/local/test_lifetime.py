"""Nothing outlives what started it: a parent killed with SIGKILL (no chance to clean up) takes the image's worker
along, the gunicorn master and its workers, and the multi-model server's launcher, JVM and Python workers."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import psutil
import pytest

from bundle.artifact.build import sourcedir_tarball
from bundle.artifact.tarball import unpack_artifact
from bundle.local.multi_model import java_problem
from conftest import REPO

PARENT = """
import json, sys, time
from pathlib import Path
from bundle.local.worker import ImageWorker
from bundle.local.multi_model import MultiModelServer
kind, directory = sys.argv[1], Path(sys.argv[2])
server = ImageWorker(directory / "model").start() if kind == "worker" else MultiModelServer(directory, directory / "code").start()
print(json.dumps({"leader": server._process.pid}), flush=True)
time.sleep(600)
"""


def family_of_a_killed_parent(kind: str, directory) -> tuple[list[str], list[psutil.Process]]:
    """Start `kind` from a child process, SIGKILL that child, and return (the names of the server's processes, those
    still alive once they had up to 30 s to go)."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT, kind, str(directory)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    family = []
    try:
        leader = psutil.Process(json.loads(parent.stdout.readline())["leader"])
        family = [leader, *leader.children(recursive=True)]
        names = [p.name() for p in family]
        parent.kill()
        parent.wait()
        _, alive = psutil.wait_procs(family, timeout=30)
        return names, alive
    finally:
        parent.kill()
        parent.wait()
        for process in family:  # whatever the outcome, leave nothing behind
            try:
                os.killpg(process.pid, signal.SIGKILL) if process.pid == family[0].pid else process.kill()
            except (psutil.NoSuchProcess, ProcessLookupError, PermissionError):
                pass


def test_a_killed_parent_takes_the_image_worker_along(artifact, tmp_path):
    unpack_artifact(artifact.path, tmp_path / "model")
    family, alive = family_of_a_killed_parent("worker", tmp_path)
    assert len(family) >= 2, f"a gunicorn master and its worker: {family}"
    assert not alive, f"still running: {[p.pid for p in alive]}"


@pytest.mark.skipif(java_problem() is not None, reason=str(java_problem()))
def test_a_killed_parent_takes_the_multi_model_server_and_its_jvm_along(tmp_path):
    (tmp_path / "sourcedir.tar.gz").write_bytes(sourcedir_tarball())
    unpack_artifact(tmp_path / "sourcedir.tar.gz", tmp_path / "code", require_code=False)
    family, alive = family_of_a_killed_parent("multi-model", tmp_path)
    assert "java" in family, f"the server runs a JVM: {family}"
    assert not alive, f"still running: {[p.pid for p in alive]}"
