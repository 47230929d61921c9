"""nginx on 127.0.0.1 in front of an S3 bucket, serving it the way Garage's website endpoint does.

Garage serves a website bucket read-only, takes each object's headers from its stored metadata, and maps a
path ending in `/` to the index document `index.html`, so `GET /v2/` returns the object `v2/index.html`.
This server does the same for the `v2/` keys of one bucket. It accepts only GET (and so HEAD) and rewrites
the path to the path-style key. It drops any Authorization header before it proxies to the S3 endpoint, so
every read is anonymous.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.rig.processes import LOOPBACK, free_port, wait_for_http

NGINX_COMMAND = "nginx"
START_TIMEOUT = 30.0  # seconds for nginx to write its pid file, which it usually does within a second
STOP_TIMEOUT = 10.0  # seconds for a graceful stop after SIGQUIT


def website_config(prefix_dir: Path, port: int, s3_endpoint: str, bucket: str) -> str:
    """Return an nginx.conf that keeps every file it writes under `prefix_dir`."""
    s3_host = urlsplit(s3_endpoint).netloc
    # Workers of a root master run as `nobody`, which cannot write into pytest's private temp folders, so
    # responses are streamed rather than buffered in temp files.
    return f"""\
worker_processes 1;
pid {prefix_dir / "nginx.pid"};
error_log {prefix_dir / "error.log"} info;

events {{
    worker_connections 64;
}}

http {{
    access_log {prefix_dir / "access.log"};
    client_body_temp_path {prefix_dir / "client_body"};
    proxy_temp_path {prefix_dir / "proxy"};
    fastcgi_temp_path {prefix_dir / "fastcgi"};
    uwsgi_temp_path {prefix_dir / "uwsgi"};
    scgi_temp_path {prefix_dir / "scgi"};
    proxy_max_temp_file_size 0;

    server {{
        listen {LOOPBACK}:{port};

        location /v2/ {{
            limit_except GET {{ deny all; }}
            rewrite ^(.*/)$ $1index.html;
            rewrite ^(.*)$ /{bucket}$1 break;
            proxy_pass http://{s3_host};
            proxy_set_header Host {s3_host};
            proxy_set_header Authorization "";
        }}
    }}
}}
"""


class GarageWebsite:
    """A running nginx that imitates Garage's website endpoint for one bucket."""

    def __init__(self, prefix_dir: Path, s3_endpoint: str, bucket: str) -> None:
        prefix_dir.mkdir(parents=True, exist_ok=True)
        self.prefix_dir = prefix_dir
        self.port = free_port()
        self.pid_file = prefix_dir / "nginx.pid"
        self.error_log = prefix_dir / "error.log"
        config_file = prefix_dir / "nginx.conf"
        config_file.write_text(website_config(prefix_dir, self.port, s3_endpoint, bucket))

        # nginx forks into the background and its first process exits, so the pid file names the master.
        subprocess.run(
            [NGINX_COMMAND, "-p", str(prefix_dir), "-c", str(config_file), "-e", str(self.error_log)],
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT,
        )
        self.pid = self._wait_for_pid()
        try:
            # The bucket may be empty, so any HTTP status proves nginx listens.
            wait_for_http(f"{self.url}/v2/", accepted=range(200, 600))
        except TimeoutError:
            self.stop()
            raise

    @property
    def host(self) -> str:
        """The address as it appears in an image name."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def log_text(self) -> str:
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""

    def _wait_for_pid(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = self.pid_file.read_text().strip() if self.pid_file.exists() else ""
            if text:
                return int(text)
            time.sleep(0.05)
        raise TimeoutError(f"nginx wrote no pid file {self.pid_file}\n{self.log_text()}")

    def stop(self) -> None:
        """Stop this nginx gracefully with SIGQUIT to the master PID, and wait until it has exited."""
        try:
            os.kill(self.pid, signal.SIGQUIT)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            if not self._master_is_running():
                return
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)

    def _master_is_running(self) -> bool:
        # nginx removes its pid file as the master exits. The master is not our child, so it cannot be waited on.
        if not self.pid_file.exists():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True
