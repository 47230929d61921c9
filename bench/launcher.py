"""Run one command, then write its start time, wall time, exit status and resource usage as JSON.

Linux counts the peak RSS of the process a command was spawned from into the command's own peak RSS
(exec keeps the larger of the old and new high-water marks). A command spawned by the benchmark process,
which has loaded requests and zlib-ng, would report at least that process's size. This launcher is a fresh
`python -I -S` of about 11 MB and spawns the command from there, so the floor under any figure is the
launcher's size. It uses the standard library alone.

Usage: python -I -S launcher.py RESULT_FILE TIMEOUT_SECONDS COMMAND [ARGUMENT...]
The command inherits this process's environment, working folder, stdout and stderr.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType


def run(command: list[str], timeout: float) -> dict[str, float | int | bool]:
    """Spawn `command`, kill it after `timeout` seconds, reap it with wait4 and return what it cost."""
    timed_out = False
    started_at = time.monotonic()
    pid = os.posix_spawnp(command[0], command, os.environ)

    def kill_on_timeout(_signal: int, _frame: FrameType | None) -> None:
        nonlocal timed_out
        timed_out = True
        os.kill(pid, signal.SIGKILL)

    signal.signal(signal.SIGALRM, kill_on_timeout)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - started_at
    signal.setitimer(signal.ITIMER_REAL, 0)
    return {
        "started_at": started_at,
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "max_rss_kib": usage.ru_maxrss,
        "exit_code": os.waitstatus_to_exitcode(status),
        "timed_out": timed_out,
    }


def main(arguments: list[str]) -> int:
    if len(arguments) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    result_path, timeout, *command = arguments
    result = run(command, float(timeout))
    Path(result_path).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
