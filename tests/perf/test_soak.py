"""The soak tool reports each run's status and failing tests, and its CPU hog stops when the run ends."""
import json
import sys

import psutil

from bundle.perf import soak

FAKE_SUITE = (
    "import sys; print('FAILED tests/a.py::test_x - assert 1'); "
    "print('===== 1 failed, 2 passed in 0.1s ====='); sys.exit(1)"
)


def test_a_run_reports_its_exit_status_summary_and_failing_tests(tmp_path):
    run = soak.run_once(1, False, [sys.executable, "-c", FAKE_SUITE], str(tmp_path), 1)
    assert run.exit_status == 1
    assert run.summary == "1 failed, 2 passed in 0.1s"
    assert run.failures == ["tests/a.py::test_x"]


def test_the_hog_busies_a_process_per_core_and_stops_after_the_run():
    with soak.Hog(2) as hog:
        pids = [p.pid for p in hog.processes]
        assert all(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids)
    assert not any(psutil.pid_exists(pid) for pid in pids)


def test_the_report_fails_when_any_run_fails(tmp_path, capsys):
    status = soak.main(["--runs", "1", "--hog-runs", "1", "--hog-cores", "1", "--log-dir", str(tmp_path),
                        "--command", f"{sys.executable} -c pass"])
    assert status == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert [r["hog"] for r in report] == [False, True]
    assert "run 2 (CPU hog): exit 0" in capsys.readouterr().out
