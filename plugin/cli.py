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
from plugin.publish import Destination, PublishReport, publish_tree, retry
from plugin.publish.directory import DirectoryStore
from plugin.publish.registry.auth import Credentials
from plugin.publish.registry.client import RegistryClient
from plugin.publish.registry.destination import RegistryDestination
from plugin.publish.registry.logins import find_login, read_docker_config
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


def registry_credentials(settings: Settings, repository: Repository) -> Credentials | None:
    """Return the login for the repository's registry.

    The sources in order: PLUGIN_USERNAME and PLUGIN_PASSWORD, the first matching entry of PLUGIN_LOGINS,
    then the Docker config.json.
    """
    password = settings.password.get_secret_value()
    if settings.username or password:
        return Credentials(settings.username, password)

    login = find_login(settings.logins, repository.registry)
    if login is not None:
        return Credentials(login.username, login.password, variable("logins"))

    path = settings.docker_config_path()
    if path is None or not (settings.docker_config or path.exists()):
        return None
    setting = variable("docker_config") if settings.docker_config else "DOCKER_CONFIG"
    try:
        login = read_docker_config(path).login_for(repository.registry)
    except ValueError as exc:
        raise SettingsError(setting, str(path), str(exc)) from exc
    return None if login is None else Credentials(login.username, login.password, f"{setting} {path}")


def registry_destination(settings: Settings, repository: Repository) -> RegistryDestination:
    scheme = "http" if settings.insecure else "https"
    credentials = registry_credentials(settings, repository)
    client = RegistryClient(
        f"{scheme}://{repository.api_host}", repository.api_path, credentials, chunk_size=settings.chunk_size
    )
    mount_from = None
    if settings.mount_from:
        mount_from = Repository.parse(settings.mount_from).on_host(repository.host or "").api_path
    return RegistryDestination(client, str(repository), mount_from)


def destinations_of(settings: Settings, repository: Repository) -> list[Destination]:
    destinations: list[Destination] = []
    if repository.host is not None:
        destinations.append(registry_destination(settings, repository))
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


def runtime_of(settings: Settings) -> RuntimeConfig:
    env = dict(settings.env)
    env_lines = [f"{key}={value}" for key, value in env.items()]
    if "PATH" not in env:
        env_lines.insert(0, DEFAULT_PATH)
    entrypoint = settings.entrypoint if settings.entrypoint is not None else [settings.install_path]
    return RuntimeConfig(entrypoint, settings.cmd, env_lines, settings.workdir, settings.user, settings.labels)


def run(settings: Settings) -> int:
    retry.set_deadline(settings.timeout)
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
    if not settings.dry_run:
        for destination in destinations:
            destination.check()

    with tempfile.TemporaryDirectory(prefix="plume-") as work_dir:
        options = BuildOptions(
            runtime=runtime_of(settings),
            manifest_format=settings.manifest_format,
            epoch=settings.source_date_epoch,
            compression_level=settings.compression_level,
            work_dir=Path(work_dir),
        )
        tree = build_tree(contents, settings.tags, options)
        if settings.dry_run:
            log.info("dry run: nothing uploaded")
            reports: list[PublishReport] = []
            failures: list[str] = []
        else:
            reports, failures = _publish(destinations, tree)
    for line in summary_lines(tree, reports, failures, retry.recovered_failures()):
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
