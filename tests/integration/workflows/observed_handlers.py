"""Handlers for the observability test workflow."""

from __future__ import annotations

from typing import Any

_failed_once: set[Any] = set()


class Flaky(Exception):
    """A transient failure: the state's Retry runs the handler again."""


def work(event: dict[str, Any]) -> dict[str, Any]:
    if event.get("flaky") and event["seq"] not in _failed_once:
        _failed_once.add(event["seq"])
        raise Flaky(f"record {event['seq']} fails on its first attempt")
    return {**event, "worked": True}
