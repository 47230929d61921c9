"""The shared retry policy: what is retried, how long it waits, and when it gives up."""

from __future__ import annotations

import email.utils
import logging

import pytest
import requests

from plugin.errors import PublishError, RegistryError
from plugin.publish import retry
from plugin.publish.retry import is_temporary, retry_after_seconds, with_retries


def test_retry_after_in_seconds() -> None:
    assert retry_after_seconds("7") == 7.0


def test_retry_after_as_http_date() -> None:
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 12, usegmt=True)
    assert retry_after_seconds(header, now=now) == pytest.approx(12.0)


@pytest.mark.parametrize("header", [None, "", "soon"])
def test_retry_after_absent_or_unreadable(header: str | None) -> None:
    assert retry_after_seconds(header) is None


@pytest.mark.parametrize(
    ("error", "temporary"),
    [
        (requests.ConnectionError("reset"), True),
        (requests.Timeout("slow"), True),
        (RegistryError("PUT", "http://r/v2/", 429), True),
        (RegistryError("PUT", "http://r/v2/", 408), True),
        (RegistryError("PUT", "http://r/v2/", 503), True),
        (RegistryError("PUT", "http://r/v2/", 400), False),
        (RegistryError("GET", "http://r/v2/", 401), False),
        (PublishError("bad"), False),
        (ValueError("bug"), False),
    ],
)
def test_which_errors_are_retried(error: BaseException, temporary: bool) -> None:
    assert is_temporary(error) is temporary


def test_temporary_failures_are_retried_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(retry, "FIRST_WAIT", 0.001)
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            error = RegistryError("PUT", "http://r/v2/x", 503)
            error.retry_after = 0.01
            raise error
        return "done"

    with caplog.at_level(logging.WARNING):
        assert with_retries(flaky, "PUT x") == "done"
    assert len(calls) == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert warnings[0].startswith("PUT x failed")


def test_attempts_are_bounded_and_the_last_error_raised() -> None:
    calls: list[int] = []

    def always_down() -> None:
        calls.append(1)
        error = RegistryError("GET", "http://r/v2/", 502)
        error.retry_after = 0.0
        raise error

    with pytest.raises(RegistryError, match="502"):
        with_retries(always_down, "GET /v2/", attempts=3)
    assert len(calls) == 3


def test_permanent_failure_is_not_retried() -> None:
    calls: list[int] = []

    def refused() -> None:
        calls.append(1)
        raise RegistryError("PUT", "http://r/v2/x", 400, ["MANIFEST_INVALID"])

    with pytest.raises(RegistryError, match="MANIFEST_INVALID"):
        with_retries(refused, "PUT x")
    assert calls == [1]
