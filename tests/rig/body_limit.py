"""nginx on 127.0.0.1 in front of a registry, with a request body size limit as many reverse proxies have.

nginx rejects a blob sent in one request above the limit with 413, before the registry receives it, and
passes smaller chunks. nginx runs in the foreground (`daemon off`), so it is stopped by its own PID like every server.
"""

from __future__ import annotations

from pathlib import Path

from tests.rig.processes import LOOPBACK, free_port, start_ready_server

NGINX_COMMAND = "nginx"


def nginx_config(work_dir: Path, port: int, upstream_port: int, max_body: str) -> str:
    temp = work_dir / "temp"
    return f"""daemon off;
pid {work_dir / "nginx.pid"};
error_log {work_dir / "error.log"};
events {{}}
http {{
  access_log {work_dir / "access.log"};
  client_body_temp_path {temp / "body"};
  proxy_temp_path {temp / "proxy"};
  fastcgi_temp_path {temp / "fastcgi"};
  uwsgi_temp_path {temp / "uwsgi"};
  scgi_temp_path {temp / "scgi"};
  server {{
    listen {LOOPBACK}:{port};
    client_max_body_size {max_body};
    location / {{
      proxy_pass http://{LOOPBACK}:{upstream_port};
      proxy_set_header Host $http_host;
      proxy_request_buffering off;
      proxy_http_version 1.1;
    }}
  }}
}}
"""


class BodyLimitProxy:
    """nginx forwarding to the registry on `upstream_port`, rejecting request bodies above `max_body`."""

    def __init__(self, work_dir: Path, upstream_port: int, max_body: str) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / "temp").mkdir(exist_ok=True)
        self.port = free_port()
        config_file = work_dir / "nginx.conf"
        config_file.write_text(nginx_config(work_dir, self.port, upstream_port, max_body))
        argv = [NGINX_COMMAND, "-p", str(work_dir), "-c", str(config_file), "-e", str(work_dir / "error.log")]
        self.server = start_ready_server(argv, work_dir / "nginx.out", f"{self.url}/v2/", accepted=(200, 401))

    @property
    def host(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        self.server.stop()
