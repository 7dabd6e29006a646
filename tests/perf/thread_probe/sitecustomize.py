"""Loaded by the image's Python at start when this folder is on PYTHONPATH: every thread started in the process
appends a line (pid, thread name) to $THREAD_PROBE_FILE before it runs, so a test reads how many threads the worker
started while it answered, with no timing involved. Python's multiprocessing ThreadPool (joblib's threading
backend, what a forest with n_jobs > 1 uses in predict) starts its threads through threading.Thread.start, as gevent's
patched threading does."""
import os
import threading

_start = threading.Thread.start


def _counted_start(self, *args, **kwargs):
    path = os.environ.get("THREAD_PROBE_FILE")
    if path:
        with open(path, "a") as probe:
            probe.write(f"{os.getpid()} {self.name}\n")
    return _start(self, *args, **kwargs)


threading.Thread.start = _counted_start
