"""What a Task sends its resource: the payload and the timeout, in either query language.

JSONPath: InputPath -> Parameters, and TimeoutSeconds or TimeoutSecondsPath (read from
the input after InputPath). JSONata: Arguments (the state input when absent), and
TimeoutSeconds and HeartbeatSeconds as numbers or expressions, which must give positive
integers. ``compile_task_input`` returns the evaluators of both, None for what the state
leaves at its default, so a plain Task pays for neither; they raise ``FieldFailure`` for
the state to word. ``static_arguments`` is the part of the payload known at compile time,
from which the resource's handler can be resolved once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from express.asl.io import compile_filter_path
from express.asl.jsonata import StatesVar
from express.asl.jsonata_template import compile_integer, compile_value, has_expression
from express.asl.paths import PathMissing, compile_reference
from express.asl.templates import compile_template
from express.errors import FieldFailure
from express.runtime.context import ExecutionContext
from express.types import JSON

__all__ = ["PayloadOf", "TimeoutOf", "compile_task_input", "static_arguments"]

PayloadOf = Callable[[JSON, ExecutionContext], JSON]
TimeoutOf = Callable[[JSON, ExecutionContext], float]
MAX_TIMEOUT = 99_999_999


def static_arguments(spec: Mapping[str, Any], jsonata: bool) -> Mapping[str, Any] | None:
    """The payload fields fixed by the definition (``.$`` keys and expressions left out)."""
    arguments = spec.get("Arguments" if jsonata else "Parameters")
    if not isinstance(arguments, Mapping):
        return None
    if not jsonata:
        return arguments
    return {key: value for key, value in arguments.items() if not has_expression(value)}


def compile_task_input(
    spec: Mapping[str, Any], pointer: str, jsonata: bool
) -> tuple[PayloadOf | None, TimeoutOf | None]:
    """``(payload_of, timeout_of)``, each ``(raw_input, ctx) -> value`` or None when absent.

    ``payload_of`` None means the payload is the state input itself; ``timeout_of`` None
    means no timeout of the task's own. ``pointer`` is the state's JSON Pointer.
    """
    if jsonata:
        return _jsonata_input(spec, pointer)
    input_path = compile_filter_path(spec, "InputPath")
    params = compile_template(spec["Parameters"]) if "Parameters" in spec else None
    timeout_of = _jsonpath_timeout(spec)
    if timeout_of is not None and input_path is not None:
        # TimeoutSecondsPath reads the input after InputPath.
        select, read_timeout = input_path, timeout_of

        def timeout_after_input_path(data: JSON, ctx: ExecutionContext) -> float:
            return read_timeout(select(data, ctx), ctx)

        timeout_of = timeout_after_input_path
    if params is None:
        return input_path, timeout_of
    if input_path is None:
        return params, timeout_of
    build, select_input = params, input_path

    def payload_after_input_path(data: JSON, ctx: ExecutionContext) -> JSON:
        return build(select_input(data, ctx), ctx)

    return payload_after_input_path, timeout_of


def _jsonpath_timeout(spec: Mapping[str, Any]) -> Callable[[JSON, ExecutionContext], float] | None:
    if "TimeoutSeconds" in spec:
        seconds = float(spec["TimeoutSeconds"])
        return lambda data, ctx: seconds
    if "TimeoutSecondsPath" not in spec:
        return None
    path = spec["TimeoutSecondsPath"]
    read = compile_reference(path)

    def timeout_from_path(data: JSON, ctx: ExecutionContext) -> float:
        try:
            value = read(data, ctx)
        except PathMissing:
            raise FieldFailure(
                f"The TimeoutSecondsPath parameter does not reference an input value: {path}"
            ) from None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise FieldFailure(
                f"The TimeoutSecondsPath parameter must reference a positive integer: {path} == {value}"
            )
        return float(value)

    return timeout_from_path


def _jsonata_input(spec: Mapping[str, Any], pointer: str) -> tuple[PayloadOf | None, TimeoutOf | None]:
    payload_of: PayloadOf | None = None
    if "Arguments" in spec:
        make = compile_value(spec["Arguments"], "Arguments", f"{pointer}/Arguments")

        def arguments(data: JSON, ctx: ExecutionContext) -> JSON:
            return make(StatesVar(data, ctx))

        payload_of = arguments
    timeout = _seconds(spec, "TimeoutSeconds", pointer)
    # Heartbeats concern callback tasks, which Express does not run; the value is still checked.
    heartbeat = _seconds(spec, "HeartbeatSeconds", pointer)
    if heartbeat is not None:
        beat, build_payload = heartbeat, payload_of

        def payload_after_heartbeat(data: JSON, ctx: ExecutionContext) -> JSON:
            beat(StatesVar(data, ctx))
            return data if build_payload is None else build_payload(data, ctx)

        payload_of = payload_after_heartbeat
    if timeout is None:
        return payload_of, None
    seconds_of = timeout

    def timeout_seconds(data: JSON, ctx: ExecutionContext) -> float:
        return float(seconds_of(StatesVar(data, ctx)))

    return payload_of, timeout_seconds


def _seconds(spec: Mapping[str, Any], field: str, pointer: str) -> Callable[[StatesVar], int] | None:
    if field not in spec:
        return None
    return compile_integer(spec[field], field, f"{pointer}/{field}", minimum=1, maximum=MAX_TIMEOUT)
