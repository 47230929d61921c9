"""Own SigV4 signer, as requests-aws4auth 1.4.0 re-hashes streamed bodies in memory and botocore is ~30 MB."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlsplit, urlunsplit

from requests import PreparedRequest
from requests.auth import AuthBase

ALGORITHM = "AWS4-HMAC-SHA256"
PAYLOAD_HASH_HEADER = "x-amz-content-sha256"
EMPTY_PAYLOAD_HASH = hashlib.sha256(b"").hexdigest()
# Signed besides `host` and every `x-amz-*` header. Content-Length is not signed, as in AWS's S3 examples.
SIGNED_STANDARD_HEADERS = frozenset(
    {
        "cache-control",
        "content-disposition",
        "content-encoding",
        "content-language",
        "content-md5",
        "content-type",
        "date",
        "expires",
        "range",
    }
)
DEFAULT_PORTS = {"http": 80, "https": 443}


def utc_now() -> datetime:
    return datetime.now(UTC)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def uri_encode(text: str) -> str:
    """Percent-encode every byte but the unreserved characters A-Z a-z 0-9 - . _ ~, in uppercase hex."""
    return quote(text, safe="")


def canonical_path(path: str) -> str:
    """Encode each path segment once. An encoded segment is decoded first, so it is never encoded twice."""
    if not path:
        return "/"
    return "/".join(uri_encode(unquote(segment)) for segment in path.split("/"))


def canonical_query(query: str) -> str:
    """Encode the query's parameters and sort them by name, then value. A `+` is read as a space."""
    pairs = parse_qsl(query, keep_blank_values=True)
    encoded = sorted((uri_encode(name), uri_encode(value)) for name, value in pairs)
    return "&".join(f"{name}={value}" for name, value in encoded)


def host_header(url: SplitResult) -> str:
    """Return the Host header that HTTP clients send for the URL: its host, and its port unless that is the default."""
    host = url.netloc.rpartition("@")[2]
    if url.port is not None and DEFAULT_PORTS.get(url.scheme) == url.port:
        host = host.rsplit(":", 1)[0]
    return host


def canonical_headers(headers: Mapping[str, str]) -> tuple[str, str]:
    """Build the canonical header block (one `name:value` line each) and the `;`-joined signed header names."""
    signed: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "host" or lowered.startswith("x-amz-") or lowered in SIGNED_STANDARD_HEADERS:
            signed[lowered] = " ".join(str(value).split())
    names = sorted(signed)
    block = "".join(f"{name}:{signed[name]}\n" for name in names)
    return block, ";".join(names)


def payload_hash(request: PreparedRequest) -> str:
    """Return the preset `x-amz-content-sha256`, else hash a bytes body.

    Raises ValueError for a streamed or text body without a preset hash, because the signer never reads those.
    """
    preset = request.headers.get(PAYLOAD_HASH_HEADER)
    if preset:
        return str(preset)
    body = request.body
    if body is None:
        return EMPTY_PAYLOAD_HASH
    if isinstance(body, bytes):
        return sha256_hex(body)
    raise ValueError(
        f"cannot sign a {type(body).__name__} body without its hash: set {PAYLOAD_HASH_HEADER} first, or send bytes"
    )


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """Derive the key for one day, region and service by chaining HMAC-SHA256, starting from "AWS4" + secret."""
    key = _hmac(f"AWS4{secret_key}".encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


class SigV4Auth(AuthBase):
    """Signs a request with AWS Signature Version 4 in the Authorization header, without session tokens.

    The payload hash is the caller's `x-amz-content-sha256` header when set (for a streamed blob, its known sha256
    digest), else the sha256 of a bytes body. For service "s3" the hash is also sent as `x-amz-content-sha256`,
    which S3 requires. The request URL is rewritten to its canonical path and query, so the server receives exactly
    the encoding that was signed.
    """

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        region: str,
        service: str = "s3",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.access_key = access_key
        self.region = region
        self.service = service
        self._secret_key = secret_key
        self._clock = clock

    def __repr__(self) -> str:
        return f"SigV4Auth(access_key={self.access_key!r}, region={self.region!r}, service={self.service!r})"

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        self.sign(request, self._clock())
        return request

    def sign(self, request: PreparedRequest, when: datetime) -> None:
        """Set Host, x-amz-date, x-amz-content-sha256 (for S3) and Authorization on the request, signed at `when`."""
        if request.url is None or request.method is None:
            raise ValueError("cannot sign a request without a method and a URL")
        url = urlsplit(request.url)
        path = canonical_path(url.path)
        query = canonical_query(url.query)
        request.url = urlunsplit((url.scheme, url.netloc, path, query, ""))

        timestamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        request.headers["Host"] = host_header(url)
        request.headers["x-amz-date"] = timestamp
        hashed_payload = payload_hash(request)
        if self.service == "s3":
            request.headers[PAYLOAD_HASH_HEADER] = hashed_payload

        header_block, signed_headers = canonical_headers(request.headers)
        canonical_request = "\n".join(
            [request.method.upper(), path, query, header_block, signed_headers, hashed_payload]
        )
        date = timestamp[:8]
        scope = f"{date}/{self.region}/{self.service}/aws4_request"
        string_to_sign = "\n".join([ALGORITHM, timestamp, scope, sha256_hex(canonical_request.encode())])
        key = signing_key(self._secret_key, date, self.region, self.service)
        signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        request.headers["Authorization"] = (
            f"{ALGORITHM} Credential={self.access_key}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
        )
