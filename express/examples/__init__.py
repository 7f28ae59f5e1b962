"""Bundled examples: definitions, handlers and sample streams that ship with the package."""

from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
IOT = EXAMPLES / "iot"
