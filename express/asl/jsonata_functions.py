"""The functions Step Functions adds to JSONata, and the one it takes away.

AWS adds ``$partition``, ``$range``, ``$hash``, ``$random([seed])``, ``$uuid()`` and
``$parse()``, and disables ``$eval`` (a call answers ``T1006``, as calling any
non-function does). The semantics reproduced here are AWS's:

* a non-integer numeric argument of ``$partition``, ``$range`` and ``$random`` is rounded
  towards zero (``-1.7`` is ``-1``);
* some arguments make a function return nothing rather than fail: ``$partition`` of an
  empty array or with a chunk size that rounds to 0, ``$range`` without a step or with a
  step that points away from the end, ``$hash`` without an algorithm;
* ``$range`` of a single value is that value, not a one-element array;
* ``$random(seed)`` is ``java.util.Random(seed).nextDouble()``, so a seed gives the same
  number as on AWS;
* ``$parse`` reads JSON as AWS does: an integer stays exact while it fits in a Java
  ``long`` and becomes a double beyond.

The evaluator calls these with JSON values and cannot receive "nothing" back from a host
function, so a function that returns nothing returns ``UNDEFINED`` instead, a marker the
evaluator removes from the result (see ``express.asl.jsonata``).

Invariants: every function is pure except ``$random`` and ``$uuid``; failures raise
``ValueError`` whose text starts with JSONata's error code, as AWS quotes it.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import uuid
from collections.abc import Callable
from typing import Any

from express.asl.intrinsics_java import JavaRandom
from express.types import JSON

__all__ = ["FUNCTIONS", "MAY_RETURN_NOTHING", "UNDEFINED", "disabled_eval", "parse_json"]

# What a function returns for "nothing"; a string no JSON document carries by accident.
UNDEFINED = "\x00express:undefined\x00"

_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
# AWS refuses a $range longer than this with its memory-limit error.
MAX_RANGE = 360_145


def _signature_error(function: str, position: int) -> ValueError:
    return ValueError(
        f'T0410: Argument {position} of function "{function}" does not match function signature'
    )


def _check_arity(function: str, args: tuple[JSON, ...], most: int) -> tuple[JSON, ...]:
    """The arguments the function takes; a surplus one is an error, as on AWS.

    A higher-order function (``$map(items, $parse)``) passes each value with its index and
    the whole array; those two are not the caller's surplus and are dropped.
    """
    if len(args) <= most:
        return args
    if len(args) <= most + 2 and type(args[-1]) is list and type(args[-2]) is int:
        return args[:most]
    if any(a is not None for a in args[most:]):
        raise _signature_error(function, most + 1)
    return args


def _towards_zero(function: str, position: int, value: JSON) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _signature_error(function, position)
    return int(value)


def _arg(args: tuple[JSON, ...], index: int) -> JSON:
    return args[index] if index < len(args) else None


def partition(*args: JSON) -> JSON:
    args = _check_arity("partition", args, 2)
    array, size = _arg(args, 0), _arg(args, 1)
    if array is None:
        return UNDEFINED
    if not isinstance(array, list):
        raise ValueError('T0412: Argument 1 of function "partition" must be an array of undefined')
    if not array:
        return UNDEFINED
    if size is None:
        return [array]
    chunk = _towards_zero("partition", 2, size)
    if chunk < 0:
        raise ValueError("D3137: Second argument must be zero or greater")
    if chunk == 0:
        return UNDEFINED
    return [array[i : i + chunk] for i in range(0, len(array), chunk)]


def range_(*args: JSON) -> JSON:
    args = _check_arity("range", args, 3)
    start = _towards_zero("range", 1, _arg(args, 0))
    end = _towards_zero("range", 2, _arg(args, 1))
    if _arg(args, 2) is None:
        return UNDEFINED
    step = _towards_zero("range", 3, args[2])
    if step == 0 or (step > 0 and start > end) or (step < 0 and start < end):
        return UNDEFINED
    count = (end - start) // step + 1
    if count > MAX_RANGE:
        raise ValueError("Expression evaluation memory limit exceeded")
    if count == 1:
        return start
    return list(range(start, start + count * step, step))


def hash_(*args: JSON) -> JSON:
    args = _check_arity("hash", args, 2)
    value, algorithm = _arg(args, 0), _arg(args, 1)
    if not isinstance(value, str):
        raise _signature_error("hash", 1)
    if algorithm is None:
        return UNDEFINED
    if not isinstance(algorithm, str):
        raise _signature_error("hash", 2)
    name = _HASHES.get(algorithm)
    if name is None:
        raise ValueError(
            f"D3137: Hash algorithm '{algorithm}' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5"
        )
    return hashlib.new(name, value.encode("utf-8")).hexdigest()


class _SeededRandom(JavaRandom):
    """``java.util.Random`` with ``nextDouble``."""

    __slots__ = ()

    def next_double(self) -> float:
        return float((self._next(26) << 27) + self._next(27)) * 2.0**-53


def random_(*args: JSON) -> JSON:
    args = _check_arity("random", args, 1)
    seed = _arg(args, 0)
    if seed is None:
        return random.random()
    return _SeededRandom(_towards_zero("random", 1, seed)).next_double()


def uuid_(*args: JSON) -> JSON:
    args = _check_arity("uuid", args, 0)
    return str(uuid.uuid4())


def _long_or_double(text: str) -> int | float:
    value = int(text)
    return value if _LONG_MIN <= value <= _LONG_MAX else float(value)


def _reject_constant(text: str) -> Any:
    raise ValueError(f"not JSON: {text}")


def parse_json(text: str) -> JSON:
    """JSON text as AWS reads it; raises ``ValueError`` on anything that is not JSON."""
    return json.loads(text, parse_int=_long_or_double, parse_constant=_reject_constant)


def parse(*args: JSON) -> JSON:
    args = _check_arity("parse", args, 1)
    text = _arg(args, 0)
    if text is None:
        return UNDEFINED
    if not isinstance(text, str):
        raise _signature_error("parse", 1)
    try:
        return parse_json(text)
    except ValueError:
        raise ValueError("D3137: Invalid JSON") from None


def disabled_eval(*args: JSON) -> JSON:
    raise ValueError("T1006: Attempted to invoke a non-function")


FUNCTIONS: dict[str, Callable[..., JSON]] = {
    "partition": partition,
    "range": range_,
    "hash": hash_,
    "random": random_,
    "uuid": uuid_,
    "parse": parse,
}

# The functions that can return UNDEFINED, whose results the evaluator must clean.
MAY_RETURN_NOTHING = frozenset({"partition", "range", "hash", "parse"})
