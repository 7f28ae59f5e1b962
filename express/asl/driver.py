"""Stepping through linked nodes: inline until a state has to wait, awaited from there on.

``drive`` returns the branch's output when no state waited, or a ``Pending`` finishing
the run otherwise. The executor, Parallel branches and Map iterations all use it, so an
execution, branch or iteration that never waits never creates a coroutine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from express.asl.node import Node, Pending, is_pending
from express.runtime.context import ExecutionContext
from express.types import JSON

__all__ = ["Driver", "drive", "drive_metered"]

Driver = Callable[[Node | None, JSON, ExecutionContext], Any]


def drive(node: Node | None, data: JSON, ctx: ExecutionContext) -> Any:
    steps = 0
    while node is not None:
        step = node.run(data, ctx)
        steps += 1
        if step.__class__ is tuple:
            data, node = step
        else:
            ctx.history.transitions += steps
            return Pending(_drive_async, step, ctx)
    ctx.history.transitions += steps
    return data


async def _drive_async(pending: Any, ctx: ExecutionContext) -> JSON:
    data, node = await pending
    steps = 0
    try:
        while node is not None:
            step = node.run(data, ctx)
            steps += 1
            if is_pending(step):
                step = await step
            data, node = step
    finally:
        ctx.history.transitions += steps
    return data


def drive_metered(node: Node | None, data: JSON, ctx: ExecutionContext) -> Any:
    """``drive``, also counting each node's visits for the transitions-by-state-type metric."""
    steps = 0
    while node is not None:
        node.visits += 1
        step = node.run(data, ctx)
        steps += 1
        if step.__class__ is tuple:
            data, node = step
        else:
            ctx.history.transitions += steps
            return Pending(_drive_metered_async, step, ctx)
    ctx.history.transitions += steps
    return data


async def _drive_metered_async(pending: Any, ctx: ExecutionContext) -> JSON:
    data, node = await pending
    steps = 0
    try:
        while node is not None:
            node.visits += 1
            step = node.run(data, ctx)
            steps += 1
            if is_pending(step):
                step = await step
            data, node = step
    finally:
        ctx.history.transitions += steps
    return data
