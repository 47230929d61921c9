"""The standard OCI labels made from CI metadata, and the index annotations taken from labels."""

from __future__ import annotations

from plugin.labels import index_annotations, standard_labels, without_credentials

REPO_URL = "https://codeberg.org/example/app"
CLONE_URL = "https://codeberg.org/example/app.git"
SHA = "4f1c1d2e3a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9"


def test_all_labels_from_full_metadata() -> None:
    labels = standard_labels(REPO_URL, CLONE_URL, SHA, "v1.2.3", "2023-11-14T22:13:20Z")

    assert labels == {
        "org.opencontainers.image.source": REPO_URL,
        "org.opencontainers.image.revision": SHA,
        "org.opencontainers.image.version": "1.2.3",
        "org.opencontainers.image.created": "2023-11-14T22:13:20Z",
        "org.opencontainers.image.url": REPO_URL,
    }


def test_source_falls_back_to_clone_url() -> None:
    labels = standard_labels("", CLONE_URL, SHA, "", "")

    assert labels == {"org.opencontainers.image.source": CLONE_URL, "org.opencontainers.image.revision": SHA}


def test_no_metadata_gives_no_labels() -> None:
    assert standard_labels("", "", "", "", "") == {}


def test_non_semver_tag_is_version_as_written() -> None:
    labels = standard_labels("", "", "", "release-2024-05", "")

    assert labels["org.opencontainers.image.version"] == "release-2024-05"


def test_credentials_are_removed_from_urls() -> None:
    assert without_credentials("https://ci-bot:t0ken@git.example.org:8443/app.git") == "https://git.example.org:8443/app.git"
    assert without_credentials(CLONE_URL) == CLONE_URL


def test_index_annotations_are_the_oci_labels() -> None:
    labels = {
        "org.opencontainers.image.source": REPO_URL,
        "org.opencontainers.image.description": "An example",
        "com.example.team": "platform",
    }

    assert index_annotations(labels) == {
        "org.opencontainers.image.source": REPO_URL,
        "org.opencontainers.image.description": "An example",
    }
