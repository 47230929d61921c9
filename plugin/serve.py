"""`plume serve`: a read-only HTTP server for a static registry directory, for local pulls and tests.

It answers GET and HEAD like Garage's website endpoint does: `/v2/` is `v2/index.html`, every other path is
the file of the same name, sent with the Content-Type recorded when plume wrote it.
"""

from __future__ import annotations

import hashlib
import logging
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from plugin.publish.directory import META_DIR, read_metadata

log = logging.getLogger(__name__)

FALLBACK_CONTENT_TYPE = "application/octet-stream"
SEND_CHUNK = 1 << 20


class StaticRegistryHandler(BaseHTTPRequestHandler):
    server_version = "plume-serve"

    def __init__(self, *args: object, root: Path, **kwargs: object) -> None:
        self.root = root
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        key = self._key()
        path = self.root / key if key else None
        if path is None or not path.is_file():
            self.send_error(HTTPStatus.NOT_FOUND)
            return

        metadata = read_metadata(self.root, key)
        size = path.stat().st_size
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", metadata.get("Content-Type", FALLBACK_CONTENT_TYPE))
        self.send_header("Content-Length", str(size))
        if "Cache-Control" in metadata:
            self.send_header("Cache-Control", metadata["Cache-Control"])
        if "/manifests/" in key:
            self.send_header("Docker-Content-Digest", f"sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}")
        self.end_headers()
        if send_body:
            with path.open("rb") as source:
                while chunk := source.read(SEND_CHUNK):
                    self.wfile.write(chunk)

    def _key(self) -> str:
        """Return the stored key for the request path, or '' for anything outside the published `v2/` tree."""
        path = unquote(urlsplit(self.path).path)
        if path.endswith("/"):
            path += "index.html"
        key = path.lstrip("/")
        parts = key.split("/")
        if not key.startswith("v2/") or ".." in parts or META_DIR in parts:
            return ""
        return key

    def log_message(self, format: str, *args: object) -> None:
        log.debug("serve: " + format, *args)


def serve(root: Path, host: str, port: int) -> None:
    """Serve `root` until interrupted."""
    server = ThreadingHTTPServer((host, port), partial(StaticRegistryHandler, root=root))
    log.info("serving %s read-only on http://%s:%d/v2/", root, host, server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
