"""Reading existing images from a registry, for base images and fan-in: manifests and configs now, layers later.

Manifests and configs are small: they are read whole and checked against their digests. Layers stay in
the registry. Each becomes a blob streamed to a destination that lacks it while publishing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from plugin.errors import PublishError, RegistryError, SourceError
from plugin.oci.content import BaseImage, BaseLayer
from plugin.oci.digest import Digest
from plugin.oci.models import SerializedManifest
from plugin.oci.platform import Platform
from plugin.publish.registry.client import RegistryClient
from plugin.publish.registry.pull import remote_blob
from plugin.publish.registry.transport import RegistryUnreachable
from plugin.sources.images import (
    check_config_platform,
    check_digest,
    config_platform,
    diff_ids_of,
    json_object,
    manifest_parts,
)

DESTINATION_LOGIN_SETTINGS = "PLUGIN_USERNAME and PLUGIN_PASSWORD"


@dataclass(frozen=True)
class RegistrySource:
    """A repository to read images from, and the settings an error names when reading fails."""

    client: RegistryClient
    credential_settings: str  # such as "PLUGIN_BASE_USERNAME and PLUGIN_BASE_PASSWORD"
    insecure_setting: str  # such as "PLUGIN_BASE_INSECURE"

    @property
    def host(self) -> str:
        return urlsplit(self.client.base_url).netloc


@contextmanager
def errors_named(source: RegistrySource, origin: str) -> Iterator[None]:
    """Turn a registry failure into a SourceError that starts with `origin` and names the settings to check."""
    try:
        yield
    except RegistryUnreachable as exc:
        raise SourceError(
            f"{origin}: cannot reach {source.host} ({exc.__cause__.__class__.__name__}); check the registry "
            f"host, and set {source.insecure_setting} for a registry that speaks plain HTTP"
        ) from exc
    except RegistryError as exc:
        hint = f"; check {source.credential_settings}" if exc.status in (401, 403) else ""
        raise SourceError(f"{origin}: {exc}{hint}") from exc
    except PublishError as exc:
        # The registry client's messages name the destination's login settings; this source may have its own.
        message = str(exc).replace(DESTINATION_LOGIN_SETTINGS, source.credential_settings)
        raise SourceError(f"{origin}: {message}") from exc


def fetch_manifest(source: RegistrySource, reference: str, what: str) -> SerializedManifest:
    """Fetch the manifest or index `reference` names; raise SourceError when there is none or its digest differs."""
    manifest = source.client.get_manifest(reference)
    if manifest is None:
        raise SourceError(f"{what}: no manifest {reference} in {source.host}/{source.client.repository}")
    if reference.startswith("sha256:"):
        check_digest(manifest.body, Digest.parse(reference), what)
    return manifest


def registry_image(
    source: RegistrySource, manifest: SerializedManifest, expected: Platform | None, origin: str
) -> BaseImage:
    """Read the config an image manifest references, and check it is for `expected` when that is given.

    Without `expected`, the image's platform is the one its config names.
    """
    what = f"{origin} (manifest {manifest.digest.short})"
    parts = manifest_parts(json_object(manifest.body, what), what)
    config_bytes = source.client.get_small_blob(parts.config.digest)
    if config_bytes is None:
        raise SourceError(f"{what}: its config {parts.config.digest} is missing from the registry")
    config = json_object(check_digest(config_bytes, parts.config.digest, f"{what} config"), f"{what} config")

    if expected is None:
        platform = config_platform(config, what)
    else:
        check_config_platform(config, expected, what)
        platform = expected
    diff_ids = diff_ids_of(config, len(parts.layers), what)
    layers = tuple(
        BaseLayer(remote_blob(source.client, descriptor), diff_id)
        for descriptor, diff_id in zip(parts.layers, diff_ids, strict=True)
    )
    return BaseImage(platform, config_bytes, layers, origin, manifest)
