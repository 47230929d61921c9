"""The step's settings: `PLUGIN_*` variables as Woodpecker and Drone set them, parsed and checked at once.

Both CI systems pass a list of scalars comma-joined and a map or nested list as JSON; every list setting
accepts both forms, every map setting accepts a JSON object or a list of KEY=VALUE items. Any invalid value
stops the step before a file is read or a byte is uploaded, with a SettingsError naming the variable.
"""

from __future__ import annotations

import json
import os
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from plugin.autotag import Version, VersionError, version_tags
from plugin.build.layer import DEFAULT_COMPRESSION_LEVEL
from plugin.errors import SettingsError
from plugin.oci.mediatypes import ManifestFormat
from plugin.oci.platform import PlatformError, RequestedPlatform
from plugin.oci.reference import ImageReference, ReferenceError, Repository, check_tag, registry_name
from plugin.publish.registry.logins import Login, parse_logins, read_docker_config
from plugin.publish.registry.upload import DEFAULT_CHUNK_SIZE, MIN_CHUNK_SIZE

ENV_PREFIX = "PLUGIN_"
TEMPLATE_FIELDS = ("os", "arch", "variant", "platform")
DEFAULT_STATIC_DIR = "plume-static"  # in the workspace, beside the sources, when no registry is named
DEFAULT_S3_REGION = "garage"  # Garage's default region name; it rejects signatures made for another region

DEFAULT_TIMEOUT = 1800  # seconds: well under the 60 minutes Woodpecker and Drone give a step by default
DOCKER_CONFIG_FILE = "config.json"  # the file Docker reads in the DOCKER_CONFIG directory

BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
TAG_CHARACTERS = re.compile(r"^[A-Za-z0-9_.-]*$")

SCRATCH = "scratch"  # the empty base, as in a Containerfile's `FROM scratch`
# Settings that each give every platform's content; fan_in may not be combined with any of them.
CONTENT_FIELDS = ("artifact", "artifacts", "files", "archive", "archives")
SIZE_PATTERN = re.compile(r"^(\d+)\s*(B|KiB|MiB|GiB)?$")
SIZE_UNITS = {"": 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}

StringList = Annotated[list[str], NoDecode]
StringMap = Annotated[dict[str, str], NoDecode]
LoginList = Annotated[list[Login], NoDecode]


def variable(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def split_list(field: str, raw: Any) -> list[str]:
    """Split a JSON array of strings, or comma-separated items, into a list without blank items."""
    if isinstance(raw, list):
        items = raw
    elif isinstance(raw, str) and raw.strip().startswith("["):
        try:
            items = json.loads(raw)
        except ValueError as exc:
            raise SettingsError(variable(field), raw, "a JSON array is not valid JSON") from exc
        if not isinstance(items, list) or not all(isinstance(i, str | int | float) for i in items):
            raise SettingsError(variable(field), raw, "use a JSON array of strings or comma-separated values")
    elif isinstance(raw, str):
        items = raw.split(",")
    else:
        raise SettingsError(variable(field), str(raw), "use a JSON array of strings or comma-separated values")
    return [str(item).strip() for item in items if str(item).strip()]


def split_map(field: str, raw: Any) -> dict[str, str]:
    """Parse a JSON object of strings, or KEY=VALUE items as a JSON array or comma-separated, into a dict."""
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, str) and raw.strip().startswith("{"):
        try:
            loaded = json.loads(raw)
        except ValueError as exc:
            raise SettingsError(variable(field), raw, "a JSON object is not valid JSON") from exc
        return {str(k): str(v) for k, v in loaded.items()}
    pairs: dict[str, str] = {}
    for item in split_list(field, raw):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise SettingsError(variable(field), str(raw), "use a JSON object or KEY=VALUE items")
        pairs[key.strip()] = value
    return pairs


