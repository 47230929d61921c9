"""The entrypoint: read the settings, set up logging, run the job, and map errors to exit codes.

Exit status: 0 when every destination has the image, 1 when building or publishing failed, 2 when a
setting is invalid.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from plugin import __version__
from plugin.build.image import BuildOptions, build_tree
from plugin.build.layer import LayerEntry
from plugin.errors import PlumeError, SettingsError, SourceError
from plugin.oci.content import BaseImage, ImageTree
from plugin.oci.models import RuntimeConfig
from plugin.oci.platform import Platform, RequestedPlatform
from plugin.oci.reference import ImageReference, Repository
from plugin.publish import Destination, PublishReport, publish_tree
from plugin.publish.directory import DirectoryStore
from plugin.publish.registry.auth import Credentials
from plugin.publish.registry.client import RegistryClient
from plugin.publish.registry.destination import RegistryDestination
from plugin.publish.reuse import layers_everywhere
from plugin.publish.s3 import S3Store
from plugin.publish.static import StaticRegistry
from plugin.settings import DEFAULT_STATIC_DIR, SCRATCH, Settings, load_settings, variable
from plugin.sources.archive import LayerWork, archive_images
from plugin.sources.base import base_images
from plugin.sources.binaries import artifact_paths, binary_entries
from plugin.sources.fanin import fan_in_images
from plugin.sources.registry import RegistrySource
from plugin.summary import summary_lines

log = logging.getLogger("plugin")

EXIT_FAILED = 1
EXIT_BAD_SETTING = 2
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class _LevelPrefixFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        return message if record.levelno == logging.INFO else f"{record.levelname.lower()}: {message}"


def setup_logging(debug: bool) -> None:
    """Send progress to stdout, and warnings and errors to stderr, as plain lines."""
    progress = logging.StreamHandler(sys.stdout)
    progress.addFilter(lambda record: record.levelno < logging.WARNING)
    problems = logging.StreamHandler(sys.stderr)
    problems.setLevel(logging.WARNING)
    for handler in (progress, problems):
        handler.setFormatter(_LevelPrefixFormatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [progress, problems]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    logging.getLogger("urllib3").setLevel(logging.INFO if debug else logging.WARNING)


def repository_of(settings: Settings) -> Repository:
    repository = Repository.parse(settings.repo)
    if repository.host is None and settings.registry:
        repository = repository.on_host(settings.registry)
    return repository


def destinations_of(settings: Settings, repository: Repository) -> list[Destination]:
    destinations: list[Destination] = []
    if repository.host is not None:
        scheme = "http" if settings.insecure else "https"
        password = settings.password.get_secret_value()
        credentials = Credentials(settings.username, password) if settings.username or password else None
        client = RegistryClient(f"{scheme}://{repository.api_host}", repository.api_path, credentials)
        destinations.append(RegistryDestination(client, str(repository)))
    if settings.s3_endpoint:
        store = S3Store(
            settings.s3_endpoint,
            settings.s3_bucket,
            settings.s3_region,
            settings.s3_access_key,
            settings.s3_secret_key.get_secret_value(),
            prefix=settings.s3_prefix,
        )
        destinations.append(StaticRegistry(store, repository.path, settings.s3_public_url))
    if settings.static_dir or not destinations:
        root = Path(settings.static_dir or DEFAULT_STATIC_DIR)
        destinations.append(StaticRegistry(DirectoryStore(root), repository.path))
    return destinations


def runtime_of(settings: Settings, adds_binary: bool) -> RuntimeConfig:
    """The runtime settings; a binary added to the image is its default entrypoint, with a standard PATH."""
    env_lines = [f"{key}={value}" for key, value in settings.env.items()]
    return RuntimeConfig(
        settings.entrypoint,
        settings.cmd,
        env_lines,
        settings.workdir,
        settings.user,
        settings.labels,
        default_entrypoint=[settings.install_path] if adds_binary else None,
        default_env=[DEFAULT_PATH] if adds_binary else (),
    )


@dataclass(frozen=True)
class Inputs:
    """Each platform's input: files to pack into a new layer, and an existing image to build on."""

    contents: dict[Platform, list[LayerEntry]]
    bases: dict[Platform, BaseImage]


def inputs_of(settings: Settings, repository: Repository, platforms: Sequence[RequestedPlatform], work: Path) -> Inputs:
    """Find and check every input before anything is built: binaries, archives, the base image or fan-in children."""
    if settings.fan_in:
        setting = variable("fan_in")
        children = fan_in_images(settings.fan_in, repository, lambda child: fan_in_source(settings, child), setting)
        if "platforms" in settings.model_fields_set:
            _check_fan_in_platforms(children, platforms)
        return Inputs({}, children)

    contents: dict[Platform, list[LayerEntry]] = {}
    if settings.artifact or settings.artifacts:
        setting = variable("artifacts" if settings.artifacts else "artifact")
        explicit = {RequestedPlatform.parse(key).platform: path for key, path in settings.artifacts.items()}
        paths = artifact_paths(platforms, settings.artifact, explicit, Path.cwd())
        contents = binary_entries(paths, settings.install_path, setting)

    bases: dict[Platform, BaseImage] = {}
    if settings.archive or settings.archives:
        setting = variable("archives" if settings.archives else "archive")
        explicit = {RequestedPlatform.parse(key).platform: path for key, path in settings.archives.items()}
        paths = artifact_paths(platforms, settings.archive, explicit, Path.cwd())
        bases = archive_images(paths, setting, LayerWork(work, settings.compression_level))
    elif settings.base != SCRATCH:
        reference = ImageReference.parse(settings.base).with_default_host()
        source = base_source(settings, repository, reference.repository)
        bases = base_images(source, reference, [requested.platform for requested in platforms], variable("base"))
    return Inputs(contents, bases)


