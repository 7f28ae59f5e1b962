"""Java behaviours that AWS's intrinsic functions show, reproduced in Python.

AWS runs intrinsic functions on the JVM, and several results expose it: ``States.Format``
renders objects the way ``java.util.Map.toString`` does (``{Arg1=1, Arg2=[]}``) and
doubles the way ``Double.toString`` does (``1.0E7``); ``States.MathAdd`` rounds with
``Math.round`` (half up: ``-2.5`` gives ``-2``); ``States.StringSplit`` behaves like
``java.util.StringTokenizer`` (every character of the second argument is a delimiter
and empty tokens are dropped); Base64 decoding is Java's MIME decoder; and a seeded
``States.MathRandom`` is deterministic, which ``java.util.Random`` reproduces exactly.

Invariants: every function here is pure apart from ``JavaRandom``'s own state, and
none raises on JSON input except where its docstring says so.
"""

from __future__ import annotations

import binascii
import functools
import math
import re
from collections.abc import Callable, Hashable

from express.types import JSON

__all__ = [
    "JavaRandom",
    "java_double",
    "java_equality_key",
    "java_length",
    "java_round",
    "java_string",
    "mime_base64_decode",
    "tokenize",
]


def java_round(value: int | float) -> int:
    """``Math.round``: the nearest integer, halves rounded up (towards positive infinity)."""
    if type(value) is int:
        return value
    floor = math.floor(value)
    # x - floor(x) is exact in binary floating point, so 0.49999999999999994 stays below a half.
    return floor + 1 if value - floor >= 0.5 else floor


def java_double(value: float) -> str:
    """``Double.toString``: plain notation for 1e-3 <= |x| < 1e7, else ``d.dddE±n``.

    The digits are the shortest that round-trip, as Python's ``repr`` chooses them.
    """
    if 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        if "e" not in text:
            return text  # Python's repr is already Java's form in this range
    elif value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    text = repr(abs(value))
    mantissa, _, exp_text = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    # `point` is where the decimal point falls relative to the significant digits.
    point = len(whole) + (int(exp_text) if exp_text else 0) - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0") or "0"
    sign = "-" if value < 0 else ""
    if 1e-3 <= abs(value) < 1e7:
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        if point >= len(digits):
            return f"{sign}{digits}{'0' * (point - len(digits))}.0"
        return f"{sign}{digits[:point]}.{digits[point:]}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{point - 1}"


def java_string(value: JSON) -> str:
    """The text ``String.valueOf`` gives for the Java form of a JSON value.

    Strings are inserted raw, ``null`` is ``null``, arrays are ``[a, b]`` and objects
    ``{key=value, other=[]}`` with nested strings unquoted.
    """
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return java_double(value)
    if kind is list:
        return "[" + ", ".join(map(java_string, value)) + "]"
    if kind is dict:
        return "{" + ", ".join(f"{key}={java_string(item)}" for key, item in value.items()) + "}"
    return str(value)


def java_equality_key(value: JSON) -> Hashable:
    """A hashable key equal for two JSON values exactly when Java's ``equals`` holds.

    Unlike Python's ``==``, ``true`` is not ``1`` and the integer ``1`` is not the
    double ``1.0``; object keys compare without regard to order.
    """
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is list:
        return ("a", tuple(map(java_equality_key, value)))
    if kind is dict:
        return ("o", frozenset((key, java_equality_key(item)) for key, item in value.items()))
    if value is None:
        return ("n",)
    return (kind.__name__, value)


def java_length(text: str) -> int:
    """``String.length()``: UTF-16 code units, so a character outside the BMP counts twice."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def tokenize(text: str, delimiters: str) -> list[str]:
    """``StringTokenizer(text, delimiters)``: split on any delimiter character, drop empty tokens."""
    if not delimiters:
        return [text] if text else []
    if len(delimiters) == 1:
        return [token for token in text.split(delimiters) if token]
    return [token for token in _splitter(delimiters)(text) if token]


@functools.lru_cache(maxsize=256)
def _splitter(delimiters: str) -> Callable[[str], list[str]]:
    return re.compile("[" + re.escape(delimiters) + "]").split


_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]+")


def mime_base64_decode(text: str) -> bytes:
    """``Base64.getMimeDecoder().decode``: characters outside the alphabet are ignored,
    padding is optional, and data after the padding is an error.

    Raises ``ValueError`` with Java's wording when the text cannot be decoded.
    """
    head, pad, tail = _NOT_BASE64.sub("", text).partition("=")
    rest = len(head) % 4
    if pad:
        if rest in (0, 1) or (rest == 2 and not tail.startswith("=")):
            raise ValueError("Input byte array has wrong 4-byte ending unit")
        if tail.strip("="):
            raise ValueError("Input byte array has incorrect ending byte")
    elif rest == 1:
        raise ValueError("Last unit does not have enough valid bits")
    return binascii.a2b_base64(head + "=" * (-rest % 4))


_MASK48 = (1 << 48) - 1
_MULTIPLIER = 0x5DEECE66D


class JavaRandom:
    """``java.util.Random``: the same seed gives the same numbers as on the JVM."""

    __slots__ = ("_seed",)

    def __init__(self, seed: int) -> None:
        self._seed = (seed ^ _MULTIPLIER) & _MASK48

    def _next(self, bits: int) -> int:
        self._seed = (self._seed * _MULTIPLIER + 0xB) & _MASK48
        return self._seed >> (48 - bits)

    def next_int(self, bound: int) -> int:
        """``nextInt(bound)`` for 0 < bound <= 2**31 - 1: uniform in ``[0, bound)``."""
        if not 0 < bound < 1 << 31:
            raise ValueError("bound must be positive and fit in a Java int")
        r = self._next(31)
        m = bound - 1
        if bound & m == 0:
            return (bound * r) >> 31
        u = r
        # Java loops while `u - r + m` overflows a signed 32-bit int.
        while True:
            r = u % bound
            if u - r + m < 1 << 31:
                return r
            u = self._next(31)
