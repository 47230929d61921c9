"""The shared retry policy: what is retried, how long it waits, and when it gives up."""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Callable, Iterator

import pytest
import requests

from plugin.errors import PublishError, RegistryError
from plugin.publish import retry
from plugin.publish.retry import DeadlineExceeded, backoff_seconds, is_temporary, retry_after_seconds, with_retries


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


@pytest.fixture
def deadline() -> Iterator[Callable[[float], None]]:
    """Set the overall deadline for one test, and remove it afterwards."""
    yield retry.set_deadline
    retry.set_deadline(None)


def unavailable(calls: list[int], retry_after: float = 0.0) -> Callable[[], None]:
    def action() -> None:
        calls.append(1)
        error = RegistryError("PUT", "http://r/v2/x", 503)
        error.retry_after = retry_after
        raise error

    return action


def test_deadline_stops_the_retries(deadline: Callable[[float], None], caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    deadline(0.3)

    # The first wait ends 0.1 s before the deadline; a second wait would end 0.1 s after it.
    with caplog.at_level(logging.WARNING), pytest.raises(RegistryError, match="503"):
        with_retries(unavailable(calls, retry_after=0.2), "PUT x")

    assert len(calls) == 2
    assert "the deadline of 0.3 s set by PLUGIN_TIMEOUT comes before the next attempt" in caplog.text


def test_wait_past_the_deadline_is_not_made(
    deadline: Callable[[float], None], caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []
    deadline(5.0)

    with caplog.at_level(logging.WARNING), pytest.raises(RegistryError, match="503"):
        with_retries(unavailable(calls, retry_after=20.0), "PUT x")

    assert calls == [1]
    assert "trying again" not in caplog.text


def test_nothing_starts_after_the_deadline(deadline: Callable[[float], None]) -> None:
    calls: list[int] = []
    deadline(0)

    with pytest.raises(DeadlineExceeded, match="PUT x not started: the deadline of 0 s set by PLUGIN_TIMEOUT"):
        with_retries(unavailable(calls), "PUT x")

    assert calls == []


def test_error_given_up_on_is_not_retried_again() -> None:
    calls: list[int] = []

    def step() -> None:
        with_retries(unavailable(calls), "HEAD x", attempts=2)

    with pytest.raises(RegistryError) as raised:
        with_retries(step, "upload of x", attempts=3)

    assert len(calls) == 2
    assert raised.value.retries_spent
    assert raised.value.temporary


def test_failures_are_counted_per_position() -> None:
    position = [0]
    calls: list[int] = []

    def upload() -> str:
        calls.append(1)
        if len(calls) == 4:
            position[0] += 100  # a chunk arrived before this attempt failed
        if len(calls) < 8:
            unavailable([])()
        return "done"

    assert with_retries(upload, "upload of x", attempts=5, position=lambda: position[0]) == "done"
    assert len(calls) == 8


def test_one_position_failing_gives_up() -> None:
    position = [0]
    calls: list[int] = []

    def upload() -> None:
        calls.append(1)
        position[0] = 100 if position[0] == 0 else 0  # a session lost again and again
        unavailable([])()

    with pytest.raises(RegistryError):
        with_retries(upload, "upload of x", attempts=3, position=lambda: position[0])

    assert len(calls) == 5


def test_recovered_failures_are_counted() -> None:
    before = retry.recovered_failures()
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) < 3:
            unavailable([])()

    with_retries(flaky, "GET x")

    assert retry.recovered_failures() - before == 2


@pytest.mark.parametrize(("failures", "highest"), [(1, 0.5), (2, 1.0), (4, 4.0), (12, 30.0)])
def test_backoff_doubles_up_to_the_cap(failures: int, highest: float) -> None:
    waits = [backoff_seconds(None, failures) for _ in range(200)]

    assert all(0 <= wait <= highest for wait in waits)
    assert max(waits) > highest / 2, "the jitter spreads waits over the whole range"


def test_backoff_follows_retry_after_up_to_the_cap() -> None:
    asked = RegistryError("GET", "http://r/v2/", 429)
    asked.retry_after = 7.0
    too_long = RegistryError("GET", "http://r/v2/", 429)
    too_long.retry_after = 3600.0

    assert backoff_seconds(asked, 1) == 7.0
    assert backoff_seconds(too_long, 1) == retry.MAX_WAIT
