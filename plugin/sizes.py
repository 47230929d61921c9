"""Byte counts written for people."""


def human_size(size: float) -> str:
    """`512 B`, `1.2 KiB`, `20.0 MiB`: binary units, one decimal."""
    if size < 1024:
        return f"{int(size)} B"
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            break
    return f"{size:.1f} {unit}"
