"""The serving image's multi-model entry point, written for this project: Java multi-model-server (MMS).

Runs INSIDE `.venv-image` (the serving image's pinned libraries: multi-model-server 1.1.1, sagemaker-inference
1.2.0), as its own top-level module; it imports nothing from `bundle/`. What the image does when
`SAGEMAKER_MULTI_MODEL` is set, in this order (its glue package is not on PyPI; this is our own wiring of the same
public pieces):

  1. import the user module `$SAGEMAKER_PROGRAM` from `$SAGEMAKER_SUBMIT_DIRECTORY` once, before the server starts
     (on SageMaker that directory is an S3 URI of a sourcedir tarball, downloaded with the execution role);
  2. write MMS's configuration: no model store content and no model loaded at start (models arrive through
     `POST /models`), inference and management on the one port `$SAGEMAKER_BIND_TO_PORT`, one worker per model
     (`SAGEMAKER_NUM_MODEL_WORKERS`), a job queue of 100, requests up to `MAX_CONTENT_LENGTH` (6 MiB by default,
     capped at 20 MiB), the raw body handed to Python (`decode_input_request=false`), `default_service_handler` =
     our handler service (multi_model_handler.py), and the JVM options the image passes (heap sized from the
     payload limit and the CPU count);
  3. start `mxnet-model-server --start` with that configuration and sagemaker-inference's log4j settings, and wait.

Differences from the image, on purpose: the server binds 127.0.0.1 (the image binds 0.0.0.0 inside its container);
the user module's directory is put on PYTHONPATH instead of being pip-installed into site-packages (serving never
changes `.venv-image`); MMS runs in the foreground, a child of this process, which exits with it and on SIGTERM
stops its whole process group, the JVM and its workers (the image starts it in the background and waits on it), with its pid file, sockets and logs in `$SAGEMAKER_BASE_DIR/mms`; the image's plugin jar (an
`/execution-parameters` endpoint for batch transform) is absent. The image's JVM runs openjdk 8; on a newer Java
its `-XX:+UseParNewGC` is refused, so `-XX:+IgnoreUnrecognizedVMOptions` is added through JAVA_TOOL_OPTIONS.
"""
from __future__ import annotations

import importlib
import math
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import pkg_resources

HANDLER_SERVICE = "multi_model_handler"
DEFAULT_MAX_CONTENT_LENGTH = 6 * 1024**2
MAX_CONTENT_LENGTH_LIMIT = 20 * 1024**2
JOB_QUEUE_SIZE = 100
# MMS's configuration; $$NAME$$ is replaced by MMS with the environment variable NAME.
CONFIG = """\
vmargs={vmargs}
model_store=$$SAGEMAKER_MMS_MODEL_STORE$$
load_models=$$SAGEMAKER_MMS_LOAD_MODELS$$
inference_address=http://127.0.0.1:$$SAGEMAKER_BIND_TO_PORT$$
management_address=http://127.0.0.1:$$SAGEMAKER_BIND_TO_PORT$$
default_workers_per_model=$$SAGEMAKER_NUM_MODEL_WORKERS$$
job_queue_size=$$SAGEMAKER_MODEL_JOB_QUEUE_SIZE$$
max_request_size=$$SAGEMAKER_MAX_REQUEST_SIZE$$
decode_input_request=false
default_service_handler=$$SAGEMAKER_MMS_DEFAULT_HANDLER$$
preload_model=true
"""


def max_request_size() -> int:
    return min(int(os.environ.get("MAX_CONTENT_LENGTH", DEFAULT_MAX_CONTENT_LENGTH)), MAX_CONTENT_LENGTH_LIMIT)


def jvm_options(max_request: int, cpus: int) -> str:
    """The image's JVM options: a heap for every worker's and queued job's payload, plus a base."""
    heap = os.environ.get("SAGEMAKER_MAX_HEAP_SIZE") or f"{math.ceil(3 * cpus * max_request / 1024**2 * 1.2) + 128}m"
    direct = os.environ.get("SAGEMAKER_MAX_DIRECT_MEMORY_SIZE") or heap
    return (
        f"-XX:-UseLargePages -XX:+UseParNewGC -XX:MaxMetaspaceSize=32M -XX:InitiatingHeapOccupancyPercent=25 "
        f"-Xms{heap} -Xmx{heap} -XX:MaxDirectMemorySize={direct}"
    )


def import_user_module() -> Path:
    """Import `$SAGEMAKER_PROGRAM` from `$SAGEMAKER_SUBMIT_DIRECTORY` once, as the image does before MMS starts."""
    code_dir = Path(os.environ["SAGEMAKER_SUBMIT_DIRECTORY"])
    name = os.environ.get("SAGEMAKER_PROGRAM", "inference.py").removesuffix(".py")
    sys.path.insert(0, str(code_dir))
    importlib.import_module(name)
    return code_dir


def prepare(base_dir: Path) -> tuple[list[str], dict[str, str]]:
    """The MMS command and its environment; writes the configuration under `base_dir/mms`."""
    code_dir = import_user_module()
    home = base_dir / "mms"
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    defaults = {
        "SAGEMAKER_MMS_MODEL_STORE": "/",
        "SAGEMAKER_MMS_LOAD_MODELS": "",
        "SAGEMAKER_MMS_DEFAULT_HANDLER": HANDLER_SERVICE,
        "SAGEMAKER_BIND_TO_PORT": "8080",
        "SAGEMAKER_NUM_MODEL_WORKERS": "1",
        "SAGEMAKER_MODEL_JOB_QUEUE_SIZE": str(JOB_QUEUE_SIZE),
        "SAGEMAKER_MAX_REQUEST_SIZE": str(max_request_size()),
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    env["SAGEMAKER_MMS_LOAD_MODELS"] = ""  # always: models are registered through POST /models
    env["SAGEMAKER_MMS_DEFAULT_HANDLER"] = HANDLER_SERVICE
    config = home / "config.properties"
    config.write_text(CONFIG.format(vmargs=jvm_options(int(env["SAGEMAKER_MAX_REQUEST_SIZE"]), multiprocessing.cpu_count())))
    here = str(Path(__file__).resolve().parent)
    env["PYTHONPATH"] = os.pathsep.join([str(code_dir), here] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    options = env.get("JAVA_TOOL_OPTIONS", "")
    if "IgnoreUnrecognizedVMOptions" not in options:
        env["JAVA_TOOL_OPTIONS"] = (options + " -XX:+IgnoreUnrecognizedVMOptions").strip()
    # MMS keeps a pid file in the temp directory and the JVM its worker sockets in java.io.tmpdir (TEMP): ours alone.
    env["TMPDIR"] = env["TEMP"] = str(home / "tmp")
    env["LOG_LOCATION"] = env["METRICS_LOCATION"] = str(home / "logs")
    log_config = pkg_resources.resource_filename("sagemaker_inference", "/etc/log4j.properties")
    server = Path(sys.executable).parent / "mxnet-model-server"
    command = [str(server), "--start", "--foreground", "--mms-config", str(config), "--log-config", log_config]
    return command, env


def main() -> None:
    base_dir = Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"))
    command, env = prepare(base_dir)
    os.chdir(base_dir / "mms")
    print(f"starting multi-model-server on 127.0.0.1:{env['SAGEMAKER_BIND_TO_PORT']}: {' '.join(command)}", flush=True)
    server = subprocess.Popen(command, env=env)

    def stop(signum, frame):  # the JVM and its Python workers are in this process group: stop them all
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.killpg(os.getpgid(0), signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    sys.exit(server.wait())


if __name__ == "__main__":
    main()
