"""Repository names and tags."""

from __future__ import annotations

import pytest

from plugin.oci.reference import ImageReference, ReferenceError, Repository, check_tag, registry_name


@pytest.mark.parametrize(
    ("text", "host", "path"),
    [
        ("hello", None, "hello"),
        ("me/hello", None, "me/hello"),
        ("127.0.0.1:5000/hello", "127.0.0.1:5000", "hello"),
        ("localhost/a/b", "localhost", "a/b"),
        ("registry.example.org/team/app-1", "registry.example.org", "team/app-1"),
        ("docker.io/me/app", "docker.io", "me/app"),
    ],
)
def test_parse_splits_host_and_path(text: str, host: str | None, path: str) -> None:
    repository = Repository.parse(text)
    assert (repository.host, repository.path) == (host, path)


@pytest.mark.parametrize("text", ["Hello", "me/Hello", "hello/", "a//b", "-app", "app-", "a..b", "x" * 256])
def test_parse_rejects_names_registries_refuse(text: str) -> None:
    with pytest.raises(ReferenceError, match="lower-case"):
        Repository.parse(text)


def test_docker_hub_names_use_the_api_host_and_library_prefix() -> None:
    for host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        repository = Repository.parse(f"{host}/alpine")
        assert repository.api_host == "registry-1.docker.io"
        assert repository.api_path == "library/alpine"
    assert Repository.parse("docker.io/me/app").api_path == "me/app"
    assert Repository.parse("ghcr.io/alpine").api_path == "alpine"


@pytest.mark.parametrize("tag", ["latest", "1.2.3", "v1.2.3-rc.1", "_x", "a" * 128])
def test_check_tag_accepts_valid_tags(tag: str) -> None:
    assert check_tag(tag) == tag


@pytest.mark.parametrize("tag", ["1.2.3+build", "a" * 129, ".hidden", "-dash", "", "sp ace"])
def test_check_tag_rejects_invalid_tags(tag: str) -> None:
    with pytest.raises(ReferenceError, match="1 to 128"):
        check_tag(tag)


DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "host", "path", "tag", "digest"),
    [
        ("alpine", None, "alpine", "", None),
        ("alpine:3.20", None, "alpine", "3.20", None),
        ("127.0.0.1:5000/team/base", "127.0.0.1:5000", "team/base", "", None),
        ("127.0.0.1:5000/team/base:1.0", "127.0.0.1:5000", "team/base", "1.0", None),
        (f"registry.example.org/base@{DIGEST}", "registry.example.org", "base", "", DIGEST),
        (f"registry.example.org/base:1@{DIGEST}", "registry.example.org", "base", "1", DIGEST),
    ],
)
def test_image_reference_parts(text: str, host: str | None, path: str, tag: str, digest: str | None) -> None:
    reference = ImageReference.parse(text)

    assert reference.repository == Repository(host, path)
    assert reference.tag == tag
    assert (str(reference.digest) if reference.digest else None) == digest
    assert str(reference) == text


def test_image_reference_prefers_digest() -> None:
    assert ImageReference.parse(f"app:1@{DIGEST}").reference == DIGEST
    assert ImageReference.parse("app:1").reference == "1"
    assert ImageReference.parse("app").reference == "latest"


def test_hostless_image_is_docker_library() -> None:
    repository = ImageReference.parse("alpine:3.20").with_default_host().repository

    assert repository.api_host == "registry-1.docker.io"
    assert repository.api_path == "library/alpine"


@pytest.mark.parametrize("text", ["app:", "app@sha256:abc", "App:1", "app:-1"])
def test_invalid_image_reference_is_rejected(text: str) -> None:
    with pytest.raises(ReferenceError):
        ImageReference.parse(text)


DESTINATION = Repository("registry.example.org", "team/app")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amd64", "registry.example.org/team/app:amd64"),
        (DIGEST, f"registry.example.org/team/app@{DIGEST}"),
        (f"@{DIGEST}", f"registry.example.org/team/app@{DIGEST}"),
        ("team/app-arm64:ci-7", "registry.example.org/team/app-arm64:ci-7"),
        (f"team/other@{DIGEST}", f"registry.example.org/team/other@{DIGEST}"),
        ("registry.example.org/team/app:amd64", "registry.example.org/team/app:amd64"),
    ],
)
def test_reference_in_destination_registry(text: str, expected: str) -> None:
    assert str(ImageReference.in_repository(text, DESTINATION)) == expected


def test_reference_on_other_registry_rejected() -> None:
    with pytest.raises(ReferenceError, match="another registry"):
        ImageReference.in_repository("other.example.org/team/app:amd64", DESTINATION)


def test_docker_hub_names_are_one_registry() -> None:
    assert Repository("docker.io", "a").same_registry(Repository("index.docker.io", "b"))
    assert not Repository("docker.io", "a").same_registry(Repository("ghcr.io", "a"))


@pytest.mark.parametrize(
    ("address", "name"),
    [
        ("docker.io", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("https://index.docker.io/v1/", "docker.io"),
        ("INDEX.DOCKER.IO", "docker.io"),
        ("http://127.0.0.1:5000/", "127.0.0.1:5000"),
        ("https://registry.example.org/v2/", "registry.example.org"),
        ("ghcr.io", "ghcr.io"),
    ],
)
def test_registry_name_is_comparable(address: str, name: str) -> None:
    assert registry_name(address) == name


@pytest.mark.parametrize("address", ["", "registry.example.org/team", "https://", "a b"])
def test_registry_name_rejects_paths_and_junk(address: str) -> None:
    with pytest.raises(ReferenceError, match="registry host"):
        registry_name(address)


def test_repository_registry_maps_docker_hub() -> None:
    assert Repository.parse("index.docker.io/me/app").registry == "docker.io"
    assert Repository.parse("127.0.0.1:5000/me/app").registry == "127.0.0.1:5000"
