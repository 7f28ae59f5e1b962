"""Running the waiting branches of a Parallel or the iterations of a Map in one task group.

The first branch or iteration to fail cancels the others; the state then fails with that
one's own ASL error, not with the task group's exception group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup

from express.asl.states.base import record
from express.errors import StatesError
from express.runtime.context import EventKind, ExecutionContext

__all__ = ["run_together"]


async def run_together(
    ctx: ExecutionContext, start: Callable[[TaskGroup], None], failed_event: EventKind
) -> None:
    """Run what ``start`` puts in the group; on failure record ``failed_event`` and re-raise."""
    try:
        async with anyio.create_task_group() as group:
            start(group)
    except BaseExceptionGroup as group_error:
        error = _first_states_error(group_error)
        if error is None:
            raise
        record(ctx, failed_event)
        raise error from None


def _first_states_error(group: BaseExceptionGroup[Any]) -> StatesError | None:
    for exc in group.exceptions:
        if isinstance(exc, StatesError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            inner = _first_states_error(exc)
            if inner is not None:
                return inner
    return None
