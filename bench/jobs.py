"""Run one command as a measured job: its wall time, CPU time and peak RSS, from bench/launcher.py."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LAUNCHER = Path(__file__).resolve().parent / "launcher.py"
JOB_TIMEOUT = 900.0  # seconds; the longest job, a 1 GiB layer at the default level, takes about half a minute
LAUNCHER_GRACE = 60.0  # seconds the launcher gets beyond JOB_TIMEOUT to kill the job and report
KIB = 1024
LOG_TAIL = 3000  # characters of a failed job's output shown in the error


@dataclass(frozen=True)
class JobResult:
    """The cost of one finished job."""

    seconds: float  # wall time from spawning the command to reaping it
    cpu_seconds: float  # user plus system time of the command and the descendants it waited for
    max_rss: int  # bytes: the peak resident set of the largest of those processes
    started_at: float  # time.monotonic() just before the spawn; the clock is shared by every process


class JobError(RuntimeError):
    """A job exited with a non-zero status or ran out of time; the message has the end of its output."""


def run_job(
    argv: Sequence[str], log_path: Path, env: Mapping[str, str], cwd: Path | None = None, exit_code: int = 0
) -> JobResult:
    """Run `argv` with its stdout and stderr in `log_path`, and return its cost.

    Raises JobError when the command exits with a status other than `exit_code` or runs longer than JOB_TIMEOUT.
    """
    result_path = log_path.with_suffix(".usage.json")
    launcher = [sys.executable, "-I", "-S", str(LAUNCHER), str(result_path), str(JOB_TIMEOUT), *argv]
    with log_path.open("wb") as log:
        launched = subprocess.run(
            launcher,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            cwd=cwd,
            timeout=JOB_TIMEOUT + LAUNCHER_GRACE,
            check=False,
        )

    if launched.returncode != 0:
        raise JobError(f"the launcher of {' '.join(argv)} exited {launched.returncode}{_tail(log_path)}")
    result = json.loads(result_path.read_text())
    if result["timed_out"]:
        raise JobError(f"{' '.join(argv)} still ran after {JOB_TIMEOUT:.0f} s and was killed{_tail(log_path)}")
    if result["exit_code"] != exit_code:
        raise JobError(f"{' '.join(argv)} exited {result['exit_code']}, not {exit_code}{_tail(log_path)}")
    return JobResult(result["seconds"], result["cpu_seconds"], result["max_rss_kib"] * KIB, result["started_at"])


def _tail(log_path: Path) -> str:
    return f"; the end of its output ({log_path}):\n{log_path.read_text(errors='replace')[-LOG_TAIL:]}"
