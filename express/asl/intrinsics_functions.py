"""The 18 ASL intrinsic functions, as plain Python functions of already evaluated arguments.

``FUNCTIONS`` maps each name (``States.Format``, ...) to its arity and implementation.
The parser in ``express.asl.intrinsics`` checks arity when the definition is compiled;
the implementations check argument types and ranges when they run, because the
arguments usually come from the state input.

Invariants: an implementation either returns a JSON value or raises ``FieldFailure``
with ``States.IntrinsicFailure``, and never mutates its arguments. A result may share
values with the arguments (``ArrayGetItem`` returns an element as it is), just as a
path's value shares the document it was read from.
"""

from __future__ import annotations

import base64
import hashlib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from express.asl.intrinsics_java import (
    JavaRandom,
    java_equality_key,
    java_length,
    java_round,
    java_string,
    mime_base64_decode,
    tokenize,
)
from express.errors import FieldFailure
from express.types import JSON

__all__ = ["FUNCTIONS", "INTRINSIC_FAILURE", "Function", "compile_format"]

INTRINSIC_FAILURE = "States.IntrinsicFailure"

# AWS's documented limits.
MAX_RANGE_ITEMS = 1000
MAX_ENCODED_CHARS = 10_000  # Base64Encode/Base64Decode/Hash input
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # MathAdd and MathRandom work on Java ints


@dataclass(frozen=True)
class Function:
    """One intrinsic: its arity (``max_args`` None: variadic) and implementation."""

    name: str
    min_args: int
    max_args: int | None
    impl: Callable[..., JSON]
    pure: bool = True  # same arguments, same result: constant arguments may be folded


# ----------------------------------------------------------------------------- argument checks
def _json_type(value: JSON) -> str:
    kind = type(value)
    if kind is bool:
        return "boolean"
    if kind in (int, float):
        return "number"
    if kind is str:
        return "string"
    if kind is list:
        return "array"
    if kind is dict:
        return "object"
    return "null"


def _show(value: JSON) -> str:
    try:
        text = orjson.dumps(value).decode()
    except TypeError:  # an integer beyond 64 bits
        text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _fail(name: str, detail: str) -> FieldFailure:
    return FieldFailure(f"Invalid arguments in {name}: {detail}", INTRINSIC_FAILURE)


def _wrong_type(name: str, position: int, expected: str, value: JSON) -> FieldFailure:
    found = "null" if value is None else f"{_json_type(value)} {_show(value)}"
    return _fail(name, f"argument {position} must be {expected}, but was {found}.")


def _array(name: str, position: int, value: JSON) -> list[JSON]:
    if type(value) is not list:
        raise _wrong_type(name, position, "an array", value)
    return value


def _string(name: str, position: int, value: JSON) -> str:
    if type(value) is not str:
        raise _wrong_type(name, position, "a string", value)
    return value


def _integer(name: str, position: int, value: JSON) -> int:
    """An integral number; ``2.0`` is accepted, ``2.5`` is not."""
    kind = type(value)
    if kind is int:
        return value  # type: ignore[no-any-return]
    if kind is float and value.is_integer():
        return int(value)
    raise _wrong_type(name, position, "an integer", value)


def _java_int(name: str, position: int, value: JSON) -> int:
    """A number rounded half up to a Java int, as AWS documents for MathAdd and MathRandom."""
    kind = type(value)
    if kind is int:
        rounded: int = value
    elif kind is float:
        rounded = java_round(value)
    else:
        raise _wrong_type(name, position, "a number", value)
    if INT_MIN <= rounded <= INT_MAX:
        return rounded
    raise _fail(name, f"argument {position} must be between {INT_MIN} and {INT_MAX}, but was {rounded}.")


def _limited(name: str, position: int, value: JSON) -> str:
    text = _string(name, position, value)
    if len(text) > MAX_ENCODED_CHARS // 2 and java_length(text) > MAX_ENCODED_CHARS:
        raise _fail(name, f"argument {position} must not exceed {MAX_ENCODED_CHARS} characters.")
    return text


