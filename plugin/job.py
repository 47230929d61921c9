"""The main job: from checked settings to the inputs, the built image tree and every destination.

Order of work: check the local files, check every destination (reachable, credentials accepted), run the
build command and check the files it made, find the other inputs, build the tree once, then publish it to
each destination. Nothing is uploaded before every input has been checked.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from plugin import __version__
from plugin.build.image import BuildOptions, build_tree, rfc3339
from plugin.build.layer import LayerEntry
from plugin.errors import PlumeError, SettingsError, SourceError
from plugin.labels import index_annotations, standard_labels
from plugin.oci.content import BaseImage, ImageTree, PlatformImage
from plugin.oci.mediatypes import ManifestFormat
from plugin.oci.models import RuntimeConfig
from plugin.oci.platform import Platform, RequestedPlatform
from plugin.oci.reference import ImageReference, Repository
from plugin.publish import BlobPusher, Destination, PublishReport, publish_tree, retry
from plugin.publish.directory import DirectoryStore
from plugin.publish.registry.auth import Credentials
from plugin.publish.registry.client import RegistryClient
from plugin.publish.registry.destination import RegistryDestination
from plugin.publish.registry.logins import find_login, read_docker_config
from plugin.publish.remembered import RememberedDestination
from plugin.publish.reuse import layers_everywhere
from plugin.publish.static import StaticRegistry
from plugin.settings import DEFAULT_STATIC_DIR, SCRATCH, CiMetadata, Settings, image_tags, variable
from plugin.sources.archive import LayerWork, archive_images
from plugin.sources.base import base_images
from plugin.sources.binaries import artifact_paths, binary_entries
from plugin.sources.build_command import run_build_command
from plugin.sources.elf import check_binaries
from plugin.sources.fanin import fan_in_images
from plugin.sources.files import file_entries
from plugin.sources.merge import EntriesBySetting, merge_entries
from plugin.sources.registry import RegistrySource
from plugin.summary import summary_lines

log = logging.getLogger("plugin")

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def repository_of(settings: Settings) -> Repository:
    repository = Repository.parse(settings.repo)
    if repository.host is None and settings.registry:
        repository = repository.on_host(settings.registry)
    return repository


def destinations_of(settings: Settings, repository: Repository) -> list[Destination]:
    destinations: list[Destination] = []
    if repository.host is not None:
        destinations.append(registry_destination(settings, repository))
    if settings.s3_endpoint:
        from plugin.publish.s3 import S3Store

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


def registry_destination(settings: Settings, repository: Repository) -> RegistryDestination:
    scheme = "http" if settings.insecure else "https"
    client = RegistryClient(
        f"{scheme}://{repository.api_host}",
        repository.api_path,
        registry_credentials(settings, repository),
        chunk_size=settings.chunk_size,
    )
    return RegistryDestination(client, str(repository), mount_source(settings, repository))


def mount_source(settings: Settings, repository: Repository) -> str | None:
    """Return the repository to mount existing blobs from: `mount_from`, else the base image's repository when it
    is on the destination's registry, so that the base's layers are linked instead of uploaded again."""
    if settings.mount_from:
        return Repository.parse(settings.mount_from).on_host(repository.host or "").api_path
    if settings.base != SCRATCH and not settings.fan_in:
        base = ImageReference.parse(settings.base).with_default_host().repository
        if base.same_registry(repository) and base.api_path != repository.api_path:
            return base.api_path
    return None


def registry_credentials(settings: Settings, repository: Repository) -> Credentials | None:
    """Return the login for the repository's registry.

    The sources in order: PLUGIN_USERNAME and PLUGIN_PASSWORD, the first matching entry of PLUGIN_LOGINS,
    then the Docker config.json.
    """
    login = login_of(settings)
    if login is not None:
        return login

    found = find_login(settings.logins, repository.registry)
    if found is not None:
        return Credentials(found.username, found.password, variable("logins"))

    path = settings.docker_config_path()
    if path is None or not (settings.docker_config or path.exists()):
        return None
    setting = variable("docker_config") if settings.docker_config else "DOCKER_CONFIG"
    try:
        found = read_docker_config(path).login_for(repository.registry)
    except ValueError as exc:
        raise SettingsError(setting, str(path), str(exc)) from exc
    return None if found is None else Credentials(found.username, found.password, f"{setting} {path}")


def login_of(settings: Settings) -> Credentials | None:
    password = settings.password.get_secret_value()
    return Credentials(settings.username, password) if settings.username or password else None


def has_binary(settings: Settings) -> bool:
    return bool(settings.artifact or settings.artifacts)


def labels_of(settings: Settings, ci: CiMetadata) -> dict[str, str]:
    """Merge the standard labels from CI metadata (unless switched off) with the user's, which win."""
    if not settings.auto_labels:
        return dict(settings.labels)
    created = rfc3339(settings.source_date_epoch) if "source_date_epoch" in settings.model_fields_set else ""
    automatic = standard_labels(ci.repository_url, ci.clone_url, ci.commit_sha, ci.commit_tag, created)
    return {**automatic, **settings.labels}


