"""How the job sends blobs: each platform's blobs leave as soon as that platform is packed."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

import plugin.build.image
from plugin.build.image import BuildOptions
from plugin.build.layer import LayerEntry
from plugin.job import run
from plugin.oci.content import Blob
from plugin.oci.digest import Digest
from plugin.oci.platform import Platform
from plugin.settings import load_ci_metadata
from tests.test_settings import settings_from

FIRST, LAST = Platform.parse("linux/386"), Platform.parse("linux/arm64")
WAIT_SECONDS = 20.0


def test_uploads_overlap_packing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Make the last platform's packing wait until the first platform's layer is in the directory. Without
    uploads that overlap the build, the wait times out after WAIT_SECONDS and the test fails."""
    for name in ("app-386", "app-arm64"):
        (tmp_path / name).write_bytes(f"program {name}".encode())
    static_dir = tmp_path / "static"
    settings = settings_from(
        monkeypatch,
        PLUGIN_REPO="app",
        PLUGIN_PLATFORMS=f"{FIRST},{LAST}",
        PLUGIN_ARTIFACT=str(tmp_path / "app-{arch}"),
        PLUGIN_CHECK_BINARIES="false",
        PLUGIN_STATIC_DIR=str(static_dir),
    )
    packed_first: list[Digest] = []
    first_arrived = threading.Event()
    pack = plugin.build.image._packed_layer

    def layer_arrived() -> bool:
        return bool(packed_first) and (static_dir / "v2/app/blobs" / str(packed_first[0])).is_file()

    def pack_in_order(platform: Platform, entries: Sequence[LayerEntry], options: BuildOptions) -> tuple[Blob, Digest]:
        if platform == LAST:
            deadline = time.monotonic() + WAIT_SECONDS
            while not layer_arrived() and time.monotonic() < deadline:
                time.sleep(0.05)
            if layer_arrived():
                first_arrived.set()
        layer, diff_id = pack(platform, entries, options)
        if platform == FIRST:
            packed_first.append(layer.digest)
        return layer, diff_id

    monkeypatch.setattr(plugin.build.image, "_packed_layer", pack_in_order)

    assert run(settings, load_ci_metadata()) == []
    assert first_arrived.is_set(), "the first platform's layer was not sent before the last platform was packed"
