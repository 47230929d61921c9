"""The usage page documents every setting the code accepts."""

from __future__ import annotations

from pathlib import Path

from plugin.settings import Settings, setting_variable

USAGE = Path(__file__).resolve().parents[1] / "docs" / "usage.md"


def test_usage_lists_every_setting() -> None:
    text = USAGE.read_text()
    names = [setting_variable(name) for name in Settings.model_fields]
    undocumented = [name for name in names if f"`{name}`" not in text]
    assert undocumented == []
