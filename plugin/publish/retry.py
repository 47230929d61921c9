"""The one retry policy for every request plume sends to a registry or an object store.

Retried: connection errors and timeouts, and answers that say "try again" (408, 429, 5xx), marked on the
error as `temporary`. Each request is retried on its own; callers never wrap a retried call in another retry.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from typing import TypeVar

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from plugin.errors import PublishError

log = logging.getLogger(__name__)

T = TypeVar("T")

ATTEMPTS = 5  # four waits: rides out a registry restart without hiding a real outage for long
FIRST_WAIT = 0.5  # seconds; doubled after each failure, with random jitter so parallel uploads spread out
MAX_WAIT = 30.0  # no single wait is longer, even when Retry-After asks for more


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
    return isinstance(exc, PublishError) and exc.temporary


def _wait_seconds(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    asked = getattr(exc, "retry_after", None)
    if isinstance(asked, int | float):
        return float(min(asked, MAX_WAIT))
    return float(wait_random_exponential(multiplier=FIRST_WAIT, max=MAX_WAIT)(state))


def _log_wait(description: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s failed (%s); attempt %d of %d in %.1f s", description, exc, state.attempt_number + 1, ATTEMPTS, wait
        )

    return before_sleep


def with_retries(action: Callable[[], T], description: str, attempts: int = ATTEMPTS) -> T:
    """Run `action`, retrying temporary failures with capped exponential backoff; re-raise the last error."""
    retrying = Retrying(
        retry=retry_if_exception(is_temporary),
        stop=stop_after_attempt(attempts),
        wait=_wait_seconds,
        before_sleep=_log_wait(description),
        reraise=True,
    )
    return retrying(action)
