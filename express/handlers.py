"""Task handlers: the Python functions that Task states call, and how resources name them.

A ``HandlerRegistry`` maps names to plain or async functions. A Lambda resource names its
function (``arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]``, or a name or ARN
in ``FunctionName`` for ``arn:aws:states:::lambda:invoke``); the registry resolves it by
NAME. Any other resource ARN resolves to a handler registered under that exact ARN, so
a user can plug in an integration of their own.

Loading a handlers file imports it as a module (it is the user's own code, the way Lambda
runs the user's code); every public top-level function becomes a handler by its name.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from express.errors import UsageError
from express.types import Handler

__all__ = ["HandlerRegistry", "LAMBDA_ARN", "PermissiveRegistry", "load_handlers", "lambda_function_name"]

LAMBDA_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"(?P<name>[A-Za-z0-9_-]{1,64})(?::(?P<qualifier>\$LATEST|[A-Za-z0-9_-]+))?$"
)
_PARTIAL_ARN = re.compile(r"^(?:(?P<account>\d{12}):function:)?(?P<name>[A-Za-z0-9_-]{1,64})(?::.+)?$")


def lambda_function_name(function: str) -> str | None:
    """The function NAME in a Lambda ARN, a partial ARN or a bare name; None if malformed."""
    m = LAMBDA_ARN.match(function)
    if m:
        return m.group("name")
    m = _PARTIAL_ARN.match(function)
    return m.group("name") if m else None


class HandlerRegistry(Mapping[str, Handler]):
    """Name (or resource ARN) -> handler."""

    def __init__(self, handlers: Mapping[str, Handler] | None = None) -> None:
        self._handlers: dict[str, Handler] = dict(handlers or {})

    def register(self, name: str, handler: Handler) -> None:
        if not callable(handler):
            raise UsageError(f"handler {name!r} is not callable")
        self._handlers[name] = handler

    def __getitem__(self, name: str) -> Handler:
        return self._handlers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._handlers)

    def __len__(self) -> int:
        return len(self._handlers)

    def resolve_lambda(self, function: str) -> Handler | None:
        name = lambda_function_name(function)
        return None if name is None else self._handlers.get(name)


class PermissiveRegistry(HandlerRegistry):
    """Resolves every name: for checking a definition when its handlers are not at hand."""

    def resolve_lambda(self, function: str) -> Handler | None:
        return _identity

    def get(self, name: str, default: object = None) -> Handler:
        return _identity


def _identity(event: object) -> object:
    return event


def load_handlers(path: str | Path) -> HandlerRegistry:
    """Import a Python file and register each public top-level function by its name."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"handlers file not found: {file}")
    module_name = f"express_handlers_{abs(hash(str(file.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot load handlers from {file}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise UsageError(f"cannot load handlers from {file}: {type(exc).__name__}: {exc}") from exc
    registry = HandlerRegistry()
    for name, value in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(value):
            continue
        if value.__module__ != module_name:
            continue  # imported helpers are not handlers
        registry.register(name, value)
    return registry
