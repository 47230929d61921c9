"""The benchmark command, run as docs/benchmarks.md shows, on a payload small enough for the test suite.

Only what the report contains is checked, never the times: those belong to the benchmark itself.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
PLUME_ROWS = (
    "plume cold -> registry (level 4)",
    "plume cold -> registry (level 1)",
    "plume cold -> static directory",
    "plume cold -> registry + static directory",
    "plume warm -> registry",
    "plume warm -> static directory",
    "umoci + skopeo cold",
    "start: a run stopped by an invalid setting",
    "start: spawn to first registry connection",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    work_dir = tmp_path_factory.mktemp("bench")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--runs",
            "1",
            "--size-mib",
            "2",
            "--big-layer-mib",
            "0",
            "--work-dir",
            str(work_dir),
        ],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def table_row(report: str, label: str) -> list[str]:
    for line in report.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells and cells[0] == label:
            return cells
    raise AssertionError(f"no row {label!r} in the report:\n{report}")


def test_report_has_every_plume_row(report: str) -> None:
    for label in PLUME_ROWS:
        assert table_row(report, label)[1] == "1", f"{label}: one run"


def test_warm_rows_send_no_blob(report: str) -> None:
    assert table_row(report, "plume warm -> registry")[-1] == "0 / 0.00"
    assert table_row(report, "plume warm -> static directory")[-1] == "0 / 0.00"


def test_cold_rows_send_every_blob(report: str) -> None:
    # Four platforms: a layer and a config each.
    assert table_row(report, "plume cold -> registry (level 4)")[-1].startswith("8 / ")


def test_report_states_machine_and_targets(report: str) -> None:
    assert report.startswith("date: ")
    assert "payload: 4 x 2 MiB executables" in report
    assert "\nTargets:\n" in report
    assert "zero blob bytes sent: 0 bytes in the worst run" in report
