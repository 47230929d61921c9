"""plume's exceptions. Each carries a one-line message a CI user can act on.

    PlumeError
    ├── SettingsError        a PLUGIN_* value is invalid: names the variable, the value and what is accepted
    ├── SourceError          an input is missing, unusable for its platform, or its build command failed
    └── PublishError         a destination refused or failed; names the destination
        ├── RegistryError    an OCI registry answered with an error: method, URL, status, registry codes
        └── StoreError       an object store (S3 bucket or directory) failed: operation, key, status
"""

from __future__ import annotations

from collections.abc import Sequence


class PlumeError(Exception):
    """Base of every error plume reports to the user as one line."""


class SettingsError(PlumeError):
    """An invalid setting. The message never contains a secret's value."""

    def __init__(self, variable: str, value: str | None, accepted: str) -> None:
        shown = "" if value is None else f" {value!r}"
        super().__init__(f"{variable}{shown}: {accepted}")
        self.variable = variable


class SourceError(PlumeError):
    """An input that cannot be packed, such as a missing binary, or an x86-64 binary for linux/arm64."""


class PublishError(PlumeError):
    """A destination failed. `temporary` tells the retry policy whether trying again may help.

    `retries_spent` is set once a retry loop gave up on the error, so that no enclosing loop retries it again.
    """

    temporary: bool = False
    retry_after: float | None = None
    retries_spent: bool = False


class RegistryError(PublishError):
    """An error response from an OCI registry, with the registry's own error codes when it sent them."""

    def __init__(
        self, method: str, url: str, status: int, codes: Sequence[str] = (), detail: str = ""
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.codes = tuple(codes)
        self.temporary = status in (408, 429) or status >= 500
        said = f": {', '.join(self.codes)}" if self.codes else ""
        extra = f" ({detail})" if detail else ""
        super().__init__(f"{method} {url} answered {status}{said}{extra}")


class StoreError(PublishError):
    """An error from an object store: the operation, the key and the reason the store gave."""

    def __init__(self, operation: str, key: str, reason: str, *, temporary: bool = False) -> None:
        self.operation = operation
        self.key = key
        self.temporary = temporary
        super().__init__(f"{operation} {key}: {reason}")