# ----------------------------------------------------------------------------- generic
def _format(template: JSON, *values: JSON) -> str:
    """``States.Format`` with a template known only at run time (from a path)."""
    pieces = _string("States.Format", 1, template).split("{}")
    if len(pieces) - 1 != len(values):
        holes = len(pieces) - 1
        raise _fail(
            "States.Format", f"the template has {holes} '{{}}' placeholder(s) but {len(values)} value(s)."
        )
    return _interleave(pieces, values)


def _interleave(pieces: list[str] | tuple[str, ...], values: tuple[JSON, ...]) -> str:
    out = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        out.append(value if type(value) is str else java_string(value))
        out.append(piece)
    return "".join(out)


def compile_format(pieces: tuple[str, ...]) -> Callable[..., str]:
    """``States.Format`` for a literal template, already split at its placeholders."""
    if len(pieces) == 1:
        (text,) = pieces

        def format_constant() -> str:
            return text

        return format_constant
    if len(pieces) == 2:
        before, after = pieces

        def format_one(value: JSON) -> str:
            return before + (value if type(value) is str else java_string(value)) + after

        return format_one

    # str.format joins in C; the template's own braces are doubled so they stay literal.
    pattern = "{}".join(piece.replace("{", "{{").replace("}", "}}") for piece in pieces)

    def format_many(*values: JSON) -> str:
        return pattern.format(*map(java_string, values))

    return format_many


# ----------------------------------------------------------------------------- JSON
def _string_to_json(value: JSON) -> JSON:
    text = _string("States.StringToJson", 1, value)
    if not text.strip(" \t\r\n"):
        return None  # AWS answers null for an empty or blank string
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _fail("States.StringToJson", f"argument 1 is not valid JSON text ({exc}).") from None


def _json_to_string(value: JSON) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError as exc:
        raise _fail("States.JsonToString", f"argument 1 cannot be written as JSON ({exc}).") from None


def _json_merge(first: JSON, second: JSON, deep: JSON) -> dict[str, JSON]:
    name = "States.JsonMerge"
    if type(first) is not dict:
        raise _wrong_type(name, 1, "an object", first)
    if type(second) is not dict:
        raise _wrong_type(name, 2, "an object", second)
    if deep is not False:
        if deep is True:
            raise _fail(name, "deep merging is not supported: argument 3 must be false.")
        raise _wrong_type(name, 3, "the boolean false", deep)
    return {**first, **second}


# ----------------------------------------------------------------------------- arrays
def _array_of(*values: JSON) -> list[JSON]:
    return list(values)


def _array_partition(array: JSON, size: JSON) -> list[list[JSON]]:
    items = _array("States.ArrayPartition", 1, array)
    chunk = _integer("States.ArrayPartition", 2, size)
    if chunk <= 0:
        raise _fail(
            "States.ArrayPartition", f"argument 2 (the chunk size) must be positive, but was {chunk}."
        )
    return [items[i : i + chunk] for i in range(0, len(items), chunk)]


def _array_contains(array: JSON, value: JSON) -> bool:
    items = _array("States.ArrayContains", 1, array)
    kind = type(value)
    if kind is str:
        return value in items  # a str equals only a str
    if kind in (list, dict):
        key = java_equality_key(value)
        return any(type(item) is kind and java_equality_key(item) == key for item in items)
    return any(type(item) is kind and item == value for item in items)


def _array_range(first: JSON, last: JSON, step: JSON) -> list[int]:
    name = "States.ArrayRange"
    start, stop, increment = _integer(name, 1, first), _integer(name, 2, last), _integer(name, 3, step)
    if increment == 0:
        raise _fail(name, "argument 3 (the step) must not be 0.")
    span = stop - start if increment > 0 else start - stop
    count = span // abs(increment) + 1 if span >= 0 else 0
    if count > MAX_RANGE_ITEMS:
        raise _fail(name, f"the range would hold {count} items; at most {MAX_RANGE_ITEMS} are allowed.")
    return list(range(start, stop + (1 if increment > 0 else -1), increment))


