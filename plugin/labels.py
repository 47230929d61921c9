"""The standard `org.opencontainers.image.*` labels, made from what the CI system reports about the commit."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from plugin.autotag import Version, VersionError

OCI_PREFIX = "org.opencontainers.image."
SOURCE = OCI_PREFIX + "source"
REVISION = OCI_PREFIX + "revision"
VERSION = OCI_PREFIX + "version"
CREATED = OCI_PREFIX + "created"
URL = OCI_PREFIX + "url"


def without_credentials(url: str) -> str:
    """Return the URL without the `user:password@` part that a clone URL may carry."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def version_label(commit_tag: str) -> str:
    """Return the version of a tagged commit: `1.2.3` for the tag `v1.2.3`, any other tag as it is written."""
    try:
        return str(Version.parse(commit_tag))
    except VersionError:
        return commit_tag


def standard_labels(
    repository_url: str, clone_url: str, revision: str, commit_tag: str, created: str
) -> dict[str, str]:
    """Build the standard labels from what is known. An empty argument leaves its label out.

    `source` is the repository's web page, or its clone URL when the CI system gives no web page.
    """
    labels: dict[str, str] = {}
    source = repository_url or clone_url
    if source:
        labels[SOURCE] = without_credentials(source)
    if revision:
        labels[REVISION] = revision
    if commit_tag:
        labels[VERSION] = version_label(commit_tag)
    if created:
        labels[CREATED] = created
    if repository_url:
        labels[URL] = without_credentials(repository_url)
    return labels


def index_annotations(labels: Mapping[str, str]) -> dict[str, str]:
    """Select the labels in the `org.opencontainers.image.` namespace, which also describe the whole index."""
    return {key: value for key, value in labels.items() if key.startswith(OCI_PREFIX)}
