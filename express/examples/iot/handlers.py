"""Handlers for the IoT router example: the functions its Task states call."""

from __future__ import annotations

from typing import Any

SITES = {
    "plant-a": {"region": "eu-west", "timezone": "Europe/Dublin", "line": 1},
    "plant-b": {"region": "eu-west", "timezone": "Europe/Dublin", "line": 2},
    "depot-c": {"region": "us-east", "timezone": "America/New_York", "line": 7},
}


class UnknownSite(Exception):
    """The reading names a site the router has no metadata for."""


def enrich_reading(reading: dict[str, Any]) -> dict[str, Any]:
    """Add the site's metadata and report temperatures in Celsius."""
    site = SITES.get(reading.get("site", ""))
    if site is None:
        raise UnknownSite(f"no metadata for site {reading.get('site')!r}")
    if reading.get("unit") == "F" and isinstance(reading.get("value"), (int, float)):
        reading["value"] = round((reading["value"] - 32) * 5 / 9, 2)
        reading["unit"] = "C"
    reading["region"] = site["region"]
    reading["line"] = site["line"]
    return reading
