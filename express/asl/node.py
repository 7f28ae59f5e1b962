"""A compiled state: the unit the executor steps through.

``Node.run(data, ctx)`` returns ``(output, next_node)``; ``next_node`` is None when the
execution (or branch) ends. Nodes are created empty for every state name first and then
filled in, so each state's closure holds direct references to its successors: nothing is
looked up by name while an execution runs. ``run`` returns a coroutine instead when the state
has to wait (a Wait state, an async handler, a retry's back-off): the executor runs
inline until the first such state and awaits from there on, so an execution that never
waits never creates a coroutine.
"""

from __future__ import annotations

from collections.abc import Callable
from types import CoroutineType
from typing import Any

from express.types import JSON

__all__ = ["Node", "StepResult", "is_pending"]

StepResult = tuple[JSON, "Node | None"]


class Node:
    __slots__ = ("is_async", "name", "run", "type")

    def __init__(self, name: str, type_: str) -> None:
        self.name = name
        self.type = type_
        self.is_async = False
        self.run: Callable[[JSON, Any], Any] = _unlinked

    def __repr__(self) -> str:
        return f"<Node {self.type} {self.name!r}{' async' if self.is_async else ''}>"


def is_pending(value: object) -> bool:
    """Whether a step returned a coroutine to await rather than a finished result."""
    return value.__class__ is CoroutineType


def _unlinked(data: JSON, ctx: Any) -> Any:
    raise RuntimeError("state was never compiled")
