"""`python -m bundle bench`: a quick run end to end, and the optional plan timing."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from bundle.perf import bench
from conftest import REPO


def test_quick_bench_prints_the_table_and_writes_consistent_json(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "bundle", "bench", "--quick", "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    batch = document["batch"]
    assert batch["rows"] == bench.BATCH_ROWS
    assert batch["ratio"] == pytest.approx(batch["served"]["median_ms"] / batch["bare"]["median_ms"], abs=0.001)
    assert batch["served"]["runs"] == batch["bare"]["runs"] == bench.BenchConfig.quick().batch_requests
    assert [t["clients"] for t in document["throughput"]] == [1, bench.BenchConfig.quick().concurrent_clients]
    assert all(t["rows_per_s"] > 0 for t in document["throughput"])
    for key in ("build_cold", "build_cached", "model_fn", "ping", "single_row"):
        assert 0 < document[key]["median_ms"] <= document[key]["p99_ms"]
    printed = re.search(r"serving overhead \(1000 rows\): HTTP / bare\s*\|\s*([0-9.]+)x", result.stdout)
    assert printed and float(printed.group(1)) == pytest.approx(batch["ratio"], abs=0.006)  # the table shows 2 decimals
    assert "1-row request over HTTP" in result.stdout


def test_a_failing_plan_command_is_reported_not_raised(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "REPO_ROOT", tmp_path)  # no `python -m bundle plan` to run there
    assert bench.bench_plan(runs=1).startswith("failed:")


def test_interleaved_runs_every_action_once_per_round_in_turn():
    calls = []
    timings = bench.interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, runs=3)
    assert calls == ["a", "b"] * 3
    assert [t.runs for t in timings.values()] == [3, 3]
