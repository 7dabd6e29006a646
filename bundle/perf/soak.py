"""The suite's soak: run `make test` several times in a row, then again with a CPU hog beside it, and report each run.

A test that depends on timing, ports, order or a quiet machine fails in one of these runs and not in another; the
report lists, for every run, its exit status, wall time, pytest's summary line and the failing test ids, so a flaky
test is named with the run it failed in. The hog is `--hog-cores` busy-looping processes (multiprocessing, no
package to install) that this tool starts before a run and stops after it, even when the run is interrupted.

    python -m bundle.perf.soak --runs 5 --hog-runs 2          (make soak)
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

# pytest's last line, bordered with '=' or bare (pytest -q, as make test's parallel run prints it).
SUMMARY = re.compile(r"^=* ?(\d+ (?:passed|failed|error).*? in [\d.]+s(?: \(\S+\))?) ?=*$", re.MULTILINE)
FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


@dataclass
class Run:
    number: int
    hog: bool
    exit_status: int
    seconds: float
    summary: str
    failures: list[str] = field(default_factory=list)


def _spin() -> None:
    while True:
        pass


class Hog:
    """`cores` processes that keep a CPU each busy until the block ends."""

    def __init__(self, cores: int):
        self.cores = cores
        self.processes: list[multiprocessing.Process] = []

    def __enter__(self) -> "Hog":
        self.processes = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(self.cores)]
        for process in self.processes:
            process.start()
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            process.kill()
            process.join()


def run_once(number: int, hog: bool, command: list[str], log_dir: str, hog_cores: int) -> Run:
    log_path = os.path.join(log_dir, f"run-{number}{'-hog' if hog else ''}.log")
    started = time.monotonic()
    with open(log_path, "w") as log:
        if hog:
            with Hog(hog_cores):
                status = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT)
        else:
            status = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    text = open(log_path, errors="replace").read()
    summaries = SUMMARY.findall(text)
    return Run(number, hog, status, round(seconds, 1), summaries[-1] if summaries else "(no pytest summary)",
               sorted(set(FAILED.findall(text))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bundle.perf.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs on a quiet machine (default 5)")
    parser.add_argument("--hog-runs", type=int, default=2, help="runs beside a CPU hog (default 2)")
    parser.add_argument("--hog-cores", type=int, default=os.cpu_count() or 2, help="busy loops in the hog (default: one per core)")
    parser.add_argument("--log-dir", default="build/soak", help="where each run's output goes (default build/soak)")
    parser.add_argument("--command", default="make test", help="the suite's command (default 'make test')")
    args = parser.parse_args(argv)

    os.makedirs(args.log_dir, exist_ok=True)
    plan = [False] * args.runs + [True] * args.hog_runs
    runs = []
    for number, hog in enumerate(plan, start=1):
        run = run_once(number, hog, args.command.split(), args.log_dir, args.hog_cores)
        runs.append(run)
        print(f"run {run.number}{' (CPU hog)' if run.hog else ''}: exit {run.exit_status} in {run.seconds:.0f} s: "
              f"{run.summary}", flush=True)
        for test in run.failures:
            print(f"  failed: {test}", flush=True)
    with open(os.path.join(args.log_dir, "report.json"), "w") as report:
        json.dump([asdict(r) for r in runs], report, indent=2)
    return 0 if all(r.exit_status == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
