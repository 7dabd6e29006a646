"""`python -m bundle profile`: where a request's time goes inside the shipped handlers (cProfile).

It loads the built artifact the way the endpoint does (code/inference.py, model_fn once), then runs
`transform_fn` on an Iris batch many times under cProfile and prints the functions with the most
time of their own. Before that, without the profiler, it prints the median time of the whole handler
and of the bare `predict_proba` on the same rows, measured alternately: their difference is the
handlers' own cost (decode, validate, encode), HTTP excluded.

    python -m bundle profile --rows 1000 --requests 200
    python -m bundle profile --rows 1 --requests 2000 --sort cumulative
    python -m bundle profile --rows 1000 --baseline main    # A/B: this inference.py against main's
    python -m bundle profile --n-jobs                        # predict_proba with n_jobs=1 against -1
"""
from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import os
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bundle.artifact.build import build_artifact
from bundle.paths import REPO_ROOT
from bundle.perf.timing import JSON, Timing, instances_body, interleaved, iris_rows
from bundle.errors import BundleError
from bundle.local.inprocess import LoadedModel, invoke, load_artifact


def handler_cost(loaded: LoadedModel, rows: np.ndarray, requests: int) -> dict[str, Timing]:
    body = instances_body(rows)
    estimator = loaded.model.estimator
    return interleaved(
        {"transform_fn": lambda: invoke(loaded, body, JSON, JSON), "predict_proba": lambda: estimator.predict_proba(rows)}, requests
    )


def profile_handler(loaded: LoadedModel, rows: np.ndarray, requests: int, sort: str, top: int) -> str:
    body = instances_body(rows)
    profile = cProfile.Profile()
    profile.runcall(lambda: [invoke(loaded, body, JSON, JSON) for _ in range(requests)])
    out = io.StringIO()
    pstats.Stats(profile, stream=out).strip_dirs().sort_stats(sort).print_stats(top)
    return out.getvalue()


def handlers_at(revision: str, model_dir: Path, scratch: Path) -> LoadedModel:
    """model/inference.py as it was at a git revision, loaded on the same unpacked model."""
    source = subprocess.run(["git", "show", f"{revision}:model/inference.py"], cwd=REPO_ROOT, capture_output=True, text=True)
    if source.returncode != 0:
        raise BundleError(f"cannot read model/inference.py at {revision!r}: {source.stderr.strip()}")
    path = scratch / f"baseline_inference_{abs(hash(revision))}.py"
    path.write_text(source.stdout)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    handlers = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = handlers  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(handlers)
    return LoadedModel(handlers=handlers, model=handlers.model_fn(str(model_dir)), directory=model_dir)


def compare(current: LoadedModel, baseline: LoadedModel, rows: np.ndarray, requests: int) -> dict[str, Timing]:
    """The same body through both handler versions, alternately; the same responses or it refuses."""
    body = instances_body(rows)
    ours, theirs = invoke(current, body, JSON, JSON), invoke(baseline, body, JSON, JSON)
    if (ours.status, ours.body) != (theirs.status, theirs.body):
        raise BundleError("the two handler versions answer differently: an A/B of speed needs the same behaviour")
    return interleaved({"current": lambda: invoke(current, body, JSON, JSON), "baseline": lambda: invoke(baseline, body, JSON, JSON)}, requests)


def compare_n_jobs(estimator, requests: int) -> list[str]:
    """The thread pool that n_jobs != 1 starts inside every predict_proba call, against none."""
    lines = []
    original = estimator.n_jobs
    try:
        for count in (1, 1000):
            rows = iris_rows(count)

            def with_jobs(n: int):
                def call():
                    estimator.n_jobs = n
                    estimator.predict_proba(rows)

                return call

            measured = interleaved({"n_jobs=1": with_jobs(1), "n_jobs=-1": with_jobs(-1)}, requests)
            lines.append(f"rows {count}: " + ", ".join(f"{name} median {t.median_ms:.3f} ms" for name, t in measured.items()))
    finally:
        estimator.n_jobs = original
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=1000, help="rows per request (default 1000)")
    parser.add_argument("--requests", type=int, default=200, help="handler calls to time and to profile")
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative", "ncalls"], help="pstats order")
    parser.add_argument("--top", type=int, default=20, help="functions to print")
    parser.add_argument("--baseline", metavar="REV", help="instead: time this inference.py against the one at git REV")
    parser.add_argument("--n-jobs", action="store_true", help="instead: time predict_proba with n_jobs=1 against n_jobs=-1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bundle profile", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    rows = iris_rows(args.rows)
    artifact = build_artifact()
    with tempfile.TemporaryDirectory(prefix="bundle-profile-") as scratch:
        loaded = load_artifact(artifact.path, Path(scratch) / "model")
        if args.n_jobs:
            print(f"{artifact.manifest['hyperparameters']['n_estimators']} trees, cpus {os.cpu_count()}")
            print("\n".join(compare_n_jobs(loaded.model.estimator, args.requests)))
            return 0
        if args.baseline:
            baseline = handlers_at(args.baseline, loaded.directory, Path(scratch))
            measured = compare(loaded, baseline, rows, args.requests)
            now, then = measured["current"].median_ms, measured["baseline"].median_ms
            print(f"rows {args.rows}: current median {now:.3f} ms, baseline ({args.baseline}) median {then:.3f} ms, "
                  f"difference {now - then:+.3f} ms ({now / then:.3f}x)")
            return 0
        measured = handler_cost(loaded, rows, args.requests)
        handler, bare = measured["transform_fn"].median_ms, measured["predict_proba"].median_ms
        print(f"rows {args.rows}: transform_fn median {handler:.3f} ms, bare predict_proba median {bare:.3f} ms, "
              f"handler cost {handler - bare:.3f} ms, ratio {handler / bare:.2f}x")
        print(profile_handler(loaded, rows, args.requests, args.sort, args.top))
    return 0

