"""Handlers for the integration tests' workflow."""

from __future__ import annotations

import asyncio
from typing import Any


def work(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "worked": True}


async def slow(event: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(event["delay"])
    return {**event, "worked": True}
