"""The SigV4 signer against AWS's published examples, and the rules S3 adds: no double encoding, preset hashes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from plugin.publish.sigv4 import EMPTY_PAYLOAD_HASH, SigV4Auth, canonical_path, canonical_query, sha256_hex

# AWS Signature Version 4 test suite, case "get-vanilla".
SUITE_ACCESS_KEY = "AKIDEXAMPLE"
SUITE_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_TIME = datetime(2015, 8, 30, 12, 36, 0, tzinfo=UTC)

# Examples of the Amazon S3 API reference, "Signature Calculations for the Authorization Header".
S3_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
S3_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
S3_TIME = datetime(2013, 5, 24, 0, 0, 0, tzinfo=UTC)
EXAMPLE_BUCKET = "https://examplebucket.s3.amazonaws.com"

LOCAL_TIME = datetime(2024, 3, 1, 10, 20, 30, tzinfo=UTC)
LOCAL_SECRET = "secret/with+chars"


def s3_example_auth() -> SigV4Auth:
    return SigV4Auth(S3_ACCESS_KEY, S3_SECRET_KEY, "us-east-1", clock=lambda: S3_TIME)


def local_auth() -> SigV4Auth:
    return SigV4Auth("AK", LOCAL_SECRET, "garage", clock=lambda: LOCAL_TIME)


def signed(request: requests.Request) -> requests.PreparedRequest:
    """The request as requests prepares it, which runs the signer."""
    return request.prepare()


def signature(prepared: requests.PreparedRequest) -> str:
    return prepared.headers["Authorization"].rpartition("Signature=")[2]


def signed_headers(prepared: requests.PreparedRequest) -> str:
    return prepared.headers["Authorization"].partition("SignedHeaders=")[2].partition(",")[0]


def test_suite_get_vanilla() -> None:
    auth = SigV4Auth(SUITE_ACCESS_KEY, SUITE_SECRET_KEY, "us-east-1", service="service", clock=lambda: SUITE_TIME)
    prepared = signed(requests.Request("GET", "https://example.amazonaws.com/", auth=auth))

    assert prepared.headers["x-amz-date"] == "20150830T123600Z"
    assert "x-amz-content-sha256" not in prepared.headers  # only S3 wants the payload hash as a header
    assert signed_headers(prepared) == "host;x-amz-date"
    assert signature(prepared) == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"


def test_s3_example_get_object_range() -> None:
    request = requests.Request(
        "GET", f"{EXAMPLE_BUCKET}/test.txt", headers={"Range": "bytes=0-9"}, auth=s3_example_auth()
    )
    prepared = signed(request)

    assert prepared.headers["x-amz-content-sha256"] == EMPTY_PAYLOAD_HASH
    assert signed_headers(prepared) == "host;range;x-amz-content-sha256;x-amz-date"
    assert signature(prepared) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"


def test_s3_example_put_object() -> None:
    request = requests.Request(
        "PUT",
        f"{EXAMPLE_BUCKET}/test$file.text",
        data=b"Welcome to Amazon S3.",
        headers={"Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"},
        auth=s3_example_auth(),
    )
    prepared = signed(request)

    assert prepared.url == f"{EXAMPLE_BUCKET}/test%24file.text"
    assert prepared.headers["x-amz-content-sha256"] == sha256_hex(b"Welcome to Amazon S3.")
    assert signed_headers(prepared) == "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class"
    assert signature(prepared) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"


def test_s3_example_list_objects() -> None:
    prepared = signed(requests.Request("GET", f"{EXAMPLE_BUCKET}/?max-keys=2&prefix=J", auth=s3_example_auth()))

    assert signature(prepared) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"


def test_s3_example_get_lifecycle() -> None:
    prepared = signed(requests.Request("GET", f"{EXAMPLE_BUCKET}/?lifecycle", auth=s3_example_auth()))

    assert signature(prepared) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"


# The two signatures below were computed with botocore 1.44.8's S3SigV4Auth for the same requests.
def test_blob_key_matches_botocore() -> None:
    auth = local_auth()
    request = requests.Request(
        "PUT",
        "http://127.0.0.1:9000/bucket/v2/app/blobs/sha256%3Aabc",
        data=b"hello",
        headers={"Content-Type": "application/octet-stream", "Cache-Control": "public, max-age=60,  must-revalidate"},
        auth=auth,
    )
    prepared = signed(request)

    assert signed_headers(prepared) == "cache-control;content-type;host;x-amz-content-sha256;x-amz-date"
    assert signature(prepared) == "4e8675a7c3f5dfb24b7bc4547f761c60853f4bce502034f25c5d3e8cc67b9472"


def test_list_objects_v2_matches_botocore() -> None:
    auth = local_auth()
    url = "http://127.0.0.1:9000/bucket?prefix=reg%2Fv2%2F&list-type=2&max-keys=1"
    prepared = signed(requests.Request("GET", url, auth=auth))

    assert prepared.url == "http://127.0.0.1:9000/bucket?list-type=2&max-keys=1&prefix=reg%2Fv2%2F"
    assert signature(prepared) == "1b6b7d74fea6f609de86910b7ab6031d3f81e40c7e48310a042cfaa9a6708632"


def test_colon_sent_as_signed() -> None:
    auth = local_auth()
    raw = signed(
        requests.Request("PUT", "http://127.0.0.1:9000/bucket/v2/app/blobs/sha256:abc", data=b"hello", auth=auth)
    )
    encoded = signed(
        requests.Request("PUT", "http://127.0.0.1:9000/bucket/v2/app/blobs/sha256%3Aabc", data=b"hello", auth=auth)
    )

    assert raw.url == "http://127.0.0.1:9000/bucket/v2/app/blobs/sha256%3Aabc"
    assert raw.headers["Authorization"] == encoded.headers["Authorization"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("/bucket/v2/app/blobs/sha256:abc", "/bucket/v2/app/blobs/sha256%3Aabc"),
        ("/bucket/v2/app/blobs/sha256%3Aabc", "/bucket/v2/app/blobs/sha256%3Aabc"),
        ("/bucket/v2/app/blobs/sha256%3aabc", "/bucket/v2/app/blobs/sha256%3Aabc"),
        ("/bucket/a b/c~d-e_f.g", "/bucket/a%20b/c~d-e_f.g"),
        ("/bucket/%25literal", "/bucket/%25literal"),
        ("/bucket/caf%C3%A9", "/bucket/caf%C3%A9"),
    ],
)
def test_canonical_path_encodes_once(path: str, expected: str) -> None:
    assert canonical_path(path) == expected


def test_canonical_query_sorted_and_encoded() -> None:
    assert canonical_query("prefix=a b/c&list-type=2&acl") == "acl=&list-type=2&prefix=a%20b%2Fc"


def test_default_port_left_out_of_host() -> None:
    auth = local_auth()

    assert signed(requests.Request("GET", "https://s3.example.test:443/b", auth=auth)).headers["Host"] == (
        "s3.example.test"
    )
    assert signed(requests.Request("GET", "http://127.0.0.1:3900/b", auth=auth)).headers["Host"] == "127.0.0.1:3900"


def test_preset_hash_used_without_reading_body() -> None:
    def body_that_must_not_be_read() -> Iterator[bytes]:
        raise AssertionError("the signer read the streamed body")
        yield b""

    preset = "ab" * 32
    request = requests.Request(
        "PUT",
        "http://127.0.0.1:9000/bucket/key",
        data=body_that_must_not_be_read(),
        headers={"x-amz-content-sha256": preset},
        auth=SigV4Auth("AK", LOCAL_SECRET, "garage"),
    )
    prepared = signed(request)

    assert prepared.headers["x-amz-content-sha256"] == preset


def test_streamed_body_without_hash_rejected() -> None:
    request = requests.Request(
        "PUT", "http://127.0.0.1:9000/bucket/key", data=iter([b"abc"]), auth=SigV4Auth("AK", LOCAL_SECRET, "garage")
    )

    with pytest.raises(ValueError, match="x-amz-content-sha256"):
        signed(request)


def test_repr_hides_secret() -> None:
    auth = SigV4Auth("AK", LOCAL_SECRET, "garage")

    assert LOCAL_SECRET not in repr(auth)
