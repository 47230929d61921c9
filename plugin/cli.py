"""The entrypoint: read the settings, set up logging, run the job, and map errors to exit codes.

Exit status: 0 when every destination has the image, 1 when building or publishing failed, 2 when a
setting is invalid.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from plugin import __version__
from plugin.build.image import BuildOptions, build_tree
from plugin.errors import PlumeError, SettingsError
from plugin.oci.content import ImageTree
from plugin.oci.models import RuntimeConfig
from plugin.oci.platform import RequestedPlatform
from plugin.oci.reference import Repository
from plugin.publish import Destination, PublishReport, publish_tree
from plugin.publish.directory import DirectoryStore
from plugin.publish.registry.auth import Credentials
from plugin.publish.registry.client import RegistryClient
from plugin.publish.registry.destination import RegistryDestination
from plugin.publish.reuse import layers_everywhere
from plugin.publish.s3 import S3Store
from plugin.publish.static import StaticRegistry
from plugin.settings import DEFAULT_STATIC_DIR, Settings, load_settings, variable
from plugin.sources.binaries import artifact_paths, binary_entries
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


def run(settings: Settings) -> int:
    repository = repository_of(settings)
    platforms = [RequestedPlatform.parse(text) for text in settings.platforms]
    explicit = {RequestedPlatform.parse(key).platform: path for key, path in settings.artifacts.items()}
    destinations = destinations_of(settings, repository)
    log.info(
        "plume %s: %s for %s -> %s",
        __version__,
        repository.path,
        ", ".join(str(p.platform) for p in platforms),
        "; ".join(d.label for d in destinations),
    )

    setting = variable("artifacts" if settings.artifacts else "artifact")
    paths = artifact_paths(platforms, settings.artifact, explicit, Path.cwd())
    contents = binary_entries(paths, settings.install_path, setting)
    reusable = {}
    if not settings.dry_run:
        for destination in destinations:
            destination.check()
        reusable = layers_everywhere(destinations, settings.tags)

    with tempfile.TemporaryDirectory(prefix="plume-") as work_dir:
        options = BuildOptions(
            runtime=runtime_of(settings, adds_binary=True),
            manifest_format=settings.manifest_format,
            epoch=settings.source_date_epoch,
            compression_level=settings.compression_level,
            work_dir=Path(work_dir),
            reusable_layers=reusable,
        )
        tree = build_tree(contents, settings.tags, options)
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