def check_template(field: str, template: str) -> str:
    """Check that a path template uses only the platform placeholders."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise SettingsError(variable(field), template, f"not a valid template ({exc})") from exc
    unknown = fields - set(TEMPLATE_FIELDS)
    if unknown:
        accepted = ", ".join(f"{{{name}}}" for name in TEMPLATE_FIELDS)
        raise SettingsError(variable(field), template, f"unknown placeholder; use {accepted}")
    return template


def check_image_path(field: str, path: str) -> str:
    """Check that a path in the image is absolute and does not climb out with `..`."""
    if not path.startswith("/") or ".." in PurePosixPath(path).parts:
        raise SettingsError(variable(field), path, "use an absolute path without '..'")
    return path


@dataclass(frozen=True)
class TagOrigin:
    """A tag as written or derived, with the variable and value it came from, for error messages."""

    tag: str
    variable: str
    value: str = ""  # the variable's value when the tag was derived from it, such as `v1.2.3` for `1.2`


def tags_after_replacement(tags: Sequence[TagOrigin], plus_replacement: str) -> list[str]:
    """Replace `+` in each tag, check it and drop repeated tags, keeping the order given.

    Raises SettingsError for an invalid tag, or when two different tags become the same one.
    """
    final: dict[str, TagOrigin] = {}
    for origin in tags:
        tag = origin.tag.replace("+", plus_replacement) if plus_replacement else origin.tag
        try:
            check_tag(tag)
        except ReferenceError as exc:
            value = origin.value or origin.tag
            derived = f"gives the tag {tag!r}, but " if tag != value else ""
            hint = f"; set {variable('tag_plus_replacement')} to replace '+'" if "+" in tag else ""
            raise SettingsError(origin.variable, value, f"{derived}{exc}{hint}") from exc
        earlier = final.setdefault(tag, origin)
        if earlier.tag != origin.tag:
            raise SettingsError(
                variable("tag_plus_replacement"),
                plus_replacement,
                f"tags {earlier.tag!r} ({earlier.variable}) and {origin.tag!r} ({origin.variable}) both become "
                f"{tag!r}; choose another replacement or drop one of them",
            )
    return list(final)


class Settings(BaseSettings):
    """Every setting of the step; each description says what it accepts, and the usage docs list them."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, case_sensitive=False, extra="ignore")

    repo: str = Field(description="the image name, `[HOST[:PORT]/]PATH`; a HOST sends it to that registry")
    registry: str = Field("", description="registry host for a `repo` written without one, such as `docker.io`")
    tags: StringList = Field(["latest"], description="tags to publish, comma-separated or a JSON array")
    platforms: StringList = Field(
        ["linux/amd64", "linux/arm64"], description="platforms as `os/arch[/variant]`, comma-separated or JSON"
    )
    artifact: str = Field(
        "", description="path of each platform's binary, with `{os}`, `{arch}`, `{variant}` or `{platform}`"
    )
    artifacts: StringMap = Field(
        default_factory=dict, description="a JSON object from each platform to its binary's path"
    )
    files: StringMap = Field(
        default_factory=dict,
        description="a JSON object from source path templates (files or directories) to absolute paths in the image",
    )
    build_command: str = Field("", description="a shell command run once per platform before packing")
    build_parallel: bool = Field(False, description="`true` to run the build command for every platform at once")
    check_binaries: bool = Field(True, description="`false` to publish ELF files built for another platform")
    archive: str = Field(
        "",
        description="path of each platform's image archive or OCI layout directory, with the `artifact` placeholders",
    )
    archives: StringMap = Field(
        default_factory=dict, description="a JSON object from each platform to its image archive's path"
    )
    base: str = Field(
        SCRATCH, description="image to build on, `[HOST[:PORT]/]NAME[:TAG][@DIGEST]` (Docker Hub without a host)"
    )
    base_username: str = Field("", description="user name for the base image's registry")
    base_password: SecretStr = Field(
        SecretStr(""), description="password or access token for the base image's registry (a secret)"
    )
    base_insecure: bool = Field(False, description="`true` to read the base image over plain HTTP")
    fan_in: StringList = Field(
        [], description="images on the destination registry to list in one index, by tag or digest, instead of building"
    )
    install_path: str = Field("/app", description="absolute path of the binary in the image")
    entrypoint: StringList | None = Field(
        None, description="the image's entrypoint; default: the binary, unless the base image runs a command"
    )
    cmd: StringList | None = Field(None, description="the image's default arguments")
    env: StringMap = Field(default_factory=dict, description="environment of the image, a JSON object or KEY=VALUE")
    workdir: str = Field("", description="working directory of the container, an absolute path")
    user: str = Field("", description="user the container runs as, such as `65534` or `65534:65534`")
    labels: StringMap = Field(default_factory=dict, description="image labels, a JSON object or KEY=VALUE items")
    auto_labels: bool = Field(True, description="`false` to leave out the labels made from CI metadata")
    auto_tag: bool = Field(False, description="`true` to tag a release from its semantic version tag")
    auto_tag_suffix: str = Field("", description="appended to every automatic tag with `-`, such as `alpine`")
    tag_plus_replacement: str = Field(
        "", description="what replaces `+` in tags, such as `-`; empty rejects a tag with `+`"
    )
    username: str = Field("", description="registry user name")
    password: SecretStr = Field(SecretStr(""), description="registry password or access token (a secret)")
    logins: LoginList = Field(
        default_factory=list,
        description="registry logins, a JSON list of maps with `registry`, `username` and `password` (secrets)",
    )
    docker_config: str = Field(
        "", description="path of a Docker config.json with registry logins; default: config.json in DOCKER_CONFIG"
    )
    docker_config_dir: str = Field(
        "", validation_alias="DOCKER_CONFIG", description="`DOCKER_CONFIG`: the directory of Docker's config.json"
    )
    mount_from: str = Field(
        "", description="a repository on the same registry to mount blobs from instead of uploading them"
    )
    chunk_size: Annotated[int, NoDecode] = Field(
        DEFAULT_CHUNK_SIZE,
        description="blobs larger than this go in chunks of this size: bytes, or a number with KiB, MiB or GiB",
    )
    timeout: int = Field(
        DEFAULT_TIMEOUT,
        ge=1,
        description="whole seconds, at least 1, that the step may take before plume stops retrying and fails",
    )
    insecure: bool = Field(False, description="`true` to talk plain HTTP to the registry")
    dry_run: bool = Field(False, description="`true` to build and check everything but upload nothing")
    static_dir: str = Field(
        "", description=f"directory for a static registry; default `{DEFAULT_STATIC_DIR}` when no registry is named"
    )
    s3_endpoint: str = Field(
        "", description="S3 API URL of a bucket for a static registry, such as `https://s3.example.org`"
    )
    s3_bucket: str = Field("", description="the bucket that holds the static registry")
    s3_region: str = Field(DEFAULT_S3_REGION, description="the region signed into every request; Garage checks it")
    s3_access_key: str = Field("", description="the S3 access key ID")
    s3_secret_key: SecretStr = Field(SecretStr(""), description="the S3 secret key (a secret)")
    s3_prefix: str = Field("", description="a key prefix inside the bucket, for several registries in one bucket")
    s3_public_url: str = Field("", description="the URL users pull from, shown in the summary")
    manifest_format: ManifestFormat = Field(
        ManifestFormat.OCI, description="`oci` (an OCI index) or `docker` (a Docker manifest list)"
    )
    compression_level: int = Field(
        DEFAULT_COMPRESSION_LEVEL, ge=1, le=9, description="gzip level from 1 (fastest) to 9 (smallest)"
    )
    debug: bool = Field(False, description="`true` to log every request (never a secret)")
    source_date_epoch: int = Field(
        0,
        ge=0,
        validation_alias="SOURCE_DATE_EPOCH",
        description="`SOURCE_DATE_EPOCH`: Unix time for every timestamp in the image",
    )

    @field_validator("repo")
    @classmethod
    def _repo_is_a_name(cls, value: str) -> str:
        try:
            Repository.parse(value)
        except ReferenceError as exc:
            raise SettingsError(variable("repo"), value, str(exc)) from exc
        return value.strip()

    @field_validator("registry")
    @classmethod
    def _registry_is_a_host(cls, value: str) -> str:
        if not value.strip():
            return ""
        try:
            return registry_name(value)
        except ReferenceError as exc:
            raise SettingsError(variable("registry"), value, str(exc)) from exc

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_are_given(cls, raw: Any) -> list[str]:
        tags = split_list("tags", raw)
        if not tags:
            raise SettingsError(variable("tags"), str(raw), "give at least one tag")
        return list(dict.fromkeys(tags))

    @field_validator("auto_tag_suffix", "tag_plus_replacement")
    @classmethod
    def _tag_characters(cls, value: str, info: Any) -> str:
        if not TAG_CHARACTERS.match(value):
            raise SettingsError(variable(info.field_name), value, "use only letters, digits, '_', '.' or '-'")
        return value

    @field_validator("platforms", mode="before")
    @classmethod
    def _platforms_are_known(cls, raw: Any) -> list[str]:
        written = split_list("platforms", raw)
        if not written:
            raise SettingsError(variable("platforms"), str(raw), "give at least one platform, such as linux/amd64")
        seen: dict[str, str] = {}
        for text in written:
            try:
                normalised = str(RequestedPlatform.parse(text).platform)
            except PlatformError as exc:
                raise SettingsError(variable("platforms"), text, str(exc)) from exc
            if normalised in seen:
                raise SettingsError(variable("platforms"), text, f"the same platform as {seen[normalised]!r}")
            seen[normalised] = text
        return written

    @field_validator("entrypoint", "cmd", mode="before")
    @classmethod
    def _command_list(cls, raw: Any, info: Any) -> list[str] | None:
        return None if raw is None else split_list(info.field_name, raw)

    @field_validator("env", "labels", "artifacts", "archives", "files", mode="before")
    @classmethod
    def _string_map(cls, raw: Any, info: Any) -> dict[str, str]:
        return split_map(info.field_name, raw)

    @field_validator("fan_in", mode="before")
    @classmethod
    def _fan_in_list(cls, raw: Any) -> list[str]:
        return split_list("fan_in", raw)

    @field_validator("artifact", "archive")
    @classmethod
    def _path_template(cls, value: str, info: Any) -> str:
        return check_template(info.field_name, value)

    @field_validator("base")
    @classmethod
    def _base_reference(cls, value: str) -> str:
        value = value.strip()
        if not value or value == SCRATCH:
            return SCRATCH
        try:
            ImageReference.parse(value)
        except ReferenceError as exc:
            raise SettingsError(variable("base"), value, f"{exc}; or use {SCRATCH} for an empty base") from exc
        return value

    @field_validator("files")
    @classmethod
    def _files_are_safe(cls, value: dict[str, str]) -> dict[str, str]:
        for source, destination in value.items():
            if not source.strip():
                raise SettingsError(variable("files"), source, "give a source path for every destination")
            check_template("files", source)
            check_image_path("files", destination)
        return value

    @field_validator("install_path", "workdir")
    @classmethod
    def _absolute_path(cls, value: str, info: Any) -> str:
        return check_image_path(info.field_name, value) if value else value

    @model_validator(mode="after")
    def _tags_are_valid(self) -> Settings:
        tags_after_replacement(
            [TagOrigin(tag, variable("tags")) for tag in self.tags], self.tag_plus_replacement
        )
        return self

    @field_validator("logins", mode="before")
    @classmethod
    def _logins_are_complete(cls, raw: Any) -> list[Login]:
        try:
            return parse_logins(raw)
        except ValueError as exc:
            raise SettingsError(variable("logins"), None, str(exc)) from exc

    @field_validator("chunk_size", mode="before")
    @classmethod
    def _chunk_size_in_bytes(cls, raw: Any) -> int:
        match = SIZE_PATTERN.match(str(raw).strip())
        size = int(match.group(1)) * SIZE_UNITS[match.group(2) or ""] if match else 0
        if size < MIN_CHUNK_SIZE:
            accepted = f"use a size of at least {MIN_CHUNK_SIZE // 1024}KiB: bytes, or a number with KiB, MiB or GiB"
            raise SettingsError(variable("chunk_size"), str(raw), accepted)
        return size

    @field_validator("s3_endpoint", "s3_public_url")
    @classmethod
    def _http_url(cls, value: str, info: Any) -> str:
        parts = urlsplit(value.strip())
        if value and (parts.scheme not in ("http", "https") or not parts.hostname or parts.query):
            raise SettingsError(variable(info.field_name), value, "use an http:// or https:// URL")
        return value.strip().rstrip("/")

    @field_validator("s3_bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if value and not BUCKET_PATTERN.match(value):
            raise SettingsError(variable("s3_bucket"), value, "use 3 to 63 lower-case letters, digits, '.' or '-'")
        return value

    @model_validator(mode="after")
    def _s3_is_complete(self) -> Settings:
        if not (self.s3_endpoint or self.s3_bucket):
            return self
        required = {
            "s3_endpoint": self.s3_endpoint,
            "s3_bucket": self.s3_bucket,
            "s3_access_key": self.s3_access_key,
            "s3_secret_key": self.s3_secret_key.get_secret_value(),
        }
        for field, value in required.items():
            if not value:
                raise SettingsError(variable(field), None, "required when publishing to S3 (PLUGIN_S3_ENDPOINT is set)")
        return self

    @model_validator(mode="after")
    def _docker_config_is_readable(self) -> Settings:
        path = self.docker_config_path()
        if path is not None and (self.docker_config or path.exists()):
            try:
                read_docker_config(path)
            except ValueError as exc:
                name = variable("docker_config") if self.docker_config else "DOCKER_CONFIG"
                raise SettingsError(name, str(path), str(exc)) from exc
        return self

    @model_validator(mode="after")
    def _mount_source_on_the_same_registry(self) -> Settings:
        if not self.mount_from:
            return self
        try:
            source = Repository.parse(self.mount_from)
        except ReferenceError as exc:
            raise SettingsError(variable("mount_from"), self.mount_from, str(exc)) from exc
        target = Repository.parse(self.repo)
        host = target.host or self.registry
        if not host:
            accepted = "needs a registry in PLUGIN_REPO or PLUGIN_REGISTRY"
            raise SettingsError(variable("mount_from"), self.mount_from, accepted)
        if source.host is not None and source.registry != registry_name(host):
            raise SettingsError(
                variable("mount_from"), self.mount_from, f"name a repository on {host}, the registry of PLUGIN_REPO"
            )
        return self

    @model_validator(mode="after")
    def _one_kind_of_content(self) -> Settings:
        for first, second in (("artifact", "artifacts"), ("archive", "archives")):
            if getattr(self, first) and getattr(self, second):
                raise SettingsError(variable(second), None, f"set {variable(first)} or {variable(second)}, not both")
        if self.base != SCRATCH and (self.archive or self.archives):
            raise SettingsError(variable("base"), self.base, "an image archive is already the base: drop one of them")
        if self.fan_in:
            return self._fan_in_alone()
        if not any(getattr(self, field) for field in CONTENT_FIELDS):
            raise SettingsError(
                variable("artifact"),
                None,
                "required: a path template such as dist/app-{os}-{arch}{variant}, or set PLUGIN_ARTIFACTS, "
                "PLUGIN_FILES, PLUGIN_ARCHIVE, PLUGIN_ARCHIVES or PLUGIN_FAN_IN",
            )
        for field in ("artifacts", "archives"):
            self._map_covers_platforms(field)
        return self

    def _map_covers_platforms(self, field: str) -> None:
        paths: dict[str, str] = getattr(self, field)
        if not paths:
            return
        written = {str(RequestedPlatform.parse(p).platform): p for p in self.platforms}
        given = set()
        for key in paths:
            try:
                given.add(str(RequestedPlatform.parse(key).platform))
            except PlatformError as exc:
                raise SettingsError(variable(field), key, str(exc)) from exc
        missing = [written[p] for p in written if p not in given]
        if missing:
            raise SettingsError(variable(field), None, f"no path given for {', '.join(missing)}")

    def _fan_in_alone(self) -> Settings:
        combined = [variable(field) for field in CONTENT_FIELDS if getattr(self, field)]
        if self.base != SCRATCH:
            combined.append(variable("base"))
        if combined:
            raise SettingsError(
                variable("fan_in"), None, f"builds nothing, so it cannot be combined with {', '.join(combined)}"
            )
        repository = Repository.parse(self.repo)
        if repository.host is None and self.registry:
            repository = repository.on_host(self.registry)
        if repository.host is None:
            raise SettingsError(
                variable("fan_in"), None, "reads images from a registry: name one in PLUGIN_REPO or PLUGIN_REGISTRY"
            )
        for item in self.fan_in:
            try:
                ImageReference.in_repository(item, repository)
            except ReferenceError as exc:
                raise SettingsError(
                    variable("fan_in"), item, f"{exc}; write a tag, a digest, or NAME:TAG or NAME@DIGEST"
                ) from exc
        return self


    def docker_config_path(self) -> Path | None:
        """Return the config.json to read logins from: PLUGIN_DOCKER_CONFIG, else the one in DOCKER_CONFIG."""
        if self.docker_config:
            return Path(self.docker_config)
        if self.docker_config_dir:
            return Path(self.docker_config_dir) / DOCKER_CONFIG_FILE
        return None


SECRET_FIELDS = frozenset({"password", "s3_secret_key", "base_password", "logins"})
TYPE_HINTS = {"bool_parsing": "use true or false", "int_parsing": "use a whole number"}


def load_settings() -> Settings:
    """Read and check every setting from the environment, turning pydantic's errors into one line."""
    try:
        return Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        raise _settings_error(exc) from None


def setting_variable(field: str) -> str:
    """Return the environment variable a setting is read from: `PLUGIN_<NAME>`, or a standard variable."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info else None
    return alias if isinstance(alias, str) else variable(field)


def _field_of(location: str) -> str:
    """Return the field an error location names; pydantic names a standard variable's field by the variable."""
    aliases = {setting_variable(name): name for name in Settings.model_fields}
    return aliases.get(location, location)


def _plain(description: str | None) -> str:
    """Remove the Markdown backticks of a setting's description, for a message shown in a terminal."""
    return (description or "").replace("`", "")


def _settings_error(exc: ValidationError) -> SettingsError:
    first = exc.errors()[0]
    field = _field_of(str(first["loc"][0])) if first["loc"] else ""
    info = Settings.model_fields.get(field)
    name = setting_variable(field)
    if first["type"] == "missing":
        return SettingsError(name, None, f"required: {_plain(info.description) if info else 'a value'}")
    raw = None if field in SECRET_FIELDS else os.environ.get(name)
    description = _plain(info.description) if info and info.description else first["msg"]
    accepted = TYPE_HINTS.get(first["type"]) or description
    if first["type"] == "int_parsing" and info and info.description:
        # A number setting's description states its unit or range, such as "gzip level from 1 to 9".
        accepted = f"{accepted}: {description}"
    return SettingsError(name, raw, accepted)


# The variables each value is read from, in order: Woodpecker's current names, its older names
# (`CI_REPO_LINK`, `CI_REPO_REMOTE`, which Drone also sets for compatibility), then Drone's own. The first
# variable that is set and not empty wins.
COMMIT_TAG_VARIABLES = ("CI_COMMIT_TAG", "DRONE_TAG")
COMMIT_SHA_VARIABLES = ("CI_COMMIT_SHA", "DRONE_COMMIT_SHA")
REPOSITORY_URL_VARIABLES = ("CI_REPO_URL", "CI_REPO_LINK", "DRONE_REPO_LINK")
CLONE_URL_VARIABLES = ("CI_REPO_CLONE_URL", "CI_REPO_REMOTE", "DRONE_GIT_HTTP_URL", "DRONE_REMOTE_URL")


@dataclass(frozen=True)
class CiMetadata:
    """The commit a step builds, as Woodpecker (`CI_*`) or Drone (`DRONE_*`) describes it."""

    commit_tag: str = ""
    commit_tag_variable: str = COMMIT_TAG_VARIABLES[0]
    commit_sha: str = ""
    repository_url: str = ""
    clone_url: str = ""


def _first_set(environ: Mapping[str, str], names: Sequence[str]) -> tuple[str, str]:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return value, name
    return "", names[0]


def load_ci_metadata(environ: Mapping[str, str] | None = None) -> CiMetadata:
    """Read the commit's tag, hash and repository URLs from the CI variables (the process environment by default)."""
    env = os.environ if environ is None else environ
    commit_tag, commit_tag_variable = _first_set(env, COMMIT_TAG_VARIABLES)
    return CiMetadata(
        commit_tag=commit_tag,
        commit_tag_variable=commit_tag_variable,
        commit_sha=_first_set(env, COMMIT_SHA_VARIABLES)[0],
        repository_url=_first_set(env, REPOSITORY_URL_VARIABLES)[0],
        clone_url=_first_set(env, CLONE_URL_VARIABLES)[0],
    )


def image_tags(settings: Settings, ci: CiMetadata) -> list[str]:
    """Return the tags to publish: `tags`, or with `auto_tag` on a tagged commit the tags of its version.

    On a tagged commit, tags set explicitly in `tags` are published beside the automatic ones. The default
    `latest` is not, so a pre-release does not move it. Raises SettingsError for a commit tag that is not a
    semantic version, and for any tag that is invalid after `tag_plus_replacement`.
    """
    written = [TagOrigin(tag, variable("tags")) for tag in settings.tags]
    if settings.auto_tag and ci.commit_tag:
        try:
            version = Version.parse(ci.commit_tag)
        except VersionError as exc:
            raise SettingsError(
                ci.commit_tag_variable,
                ci.commit_tag,
                f"{variable('auto_tag')} needs a semantic version such as v1.2.3 or 1.3.0-rc.1; "
                "set it to false to publish other tags",
            ) from exc
        automatic = [
            TagOrigin(tag, ci.commit_tag_variable, ci.commit_tag)
            for tag in version_tags(version, settings.auto_tag_suffix)
        ]
        written = automatic + (written if "tags" in settings.model_fields_set else [])
    return tags_after_replacement(written, settings.tag_plus_replacement)