def runtime_of(settings: Settings, labels: Mapping[str, str]) -> RuntimeConfig:
    """The runtime settings; a binary added to the image is its default entrypoint, with a standard PATH."""
    if settings.fan_in:
        # Fan-in republishes the children as they are: their configs are not rewritten, labels go on the index.
        return RuntimeConfig()
    env_lines = [f"{key}={value}" for key, value in settings.env.items()]
    adds_binary = has_binary(settings)
    return RuntimeConfig(
        settings.entrypoint,
        settings.cmd,
        env_lines,
        settings.workdir,
        settings.user,
        labels,
        default_entrypoint=[settings.install_path] if adds_binary else None,
        default_env=[DEFAULT_PATH] if adds_binary else (),
    )


@dataclass(frozen=True)
class Inputs:
    """Each platform's input: files to pack into a new layer, and an existing image to build on."""

    contents: dict[Platform, list[LayerEntry]]
    bases: dict[Platform, BaseImage]


def contents_of(
    settings: Settings, platforms: Sequence[RequestedPlatform], base_dir: Path
) -> dict[Platform, list[LayerEntry]]:
    """Collect each platform's entries from the binary and `files` settings, then merge and check them."""
    groups: list[EntriesBySetting] = []
    if has_binary(settings):
        setting = variable("artifacts" if settings.artifacts else "artifact")
        explicit = {RequestedPlatform.parse(key).platform: path for key, path in settings.artifacts.items()}
        paths = artifact_paths(platforms, settings.artifact, explicit, base_dir)
        groups.append((setting, binary_entries(paths, settings.install_path, setting)))
    if settings.files:
        setting = variable("files")
        groups.append((setting, file_entries(platforms, settings.files, base_dir, setting)))
    if not groups:
        return {}

    contents = merge_entries(groups)
    if settings.check_binaries:
        check_binaries(contents, variable("check_binaries"))
    return contents


def inputs_of(
    settings: Settings,
    repository: Repository,
    platforms: Sequence[RequestedPlatform],
    work: Path,
    contents: dict[Platform, list[LayerEntry]] | None = None,
) -> Inputs:
    """Find and check every input before anything is built: files, archives, the base image or fan-in children.

    `contents` are the local files when they were already collected and checked.
    """
    if settings.fan_in:
        setting = variable("fan_in")
        children = fan_in_images(settings.fan_in, repository, lambda child: fan_in_source(settings, child), setting)
        if "platforms" in settings.model_fields_set:
            _check_fan_in_platforms(children, platforms)
        return Inputs({}, children)

    if contents is None:
        contents = contents_of(settings, platforms, Path.cwd())
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
    credentials = None
    credential_settings = f"{variable('base_username')} and {variable('base_password')}"
    if settings.base_username or base_password:
        credentials = Credentials(settings.base_username, base_password)
    elif on_destination_registry and login_of(settings) is not None:
        credentials = login_of(settings)
        credential_settings = f"{variable('username')} and {variable('password')}"

    insecure = settings.base_insecure or (on_destination_registry and settings.insecure)
    scheme = "http" if insecure else "https"
    client = RegistryClient.for_pulling(f"{scheme}://{base.api_host}", base.api_path, credentials)
    return RegistrySource(client, credential_settings, variable("base_insecure"))