def base_source(settings: Settings, repository: Repository, base: Repository) -> RegistrySource:
    """Make the client that reads the base, with its own login if set, else the destination's login when the
    base is on the destination's registry.

    Plain HTTP needs PLUGIN_BASE_INSECURE, or PLUGIN_INSECURE for a base on the destination's registry.
    """
    on_destination_registry = repository.host is not None and base.same_registry(repository)
    base_password = settings.base_password.get_secret_value()
    password = settings.password.get_secret_value()
    credentials = None
    credential_settings = f"{variable('base_username')} and {variable('base_password')}"
    if settings.base_username or base_password:
        credentials = Credentials(settings.base_username, base_password)
    elif on_destination_registry and (settings.username or password):
        credentials = Credentials(settings.username, password)
        credential_settings = f"{variable('username')} and {variable('password')}"

    insecure = settings.base_insecure or (on_destination_registry and settings.insecure)
    scheme = "http" if insecure else "https"
    client = RegistryClient.for_pulling(f"{scheme}://{base.api_host}", base.api_path, credentials)
    return RegistrySource(client, credential_settings, variable("base_insecure"))


def fan_in_source(settings: Settings, child: Repository) -> RegistrySource:
    """Make the client that reads a fan-in child from the destination registry, with the destination's login."""
    password = settings.password.get_secret_value()
    credentials = Credentials(settings.username, password) if settings.username or password else None
    scheme = "http" if settings.insecure else "https"
    client = RegistryClient.for_pulling(f"{scheme}://{child.api_host}", child.api_path, credentials)
    return RegistrySource(client, f"{variable('username')} and {variable('password')}", variable("insecure"))


def _check_fan_in_platforms(children: Mapping[Platform, BaseImage], platforms: Sequence[RequestedPlatform]) -> None:
    requested = {requested.platform for requested in platforms}
    if requested != set(children):
        found = ", ".join(str(platform) for platform in sorted(children))
        written = ", ".join(requested_platform.written for requested_platform in platforms)
        raise SourceError(
            f"{variable('fan_in')} gives images for {found}, but {variable('platforms')} lists {written}; "
            f"fix one of them, or leave {variable('platforms')} unset"
        )


def run(settings: Settings) -> int:
    repository = repository_of(settings)
    platforms = [RequestedPlatform.parse(text) for text in settings.platforms]
    destinations = destinations_of(settings, repository)
    log.info(
        "plume %s: %s for %s -> %s",
        __version__,
        repository.path,
        "the platforms of the fan-in images" if settings.fan_in else ", ".join(str(p.platform) for p in platforms),
        "; ".join(d.label for d in destinations),
    )
    if not settings.dry_run:
        for destination in destinations:
            destination.check()

    with tempfile.TemporaryDirectory(prefix="plume-") as work_dir:
        inputs = inputs_of(settings, repository, platforms, Path(work_dir))
        reusable = {}
        if inputs.contents and not settings.dry_run:
            reusable = layers_everywhere(destinations, settings.tags)
        options = BuildOptions(
            runtime=runtime_of(settings, adds_binary=bool(inputs.contents)),
            manifest_format=settings.manifest_format,
            epoch=settings.source_date_epoch,
            compression_level=settings.compression_level,
            work_dir=Path(work_dir),
            reusable_layers=reusable,
        )
        tree = build_tree(inputs.contents, settings.tags, options, inputs.bases)
        if settings.dry_run:
            log.info("dry run: nothing uploaded")
            reports: list[PublishReport] = []
            failures: list[str] = []
        else:
            reports, failures = _publish(destinations, tree)
    for line in summary_lines(tree, reports, failures):
        log.info("%s", line)
    return EXIT_FAILED if failures else 0


def _publish(destinations: Sequence[Destination], tree: ImageTree) -> tuple[list[PublishReport], list[str]]:
    """Publish to every destination; one failing does not stop the others, but fails the step."""
    reports: list[PublishReport] = []
    failures: list[str] = []
    for destination in destinations:
        try:
            reports.append(publish_tree(destination, tree))
        except PlumeError as exc:
            log.error("%s: %s", destination.label, exc)
            failures.append(f"{destination.label}: {exc}")
    return reports, failures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="plume", description="Build and publish a multi-platform image.")
    parser.add_argument("--version", action="version", version=f"plume {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve_parser = commands.add_parser("serve", help="serve a static registry directory read-only over HTTP")
    serve_parser.add_argument("directory", type=Path)
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8080)
    arguments = parser.parse_args(argv)

    if arguments.command == "serve":
        from plugin.serve import serve

        setup_logging(debug=False)
        serve(arguments.directory, arguments.host, arguments.port)
        return 0

    setup_logging(debug=False)
    try:
        settings = load_settings()
        setup_logging(settings.debug)
        return run(settings)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTING
    except PlumeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
