"""The end-of-step summary: one row per platform, the index, and what each destination received."""

from __future__ import annotations

from collections.abc import Sequence

from plugin.oci.content import ImageTree
from plugin.publish import PublishReport
from plugin.sizes import human_size


def summary_lines(
    tree: ImageTree, reports: Sequence[PublishReport], failures: Sequence[str], recovered_failures: int = 0
) -> list[str]:
    platform_width = max(len("platform"), *(len(str(image.platform)) for image in tree.images))
    lines = [f"{'platform':<{platform_width}}  {'manifest digest':<71}  image size (manifest, config, layers)"]
    for image in tree.images:
        lines.append(f"{image.platform!s:<{platform_width}}  {image.manifest.digest!s:<71}  {human_size(image.size)}")
    lines.append(f"index {tree.index.digest}  tags: {', '.join(tree.tags)}")
    for report in reports:
        lines.append(
            f"{report.destination}: {report.blobs_uploaded} blobs uploaded ({human_size(report.bytes_uploaded)}), "
            f"{report.blobs_skipped} already there{_mounted(report)}; {report.manifests_written} manifests and tags "
            f"written, {report.manifests_skipped} already there"
        )
    if recovered_failures:
        lines.append(f"recovered from {recovered_failures} failed requests by retrying")
    lines.extend(f"FAILED {failure}" for failure in failures)
    return lines


def _mounted(report: PublishReport) -> str:
    return f", {report.blobs_mounted} mounted from another repository" if report.blobs_mounted else ""
