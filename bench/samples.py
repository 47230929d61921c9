"""Measured samples, grouped by row of the result table, and their medians."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.destinations import Uploads
from bench.jobs import JobResult


@dataclass(frozen=True)
class Sample:
    """One measured run of one row. A field is None where it does not apply, such as RSS for a codec floor."""

    seconds: float
    cpu_seconds: float | None = None
    max_rss: int | None = None  # bytes
    layer_bytes: int | None = None
    sent: Uploads | None = None  # blob uploads the destination completed during the run

    @classmethod
    def of_job(cls, job: JobResult, layer_bytes: int | None = None, sent: Uploads | None = None) -> Sample:
        return cls(job.seconds, job.cpu_seconds, job.max_rss, layer_bytes, sent)


@dataclass
class Row:
    """A line of the result table: what was measured and every sample of it."""

    key: str
    label: str
    compared_with: str | None  # the key of the plume row its time is divided by, if any
    samples: list[Sample] = field(default_factory=list)

    def median(self, value: Callable[[Sample], float | int | None]) -> float | None:
        values = [v for v in map(value, self.samples) if v is not None]
        return statistics.median(values) if values else None

    def maximum(self, value: Callable[[Sample], float | int | None]) -> float | None:
        """The largest value over the samples, for targets that every run must meet."""
        values = [v for v in map(value, self.samples) if v is not None]
        return max(values) if values else None

    @property
    def seconds(self) -> float | None:
        return self.median(lambda s: s.seconds)

    @property
    def cpu_seconds(self) -> float | None:
        return self.median(lambda s: s.cpu_seconds)

    @property
    def max_rss(self) -> float | None:
        return self.median(lambda s: s.max_rss)

    @property
    def layer_bytes(self) -> float | None:
        return self.median(lambda s: s.layer_bytes)

    @property
    def sent_bytes(self) -> float | None:
        return self.median(lambda s: s.sent.bytes if s.sent else None)

    @property
    def sent_blobs(self) -> float | None:
        return self.median(lambda s: s.sent.count if s.sent else None)


class Results:
    """Every row in table order."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self.rows = {row.key: row for row in rows}

    def add(self, key: str, sample: Sample) -> None:
        self.rows[key].samples.append(sample)

    def __getitem__(self, key: str) -> Row:
        return self.rows[key]

    def measured(self) -> list[Row]:
        return [row for row in self.rows.values() if row.samples]