def fan_in_source(settings: Settings, child: Repository) -> RegistrySource:
    """Make the client that reads a fan-in child from the destination registry, with the destination's login."""
    scheme = "http" if settings.insecure else "https"
    client = RegistryClient.for_pulling(f"{scheme}://{child.api_host}", child.api_path, login_of(settings))
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


def run(settings: Settings, ci: CiMetadata) -> list[str]:
    """Run the job and return the failed destinations, each with its error; an empty list is success."""
    retry.set_deadline(settings.timeout)
    repository = repository_of(settings)
    platforms = [RequestedPlatform.parse(text) for text in settings.platforms]
    tags = image_tags(settings, ci)
    labels = labels_of(settings, ci)
    # Wrapped so that publishing does not request again what the search for reusable layers has just read.
    destinations: list[Destination] = [RememberedDestination(d) for d in destinations_of(settings, repository)]
    log.info(
        "plume %s: %s for %s -> %s",
        __version__,
        repository.path,
        "the platforms of the fan-in images" if settings.fan_in else ", ".join(str(p.platform) for p in platforms),
        "; ".join(d.label for d in destinations),
    )
    if settings.auto_tag:
        source = f"{ci.commit_tag_variable}={ci.commit_tag}" if ci.commit_tag else "no commit tag"
        log.info("auto_tag: %s gives the tags %s", source, ", ".join(tags))

    # Local files are checked before any request, unless a build command has yet to make them. Destinations
    # are checked before the build command, so that wrong credentials fail the step before a long build.
    local_contents = None
    if not settings.build_command and not settings.fan_in:
        local_contents = contents_of(settings, platforms, Path.cwd())
    if not settings.dry_run:
        for destination in destinations:
            destination.check()
    if settings.build_command:
        platform_values = [requested.platform for requested in platforms]
        run_build_command(
            settings.build_command, platform_values, Path.cwd(), settings.build_parallel, variable("build_command")
        )

    with tempfile.TemporaryDirectory(prefix="plume-") as work_dir:
        inputs = inputs_of(settings, repository, platforms, Path(work_dir), local_contents)
        reusable = {}
        if inputs.contents and not settings.dry_run:
            reusable = layers_everywhere(destinations, tags)
        options = BuildOptions(
            runtime=runtime_of(settings, labels),
            manifest_format=settings.manifest_format,
            epoch=settings.source_date_epoch,
            compression_level=settings.compression_level,
            work_dir=Path(work_dir),
            reusable_layers=reusable,
            # A Docker manifest list has no annotations field, so the labels stay in the configs.
            index_annotations=index_annotations(labels) if settings.manifest_format is ManifestFormat.OCI else None,
        )
        if settings.dry_run:
            tree = build_tree(inputs.contents, tags, options, inputs.bases)
            log.info("dry run: nothing uploaded")
            reports: list[PublishReport] = []
            failures: list[str] = []
        else:
            with contextlib.ExitStack() as pushers_open:
                pushers = [pushers_open.enter_context(BlobPusher(destination)) for destination in destinations]

                def push_early(image: PlatformImage) -> None:
                    for pusher in pushers:
                        for blob in image.blobs:
                            pusher.push(blob)

                tree = build_tree(inputs.contents, tags, options, inputs.bases, on_image=push_early)
                reports, failures = publish_everywhere(pushers, tree)
    for line in summary_lines(tree, reports, failures, retry.recovered_failures()):
        log.info("%s", line)
    return failures


def publish_everywhere(pushers: Sequence[BlobPusher], tree: ImageTree) -> tuple[list[PublishReport], list[str]]:
    """Publish to every destination through its pusher. A failing destination does not stop the others but fails
    the step."""
    reports: list[PublishReport] = []
    failures: list[str] = []
    for pusher in pushers:
        destination = pusher.destination
        try:
            reports.append(publish_tree(destination, tree, pusher))
        except PlumeError as exc:
            pusher.close()
            log.error("%s: %s", destination.label, exc)
            failures.append(f"{destination.label}: {exc}")
    return reports, failures
