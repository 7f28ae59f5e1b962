"""A compiled state: the unit the executor steps through.

``Node.run(data, ctx)`` returns ``(output, next_node)``; ``next_node`` is None when the
execution (or branch) ends. Nodes are created empty for every state name first and then
filled in, so each state's closure holds direct references to its successors: nothing is
looked up by name while an execution runs. ``run`` returns a ``Pending`` instead when the state
has to wait (a Wait state, an async handler, a retry's back-off): the executor runs
inline until the first such state and awaits from there on, so an execution that never
waits never creates a coroutine.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Generator
from typing import Any

from express.types import JSON

__all__ = ["Node", "Pending", "StepResult", "is_pending"]

StepResult = tuple[JSON, "Node | None"]


class Node:
    __slots__ = ("is_async", "name", "run", "type", "visits")

    def __init__(self, name: str, type_: str) -> None:
        self.name = name
        self.type = type_
        self.is_async = False
        self.visits = 0  # counted only by the metering driver
        self.run: Callable[[JSON, Any], Any] = _unlinked

    def __repr__(self) -> str:
        return f"<Node {self.type} {self.name!r}{' async' if self.is_async else ''}>"


class Pending:
    """Work that has to wait, not started yet: ``await`` it to run it, or drop it.

    A step returns one instead of a coroutine so that abandoning it (a failed sibling
    branch, a shutdown) leaves no coroutine behind that was never awaited.
    """

    __slots__ = ("args", "function")

    def __init__(self, function: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        self.function = function
        self.args = args

    def __await__(self) -> Generator[Any, None, Any]:
        return self.function(*self.args).__await__()


def is_pending(value: object) -> bool:
    """Whether a step returned work to await rather than a finished result."""
    return value.__class__ is Pending


def _unlinked(data: JSON, ctx: Any) -> Any:
    raise RuntimeError("state was never compiled")
