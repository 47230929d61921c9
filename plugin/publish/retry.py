"""The one retry policy for every request plume sends to a registry or an object store.

Retried: connection errors and timeouts, and answers that say "try again" (408, 429, 5xx), marked on the
error as `temporary`. Waits grow exponentially with random jitter, up to a cap, unless the server asks for a
wait with `Retry-After`. An overall deadline, when set, bounds every wait and every attempt.

Each request is retried by one loop only. A step made of several requests that cannot be repeated one by one
(a blob upload session, a chunk) retries as a whole, and the requests inside it that can be repeated alone
have their own loop. The error a loop gives up on is marked `retries_spent`, so no enclosing loop retries it.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable
from typing import TypeVar

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception

from plugin.errors import PublishError

log = logging.getLogger(__name__)

T = TypeVar("T")

ATTEMPTS = 5  # four waits: rides out a registry restart without hiding a real outage for long
FIRST_WAIT = 0.5  # seconds; doubled after each failure, with random jitter so parallel uploads spread out
MAX_WAIT = 30.0  # no single wait is longer, even when Retry-After asks for more

_deadline: float | None = None  # time.monotonic() value after which no attempt starts; None: no deadline
_deadline_seconds = 0.0
_recovered = 0  # failures followed by another attempt, over the whole process
_recovered_lock = threading.Lock()


class DeadlineExceeded(PublishError):
    """The overall deadline passed before a request could start."""

    def __init__(self, description: str, seconds: float) -> None:
        super().__init__(
            f"{description} not started: the deadline of {seconds:g} s set by PLUGIN_TIMEOUT has passed"
        )


def set_deadline(seconds: float | None) -> None:
    """Start the overall deadline: after `seconds` from now, nothing is retried and no request starts."""
    global _deadline, _deadline_seconds
    _deadline = None if seconds is None else time.monotonic() + seconds
    _deadline_seconds = seconds or 0.0


def deadline_seconds() -> float:
    """Return the length of the overall deadline in seconds, or 0 when none is set."""
    return _deadline_seconds


def time_left() -> float | None:
    """Seconds until the deadline (0 once it has passed), or None when no deadline is set."""
    if _deadline is None:
        return None
    return max(0.0, _deadline - time.monotonic())


def recovered_failures() -> int:
    """Return how many failed attempts were followed by another attempt since the process started."""
    return _recovered


def retry_after_seconds(header: str | None, now: float | None = None) -> float | None:
    """The wait a `Retry-After` header asks for, given as seconds or as an HTTP date."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def is_temporary(exc: BaseException) -> bool:
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return True
    return isinstance(exc, PublishError) and exc.temporary and not exc.retries_spent


def backoff_seconds(exc: BaseException | None, failures: int) -> float:
    """Return the wait after the `failures`-th failure at one position.

    The wait is what Retry-After requests, or else a random time up to FIRST_WAIT doubled for each earlier
    failure ("full jitter"). Both are capped at MAX_WAIT.
    """
    asked = getattr(exc, "retry_after", None)
    if isinstance(asked, int | float):
        return float(min(asked, MAX_WAIT))
    return random.uniform(0, min(MAX_WAIT, FIRST_WAIT * 2 ** (failures - 1)))


class _RetryPolicy:
    """When to stop and how long to wait, for one call of `with_retries`.

    It stops after `attempts` failures, or when the next attempt would start after the deadline. With
    `position`, failures are counted per position the action reports, such as the byte offset of an upload.
    It then stops once one position has failed `attempts` times, so scattered faults do not cut a long
    upload short, and the number of attempts stays bounded. The backoff grows with the failures at the
    position.
    """

    def __init__(self, attempts: int, description: str, position: Callable[[], Hashable] | None) -> None:
        self.attempts = attempts
        self.description = description
        self.position = position or (lambda: None)
        self.failures: Counter[Hashable] = Counter()
        self.counted_attempt = 0
        self.failures_here = 0
        self.planned_wait = 0.0

    def _count_failure(self, state: RetryCallState) -> None:
        """Count the attempt's failure once, and plan the wait: tenacity calls `wait` and `stop` in an order
        that depends on its version."""
        if self.counted_attempt == state.attempt_number:
            return
        self.counted_attempt = state.attempt_number
        position = self.position()
        self.failures[position] += 1
        self.failures_here = self.failures[position]
        exc = state.outcome.exception() if state.outcome else None
        self.planned_wait = backoff_seconds(exc, self.failures_here)

    def stop(self, state: RetryCallState) -> bool:
        self._count_failure(state)
        if self.failures_here >= self.attempts:
            return True
        left = time_left()
        if left is not None and self.planned_wait >= left:
            log.warning(
                "%s failed; not retried: the deadline of %g s set by PLUGIN_TIMEOUT comes before the next attempt",
                self.description,
                _deadline_seconds,
            )
            return True
        return False

    def wait(self, state: RetryCallState) -> float:
        self._count_failure(state)
        return self.planned_wait


def _log_wait(description: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        global _recovered
        with _recovered_lock:
            _recovered += 1
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        failure = str(exc) if str(exc).startswith(description) else f"{description} failed: {exc}"
        log.warning("%s; trying again in %.1f s", failure, wait)

    return before_sleep


def _check_deadline(action: Callable[[], T], description: str) -> Callable[[], T]:
    def checked() -> T:
        if time_left() == 0.0:
            raise DeadlineExceeded(description, _deadline_seconds)
        return action()

    return checked


def with_retries(
    action: Callable[[], T],
    description: str,
    attempts: int = ATTEMPTS,
    position: Callable[[], Hashable] | None = None,
) -> T:
    """Run `action`, retrying temporary failures with capped exponential backoff; re-raise the last error.

    The error given up on is marked `retries_spent` so that no enclosing loop retries it again.
    `position` returns where a multi-request action is, to count its failures per position; see `_RetryPolicy`.
    """
    policy = _RetryPolicy(attempts, description, position)
    retrying = Retrying(
        retry=retry_if_exception(is_temporary),
        stop=policy.stop,
        wait=policy.wait,
        before_sleep=_log_wait(description),
        reraise=True,
    )
    try:
        return retrying(_check_deadline(action, description))
    except PublishError as exc:
        exc.retries_spent = True
        raise
