"""Calling a handler the way Step Functions calls a Lambda function.

``Invocation`` is compiled once per Task state from its Resource: which handler, which
history events (``LambdaFunction*`` for a Lambda ARN, ``Task*`` for an integration such
as ``arn:aws:states:::lambda:invoke``), how the result is shaped, how errors are named.

A handler's exception fails the task with the exception's class name as the error and
Lambda's cause document as JSON text; a handler may raise ``StatesError`` to choose the
error name itself.
"""

from __future__ import annotations

import contextlib
import inspect
import linecache
import uuid
from collections.abc import Callable, Mapping
from random import getrandbits
from types import TracebackType
from typing import Any

import anyio
import orjson

from express.asl.io import MAX_PAYLOAD_BYTES
from express.errors import StatesError
from express.handlers import LAMBDA_ARN, HandlerRegistry, lambda_function_name
from express.types import JSON, Handler

__all__ = [
    "Invocation",
    "copy_event",
    "direct_result",
    "handler_error",
    "is_async_handler",
    "normalise_encoded",
    "request_id",
]

_LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


def is_async_handler(handler: Handler) -> bool:
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )


def handler_error(exc: BaseException) -> StatesError:
    """Lambda's rendering of an unhandled exception."""
    if isinstance(exc, StatesError):
        return exc
    name = type(exc).__name__
    cause = orjson.dumps(
        {
            "errorMessage": str(exc),
            "errorType": name,
            "requestId": request_id(),
            "stackTrace": _stack_trace(exc.__traceback__),
        }
    ).decode()
    return StatesError(name, cause)


def request_id() -> str:
    """A random version-4 UUID in text, as Lambda's request ids are.

    From ``random`` rather than ``uuid.uuid4``: an id names a failure in its cause and
    needs no cryptographic randomness, and ``uuid4`` costs a system call per failure.
    """
    bits = (getrandbits(128) & _UUID_CLEAR) | _UUID_V4
    text = "%032x" % bits  # noqa: UP031 - cheaper than format() here
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))  # the version and variant bits
_UUID_V4 = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def _stack_trace(tb: TracebackType | None) -> list[str]:
    """Lambda's stackTrace entries, from the traceback's frames.

    Read directly rather than with ``traceback.extract_tb``, which checks every source
    file's modification time on each call: a handler that fails on many records would
    pay a ``stat`` per frame per failure.
    """
    frames = []
    tb = tb.tb_next if tb is not None else None  # the engine's own frame is not the handler's
    while tb is not None:
        code = tb.tb_frame.f_code
        line = linecache.getline(code.co_filename, tb.tb_lineno).strip()
        frames.append(f'  File "{code.co_filename}", line {tb.tb_lineno}, in {code.co_name}\n    {line}\n')
        tb = tb.tb_next
    return frames


def normalise_encoded(value: Any, label: str) -> tuple[JSON, bytes]:
    """The result as JSON would carry it (tuples become arrays ...), size-checked; and its
    JSON text, which checking its size made."""
    try:
        raw = orjson.dumps(value)
    except TypeError as exc:
        raise StatesError(
            "Runtime.MarshalError",
            orjson.dumps(
                {"errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError"}
            ).decode(),
        ) from None
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise StatesError(
            "States.DataLimitExceeded",
            f"The state/task '{label}' returned a result with a size exceeding the maximum number of "
            "bytes service limit.",
        )
    if value is None or isinstance(value, (bool, int, float, str)):
        return value, raw
    if _flat_object(value):
        # A copy all the same: Lambda hands back a deserialised result, so a handler that
        # keeps its result and changes it later must not reach this execution's data.
        return value.copy(), raw
    return orjson.loads(raw), raw


_SCALARS = frozenset((str, int, float, bool, type(None)))


def _flat_object(value: Any) -> bool:
    """A dict of JSON scalars: already exactly what JSON would carry, nothing to convert."""
    if type(value) is not dict:
        return False
    scalars = _SCALARS
    for item in value.values():  # noqa: SIM110 - a loop beats all() over a generator here
        if type(item) not in scalars:
            return False
    return True


def copy_event(payload: JSON) -> JSON:
    """The handler's own copy of its event, as a Lambda function gets a deserialised one.

    A dict of scalars needs only a shallow copy; anything deeper goes through JSON.
    """
    if type(payload) is dict:
        return payload.copy() if _flat_object(payload) else orjson.loads(orjson.dumps(payload))
    if type(payload) is list:
        return orjson.loads(orjson.dumps(payload))
    return payload


