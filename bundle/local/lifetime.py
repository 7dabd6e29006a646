"""The servers this bundle starts end with the process that started them.

`die_with_parent()` is a `preexec_fn` for subprocess.Popen: in the child, before it executes the server, it asks
Linux (prctl PR_SET_PDEATHSIG) to send the child a signal when its parent dies, however it dies (SIGKILL included),
so a killed `serve` or test run leaves no gunicorn master or multi-model-server launcher running. The setting
survives exec but not fork: each server passes it on to what it starts (gunicorn's workers leave when their master
is gone; the multi-model launcher stops its process group, the JVM and its workers, on SIGTERM).

Linux sends the signal when the *thread* that started the child ends: start servers from a thread that lives as long
as they should (the main thread, or a supervisor's own thread). Elsewhere than Linux it does nothing.

`stop_group()` stops a server started in its own session (start_new_session=True): a signal to the leader, a wait,
then SIGKILL to the whole group, so nothing it started outlives it.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from typing import Callable

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def die_with_parent(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A preexec_fn that makes the child receive `signum` when this process dies (None where Linux is not)."""
    if _prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        if _prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
            os._exit(127)  # the child must not run unguarded; Popen reports the failure as an early exit
        if os.getppid() != parent:  # the parent died between fork and prctl: nobody will send the signal
            os.kill(os.getpid(), signum)

    return preexec


def stop_group(process: subprocess.Popen | None, signum: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Stop a server that leads its own process group: `signum` to the leader, up to `timeout` s for it to exit,
    then SIGKILL to every process left in the group (workers the leader did not take along)."""
    if process is None:
        return
    if process.poll() is None:
        try:
            process.send_signal(signum)
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is empty: everything has left
    if process.poll() is None:
        process.wait()
