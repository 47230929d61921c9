"""Platform parsing and normalisation."""

from __future__ import annotations

import pytest

from plugin.oci.platform import Platform, PlatformError, RequestedPlatform


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("linux/amd64", "linux/amd64"),
        ("linux/arm64", "linux/arm64/v8"),
        ("linux/arm64/v8", "linux/arm64/v8"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/arm/v6", "linux/arm/v6"),
        ("linux/aarch64", "linux/arm64/v8"),
        ("linux/x86_64", "linux/amd64"),
        ("linux/i686", "linux/386"),
        ("linux/arm32v6", "linux/arm/v6"),
        ("linux/armv7", "linux/arm/v7"),
        ("linux/armv5", "linux/arm/v5"),
        ("Linux/AMD64", "linux/amd64"),
    ],
)
def test_parse_normalises_spelling_and_variant(written: str, normalised: str) -> None:
    assert str(Platform.parse(written)) == normalised


@pytest.mark.parametrize(
    ("written", "complaint"),
    [
        ("linux/sparc", "architecture 'sparc' is not supported"),
        ("windows/amd64", "operating system 'windows' is not supported"),
        ("linux/arm64/v7", "variant 'v7' does not exist for arm64"),
        ("linux", "write os/arch or os/arch/variant"),
        ("linux//v7", "write os/arch or os/arch/variant"),
    ],
)
def test_parse_rejects_with_what_is_accepted(written: str, complaint: str) -> None:
    with pytest.raises(PlatformError, match=complaint):
        Platform.parse(written)


def test_index_entry_carries_the_same_values_as_the_config() -> None:
    assert Platform.parse("linux/arm64").as_json() == {"architecture": "arm64", "os": "linux", "variant": "v8"}
    assert Platform.parse("linux/386").as_json() == {"architecture": "386", "os": "linux"}


def test_template_fields_keep_what_the_user_wrote() -> None:
    requested = RequestedPlatform.parse("linux/arm64")
    assert requested.template_fields() == {"os": "linux", "arch": "arm64", "variant": "", "platform": "linux/arm64"}
    assert requested.platform.variant == "v8"
    assert RequestedPlatform.parse("linux/arm/v7").template_fields()["variant"] == "v7"


def test_sorting_is_stable_whatever_order_platforms_were_written_in() -> None:
    one = sorted(Platform.parse(p) for p in ["linux/arm64", "linux/amd64", "linux/arm/v7", "linux/386"])
    two = sorted(Platform.parse(p) for p in ["linux/386", "linux/arm/v7", "linux/amd64", "linux/arm64"])
    assert one == two