class Invocation:
    """How one Task state reaches its handler."""

    __slots__ = (
        "account",
        "dynamic_function",
        "events",
        "handler",
        "handler_is_async",
        "label",
        "region",
        "registry",
        "resource",
        "resource_name",
        "resource_type",
        "shape_result",
        "split_payload",
    )

    def __init__(
        self,
        resource: str,
        parameters: Mapping[str, Any] | None,
        registry: HandlerRegistry,
        region: str,
        account: str,
    ) -> None:
        self.resource = resource
        self.registry = registry
        self.region = region
        self.account = account
        self.dynamic_function = False
        self.handler: Handler | None = None
        self.split_payload = False
        self.shape_result: Callable[[JSON, JSON], JSON] = direct_result
        if LAMBDA_ARN.match(resource):
            self.events = "LambdaFunction"
            self.label = resource
            self.resource_type = "lambda"
            self.resource_name = resource
            self.handler = registry.resolve_lambda(resource)
        elif resource == _LAMBDA_INVOKE or resource.startswith(_LAMBDA_INVOKE + ":"):
            self.events = "Task"
            self.label = "lambda"
            self.resource_type = "lambda"
            self.resource_name = "invoke"
            self.split_payload = True
            self.shape_result = _invoke_result
            params = parameters or {}
            if "FunctionName" in params:
                self.handler = registry.resolve_lambda(str(params["FunctionName"]))
            else:
                self.dynamic_function = True
        else:
            self.events = "Task"
            service, _, action = resource.removeprefix("arn:aws:states:::").partition(":")
            self.label = service or resource
            self.resource_type = service or resource
            self.resource_name = action or resource
            self.handler = registry.get(resource)
        self.handler_is_async = self.handler is not None and is_async_handler(self.handler)

    def missing_handler_message(self) -> str:
        if self.events == "LambdaFunction" or self.split_payload:
            return (
                f"no handler for the Lambda function of resource {self.resource!r}: register a "
                "function of that name (--handlers FILE, or handlers= in compile_workflow)"
            )
        return (
            f"no handler for resource {self.resource!r}: register a handler under this exact ARN "
            "to run it locally"
        )

    def function_arn(self, function: str) -> str:
        if LAMBDA_ARN.match(function):
            return function
        name = lambda_function_name(function) or function
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"

    def resolve(self, payload: JSON) -> tuple[Handler, JSON]:
        """The handler and the event it receives, for this call's payload."""
        if not self.split_payload:
            assert self.handler is not None
            return self.handler, payload
        event = payload.get("Payload") if isinstance(payload, dict) else None
        if event is None:
            event = {}  # Lambda receives an empty object for a null or absent payload
        elif isinstance(event, str):
            # A string payload is the request body itself: Lambda parses it as JSON text.
            with contextlib.suppress(orjson.JSONDecodeError):
                event = orjson.loads(event)
        handler = self.handler
        if handler is None:
            function = payload.get("FunctionName") if isinstance(payload, dict) else None
            handler = self.registry.resolve_lambda(str(function)) if function is not None else None
            if handler is None:
                raise StatesError(
                    "Lambda.ResourceNotFoundException",
                    f"Function not found: {self.function_arn(str(function))}:$LATEST (Service: AWSLambda; "
                    f"Status Code: 404; Error Code: ResourceNotFoundException; Request ID: {uuid.uuid4()}; "
                    "Proxy: null)",
                )
        return handler, event

    async def call_async(self, handler: Handler, event: JSON, timeout: float | None) -> Any:
        """Await an async handler, or run a blocking one in a worker thread so it can be cut off."""
        try:
            with anyio.fail_after(timeout):  # None: no limit of its own
                if is_async_handler(handler):
                    return await handler(event)
                return await anyio.to_thread.run_sync(handler, event, abandon_on_cancel=True)
        except TimeoutError:
            raise StatesError("States.Timeout", None) from None


def direct_result(payload: JSON, value: JSON) -> JSON:
    """A result as the handler returned it (a Lambda function's own)."""
    return value


def _invoke_result(payload: JSON, value: JSON) -> JSON:
    result: dict[str, JSON] = {"ExecutedVersion": "$LATEST"}
    if isinstance(payload, dict) and payload.get("LogType") == "Tail":
        result["LogResult"] = ""
    result["Payload"] = value
    result["SdkHttpMetadata"] = {
        "HttpHeaders": {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"},
        "HttpStatusCode": 200,
    }
    result["SdkResponseMetadata"] = {"RequestId": str(uuid.uuid4())}
    result["StatusCode"] = 200
    return result