def _array_get_item(array: JSON, index: JSON) -> JSON:
    items = _array("States.ArrayGetItem", 1, array)
    position = _integer("States.ArrayGetItem", 2, index)
    if not 0 <= position < len(items):
        raise _fail(
            "States.ArrayGetItem",
            f"the index {position} is out of bounds for an array of length {len(items)}.",
        )
    return items[position]


def _array_length(array: JSON) -> int:
    return len(_array("States.ArrayLength", 1, array))


def _array_unique(array: JSON) -> list[JSON]:
    seen: set[Any] = set()
    out: list[JSON] = []
    for item in _array("States.ArrayUnique", 1, array):
        key = java_equality_key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


# ----------------------------------------------------------------------------- encoding, hashing
def _base64_encode(value: JSON) -> str:
    text = _limited("States.Base64Encode", 1, value)
    return base64.b64encode(text.encode("utf-8", "replace")).decode("ascii")


def _base64_decode(value: JSON) -> str:
    text = _limited("States.Base64Decode", 1, value)
    try:
        raw = mime_base64_decode(text)
    except ValueError as exc:
        raise _fail("States.Base64Decode", f"argument 1 is not Base64 ({exc}).") from None
    return raw.decode("utf-8", "replace")  # Java's new String(bytes, UTF_8) replaces bad bytes


_HASHES: dict[str, Callable[[bytes], Any]] = {
    "MD5": lambda data: hashlib.md5(data, usedforsecurity=False),
    "SHA-1": lambda data: hashlib.sha1(data, usedforsecurity=False),
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}


def _hash(data: JSON, algorithm: JSON) -> str:
    text = _limited("States.Hash", 1, data)
    digest = _HASHES.get(algorithm) if type(algorithm) is str else None
    if digest is None:
        raise _fail(
            "States.Hash", f"argument 2 must be one of {', '.join(_HASHES)}, but was {_show(algorithm)}."
        )
    return digest(text.encode("utf-8", "replace")).hexdigest()  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------- math, strings, ids
def _math_add(first: JSON, second: JSON) -> int:
    return _java_int("States.MathAdd", 1, first) + _java_int("States.MathAdd", 2, second)


_random = random.Random()


def _math_random(start: JSON, end: JSON, *seed: JSON) -> int:
    name = "States.MathRandom"
    low, high = _java_int(name, 1, start), _java_int(name, 2, end)
    if high <= low or high - low > INT_MAX:
        raise _fail(
            name, f"argument 2 must be greater than argument 1, within {INT_MAX}, but got {low} and {high}."
        )
    if not seed:
        return low + _random.randrange(high - low)
    if type(seed[0]) not in (int, float):
        raise _wrong_type(name, 3, "a number", seed[0])
    # java.util.Random, so that a seed gives the same number every time, everywhere.
    return low + JavaRandom(java_round(seed[0])).next_int(high - low)


def _string_split(value: JSON, delimiters: JSON) -> list[str]:
    return tokenize(_string("States.StringSplit", 1, value), _string("States.StringSplit", 2, delimiters))


def _uuid() -> str:
    return str(uuid.uuid4())


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("States.Format", 1, None, _format),
        Function("States.StringToJson", 1, 1, _string_to_json),
        Function("States.JsonToString", 1, 1, _json_to_string),
        Function("States.Array", 0, None, _array_of),
        Function("States.ArrayPartition", 2, 2, _array_partition),
        Function("States.ArrayContains", 2, 2, _array_contains),
        Function("States.ArrayRange", 3, 3, _array_range),
        Function("States.ArrayGetItem", 2, 2, _array_get_item),
        Function("States.ArrayLength", 1, 1, _array_length),
        Function("States.ArrayUnique", 1, 1, _array_unique),
        Function("States.Base64Encode", 1, 1, _base64_encode),
        Function("States.Base64Decode", 1, 1, _base64_decode),
        Function("States.Hash", 2, 2, _hash),
        Function("States.JsonMerge", 3, 3, _json_merge),
        Function("States.MathRandom", 2, 3, _math_random, pure=False),
        Function("States.MathAdd", 2, 2, _math_add),
        Function("States.StringSplit", 2, 2, _string_split),
        Function("States.UUID", 0, 0, _uuid, pure=False),
    )
}
