"""Input and output processing shared by the JSONPath states.

InputPath, ResultPath and OutputPath compile into small closures, or into None when the
field is absent so a state skips the step entirely. Failures carry AWS's wording; the
state adds the "An error occurred while executing the state ..." prefix.

Order, as AWS applies it: InputPath -> Parameters -> (task) -> ResultSelector ->
ResultPath (merged into the *raw* state input) -> OutputPath.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from express.asl.paths import PathMissing, ResultPathMismatch, compile_reference, compile_setter
from express.errors import FieldFailure, StatesError
from express.types import JSON

__all__ = [
    "ABSENT",
    "MAX_PAYLOAD_BYTES",
    "check_size",
    "compile_filter_path",
    "compile_result_path",
    "REENCODED_GROWTH",
]

MAX_PAYLOAD_BYTES = 262_144
# A value parsed from JSON text takes at most this many times its bytes in that text when
# serialised again: only numbers grow ("1e15" becomes "1000000000000000.0", 4.5 times);
# strings keep or lose bytes (escapes become characters), whitespace goes.
REENCODED_GROWTH = 5
ABSENT: Any = object()

Filter = Callable[[JSON, Any], JSON]


def compile_filter_path(spec: Mapping[str, Any], field: str) -> Filter | None:
    """InputPath or OutputPath: ``(data, ctx) -> selected``, None when absent or ``$``.

    ``null`` yields ``{}``; a ``$$`` path selects from the context object.
    """
    if field not in spec:
        return None
    text = spec[field]
    if text is None:
        return _empty_object
    if text == "$":
        return None
    get = compile_reference(text)

    def select(data: JSON, ctx: Any) -> JSON:
        try:
            return get(data, ctx)
        except PathMissing as missing:
            raise FieldFailure(f"Invalid path '{text}' : {missing.jayway}") from None

    return select


def _empty_object(data: JSON, ctx: Any) -> JSON:
    return {}


def compile_result_path(spec: Mapping[str, Any]) -> Callable[[JSON, JSON], JSON]:
    """``merge(raw_input, result) -> document``; ResultPath defaults to ``$``."""
    text = spec.get("ResultPath", "$")
    if text is None:
        return _keep_input
    put = compile_setter(text)

    def merge(raw: JSON, result: JSON) -> JSON:
        try:
            return put(raw, result)
        except ResultPathMismatch:
            raise StatesError(
                "States.ResultPathMatchFailure",
                f"Unable to apply ResultPath '{text}' to input '{orjson.dumps(raw).decode()}'",
            ) from None

    return merge


def _keep_input(raw: JSON, result: JSON) -> JSON:
    return raw


def check_size(value: JSON, label: str) -> None:
    """States.DataLimitExceeded when ``value`` serialises to more than 256 KiB of UTF-8."""
    if isinstance(value, (dict, list, str)) and _too_big(value):
        raise StatesError(
            "States.DataLimitExceeded",
            f"The state/task '{label}' returned a result with a size exceeding the maximum number "
            "of bytes service limit.",
        )


def _too_big(value: JSON) -> bool:
    # A string's UTF-8 size is at least its length: skip the encode for the common small case.
    if isinstance(value, str) and len(value) * 4 < MAX_PAYLOAD_BYTES:
        return False
    return len(orjson.dumps(value)) > MAX_PAYLOAD_BYTES
