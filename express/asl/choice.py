"""Choice rules (JSONPath query language) compiled into predicates.

``compile_choice_rule`` turns one element of a Choice state's ``Choices``, or a rule
nested in ``And``/``Or``/``Not``, into ``predicate(state_input, ctx) -> bool``. The
semantics are AWS's:

* A comparison whose values are not both of the operator's type is false, never an
  error: ``NumericEquals`` on a string, a boolean against a number (booleans are not
  numbers), ``TimestampEquals`` on a string that is not a timestamp.
* Numbers compare by value, whatever the mix of int and float.
* Strings compare as Java compares them, by UTF-16 code unit; this differs from code
  point order only between a character beyond the BMP and one in U+E000..U+FFFF.
* Timestamps are RFC 3339 date-times with an uppercase ``T`` and either ``Z`` or a
  ``+hh:mm``/``-hh:mm`` offset, with up to nine fractional digits. They compare as
  instants, to the nanosecond.
* ``StringMatches``: ``*`` matches any run of characters, ``\\*`` is a literal star,
  ``\\\\`` a literal backslash; no other character is special.
* ``IsPresent`` is false when ``Variable`` selects nothing. Every other operator then
  raises ``FieldFailure`` (``States.Runtime``) with AWS's detail, ``Invalid path '<p>':
  The choice state's condition path references an invalid value.``; so does a
  ``...Path`` operand that selects nothing.
* ``And``/``Or`` stop at the first member that decides the result, so a later member's
  missing path raises only when that member is reached.

``Variable`` and ``...Path`` operands are reference paths on the state input (``$.a``),
the context object (``$$.Execution.Name``) or, given a resolver, workflow variables
(``$name.a``).

Invariants: every path, literal, timestamp and pattern is parsed and checked here,
once; a predicate never reads the rule again. A rule on the state input compiles to a
single closure that calls a path getter, tests a type and compares. All problems in a
rule are reported together in one ``DefinitionError`` whose diagnostics carry JSON
Pointers into the definition.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from express.asl.paths import (
    PathMissing,
    PathSyntaxError,
    compile_getter,
    compile_probe,
    compile_reference,
    is_definite,
    parse_path,
    top_level_key,
)
from express.errors import DefinitionError, Diagnostic, FieldFailure
from express.runtime.context import ExecutionContext
from express.types import JSON, Evaluator, Getter

if TYPE_CHECKING:
    from express.asl.intrinsics import VariableResolver

__all__ = ["ChoicePredicate", "compile_choice_rule"]

ChoicePredicate = Callable[[JSON, ExecutionContext], bool]
_Compare = Callable[[Any, Any], bool]
# A compiled operand waiting for the getter of its Variable and the detail to raise
# when that getter finds nothing.
# (getter, missing-path detail, the member name when the path is ``$.name``) -> predicate
_Builder = Callable[[Getter, str, "str | None"], ChoicePredicate]

_CODE = "SCHEMA_VALIDATION_FAILED"
_NUMBER: tuple[type, ...] = (int, float)  # exact types: bool is not a number here
_STRING: tuple[type, ...] = (str,)
_BOOLEAN: tuple[type, ...] = (bool,)
_NULL: tuple[type, ...] = (type(None),)

_RELATIONS: dict[str, _Compare] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}
# operator name -> (family, relation, operand is a path)
_COMPARISONS: dict[str, tuple[str, str, bool]] = {
    family + relation + suffix: (family, relation, suffix == "Path")
    for family in ("String", "Numeric", "Timestamp", "Boolean")
    for relation in (("Equals",) if family == "Boolean" else _RELATIONS)
    for suffix in ("", "Path")
}
_TYPE_TESTS: dict[str, tuple[type, ...]] = {
    "IsNull": _NULL,
    "IsNumeric": _NUMBER,
    "IsString": _STRING,
    "IsBoolean": _BOOLEAN,
}
_OPERATORS = frozenset(_COMPARISONS) | frozenset(_TYPE_TESTS) | {"IsPresent", "IsTimestamp", "StringMatches"}
_COMBINATORS = ("And", "Or", "Not")
_INERT = frozenset({"Variable", "Next", "Comment", "Assign"})  # Next/Assign belong to the Choice state
# family -> (types a literal operand and a compared value must have, how to say so)
_LITERALS: dict[str, tuple[tuple[type, ...], str]] = {
    "Numeric": (_NUMBER, "a number"),
    "String": (_STRING, "a string"),
    "Boolean": (_BOOLEAN, "true or false"),
}


def compile_choice_rule(
    rule: Mapping[str, Any], pointer: str, *, variables: VariableResolver | None = None
) -> ChoicePredicate:
    """Compile one Choice rule; ``pointer`` is its JSON Pointer (``/States/Check/Choices/0``).

    ``variables`` compiles workflow-variable references (``$name.field``) into evaluators
    that raise ``PathMissing`` when they select nothing; without it such references are
    definition errors. Raises ``DefinitionError`` listing every problem in the rule.
    """
    problems: list[Diagnostic] = []
    predicate = _rule(rule, pointer, problems, variables)
    if problems or predicate is None:
        raise DefinitionError(problems)
    return predicate


# ----------------------------------------------------------------------------- rule shapes
def _rule(
    rule: Any, pointer: str, problems: list[Diagnostic], variables: VariableResolver | None
) -> ChoicePredicate | None:
    if not isinstance(rule, Mapping):
        _problem(problems, pointer, f"a Choice rule must be an object, not {_show(rule)}")
        return None
    chosen = [key for key in rule if key in _OPERATORS or key in _COMBINATORS]
    for key in rule:
        if key not in _OPERATORS and key not in _COMBINATORS and key not in _INERT:
            _problem(problems, _child(pointer, key), _unknown_field(key))
    if len(chosen) != 1:
        if chosen:
            found = ", ".join(f"'{key}'" for key in chosen)
            _problem(problems, pointer, f"a Choice rule takes exactly one operator, found {found}")
            return None
        if "Variable" in rule:
            _problem(
                problems,
                pointer,
                "'Variable' needs a comparison operator beside it, such as "
                "'StringEquals', 'NumericGreaterThan' or 'IsPresent'",
            )
            return None
        _problem(
            problems,
            pointer,
            "a Choice rule needs 'And', 'Or', 'Not', or 'Variable' with a comparison operator",
        )
        return None
    (key,) = chosen
    if key in _COMBINATORS:
        if "Variable" in rule:
            _problem(
                problems, f"{pointer}/Variable", f"'Variable' does not apply to a '{key}' rule; remove it"
            )
        return _combination(key, rule[key], f"{pointer}/{key}", problems, variables)
    return _data_test(rule, key, pointer, problems, variables)


def _combination(
    key: str, members: Any, at: str, problems: list[Diagnostic], variables: VariableResolver | None
) -> ChoicePredicate | None:
    if key == "Not":
        inner = _rule(members, at, problems, variables)
        return None if inner is None else _not(inner)
    if isinstance(members, str) or not isinstance(members, Sequence) or not members:
        _problem(problems, at, f"'{key}' needs a non-empty array of Choice rules, not {_show(members)}")
        return None
    compiled = [_rule(member, f"{at}/{i}", problems, variables) for i, member in enumerate(members)]
    parts = [p for p in compiled if p is not None]
    if len(parts) != len(compiled):
        return None
    return _all_of(parts) if key == "And" else _any_of(parts)


def _data_test(
    rule: Mapping[str, Any],
    key: str,
    pointer: str,
    problems: list[Diagnostic],
    variables: VariableResolver | None,
) -> ChoicePredicate | None:
    if "Variable" not in rule:
        _problem(
            problems, f"{pointer}/Variable", f"'{key}' needs a 'Variable' path to test, such as '$.status'"
        )
        return None
    source = _source(rule["Variable"], f"{pointer}/Variable", problems, variables)
    at, operand = f"{pointer}/{key}", rule[key]
    if key == "IsPresent":
        expected = _flag(key, operand, at, problems)
        return None if source is None or expected is None else _is_present(source, expected)
    if key in _COMPARISONS and _COMPARISONS[key][2]:
        other = _source(operand, at, problems, variables)
        return None if source is None or other is None else _path_comparison(key, source, other)
    build = _operand(key, operand, at, problems)
    if source is None or build is None:
        return None
    if source.getter is not None:
        return build(source.getter, source.missing, source.key)
    return _through(source.reference, build(_identity, source.missing, None), source.missing)


# ----------------------------------------------------------------------------- references
@dataclass(frozen=True, slots=True)
class _Source:
    """Where a Variable or ``...Path`` operand reads its value."""

    getter: Getter | None  # set when it reads the state input: the predicate calls it directly
    reference: Evaluator  # (state input, ctx) -> value, for every kind of reference
    missing: str  # the FieldFailure detail when it selects nothing
    probe: Callable[[JSON], bool] | None = None  # IsPresent on the state input, without raising
    key: str | None = None  # set when it reads one member of the state input: ``$.name``


def _source(
    text: Any, at: str, problems: list[Diagnostic], variables: VariableResolver | None
) -> _Source | None:
    field = at.rsplit("/", 1)[-1]
    if not isinstance(text, str):
        _problem(problems, at, f"'{field}' must be a reference path such as '$.value', not {_show(text)}")
        return None
    getter: Getter | None = None
    probe: Callable[[JSON], bool] | None = None
    try:
        if text[1:2].isalpha() or text[1:2] == "_":
            if variables is None:
                _problem(problems, at, f"workflow variables such as {text!r} cannot be used here")
                return None
            reference = variables(text)
        else:
            on_context = text.startswith("$$")
            if not is_definite(parse_path(text[1:] if on_context else text)):
                _problem(
                    problems,
                    at,
                    f"'{field}' must be a reference path, which selects one value: {text!r} has "
                    "a wildcard, slice, union, filter or '..'",
                )
                return None
            reference = compile_reference(text)
            getter = None if on_context else compile_getter(text)
            probe = None if on_context else compile_probe(text)
    except PathSyntaxError as exc:
        caret = " " * (exc.column + text.startswith("$$")) + "^"
        _problem(problems, at, f"invalid reference path {text!r}: {exc.reason}\n  {text}\n  {caret}")
        return None
    except ValueError as exc:  # a variable resolver's own complaint
        _problem(problems, at, f"invalid reference path {text!r}: {exc}")
        return None
    missing = f"Invalid path '{text}': The choice state's condition path references an invalid value."
    key = None if getter is None else top_level_key(text)
    return _Source(getter, reference, missing, probe, key)


# ----------------------------------------------------------------------------- operands
def _operand(key: str, operand: Any, at: str, problems: list[Diagnostic]) -> _Builder | None:
    """Check a literal operand and return how to build the predicate around a getter."""
    if key in _TYPE_TESTS or key == "IsTimestamp":
        expected = _flag(key, operand, at, problems)
        if expected is None:
            return None
        if key == "IsTimestamp":
            check = _is_timestamp if expected else _is_not_timestamp
            return lambda get, missing, member: _check(get, check, missing, member)
        types = _TYPE_TESTS[key]
        return lambda get, missing, member: _type_test(get, types, expected, missing, member)
    if key == "StringMatches":
        matches = _wildcard(operand, at, problems)
        return None if matches is None else lambda get, missing, member: _check(get, matches, missing, member)
    family, relation, _ = _COMPARISONS[key]
    compare = _RELATIONS[relation]
    if family == "Timestamp":
        instant = _instant(operand) if type(operand) is str else None
        if instant is None:
            _problem(problems, at, f"String does not match RFC3339 timestamp: {_show(operand)}")
            return None
        against = _timestamp_test(compare, instant)
        return lambda get, missing, member: _check(get, against, missing, member)
    types, wanted = _LITERALS[family]
    if type(operand) not in types:
        _problem(problems, at, f"'{key}' needs {wanted}, not {_show(operand)}")
        return None
    if family == "String" and relation != "Equals" and not operand.isascii():
        compare = _utf16(compare)
    return lambda get, missing, member: _compare_literal(get, types, compare, operand, missing, member)


def _flag(key: str, operand: Any, at: str, problems: list[Diagnostic]) -> bool | None:
    if type(operand) is bool:
        return operand
    _problem(problems, at, f"'{key}' needs true or false, not {_show(operand)}")
    return None


def _path_comparison(key: str, left: _Source, right: _Source) -> ChoicePredicate:
    family, relation, _ = _COMPARISONS[key]
    compare = _RELATIONS[relation]
    check: _Compare
    if family == "Numeric":

        def check(a: Any, b: Any) -> bool:
            return type(a) in _NUMBER and type(b) in _NUMBER and compare(a, b)

    elif family == "String":
        ordered = compare if relation == "Equals" else _utf16(compare)

        def check(a: Any, b: Any) -> bool:
            return type(a) is str and type(b) is str and ordered(a, b)

    elif family == "Boolean":

        def check(a: Any, b: Any) -> bool:
            return type(a) is bool and type(b) is bool and a == b

    else:

        def check(a: Any, b: Any) -> bool:
            x = _instant(a) if type(a) is str else None
            y = _instant(b) if type(b) is str else None
            return x is not None and y is not None and compare(x, y)

    if left.getter is not None and right.getter is not None:
        return _compare_inputs(left.getter, right.getter, check, left.missing, right.missing)
    return _compare_references(left.reference, right.reference, check, left.missing, right.missing)


def _utf16(compare: _Compare) -> _Compare:
    """Java's String order: by UTF-16 code unit rather than by code point."""

    def by_code_unit(a: str, b: str) -> bool:
        # Below U+0080 both orders agree, so an ASCII side needs no encoding.
        if a.isascii() or b.isascii():
            return compare(a, b)
        return compare(a.encode("utf-16-be", "surrogatepass"), b.encode("utf-16-be", "surrogatepass"))

    return by_code_unit


def _wildcard(pattern: Any, at: str, problems: list[Diagnostic]) -> Callable[[Any], bool] | None:
    if type(pattern) is not str:
        _problem(problems, at, f"'StringMatches' needs a string pattern, not {_show(pattern)}")
        return None
    pieces: list[str] = [""]
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            pieces.append("")
        elif c != "\\":
            pieces[-1] += c
        elif pattern[i + 1 : i + 2] in ("*", "\\"):
            pieces[-1] += pattern[i + 1]
            i += 1
        else:
            _problem(
                problems,
                at,
                f"open escape in StringMatches pattern {pattern!r} at column {i}: write '\\\\*' for a "
                "literal star and '\\\\\\\\' for a literal backslash",
            )
            return None
        i += 1
    if len(pieces) == 1:
        literal = pieces[0]
        return lambda value: type(value) is str and value == literal
    head, *middle, tail = (re.escape(p) for p in pieces)
    # Each middle piece is taken at its leftmost place and never revisited (atomic
    # group): with '*' as the only wildcard that choice is always right, and it keeps
    # the cost near len(text) * len(pattern) where plain '.*' runs would backtrack
    # through every way of splitting the text.
    regex = head + "".join(f"(?>.*?{p})" for p in middle) + ".*" + tail
    fullmatch = re.compile(regex, re.DOTALL).fullmatch
    return lambda value: type(value) is str and fullmatch(value) is not None


# ----------------------------------------------------------------------------- timestamps
# The ranges of every field but the day of the month are checked by the pattern itself.
_TIMESTAMP = re.compile(
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.([0-9]{1,9}))?"
    r"(?:Z|([+-])((?:0[0-9]|1[0-7]):[0-5][0-9]|18:00))"  # java.time.ZoneOffset's range
)
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _instant(text: str) -> int | None:
    """Nanoseconds since the epoch, or None when ``text`` is not an ASL timestamp.

    Integers keep nanosecond timestamps exact, where a float would merge neighbours.
    """
    m = _TIMESTAMP.fullmatch(text)
    if m is None:
        return None
    days = _days_since_epoch(int(text[0:4]), int(text[5:7]), int(text[8:10]))
    if days is None:
        return None
    seconds = days * 86400 + int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])
    fraction, sign, offset = m.groups()
    if sign is not None:
        shift = int(offset[:2]) * 3600 + int(offset[3:]) * 60
        seconds += -shift if sign == "+" else shift
    return seconds * 1_000_000_000 + (int(fraction.ljust(9, "0")) if fraction else 0)


def _days_since_epoch(year: int, month: int, day: int) -> int | None:
    """Days from 1970-01-01 in the proleptic Gregorian calendar (year 0 included), or None
    when the month has no such day."""
    if day > 28:
        leap = month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        if day > _MONTH_DAYS[month - 1] + leap:
            return None
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146097 + year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year - 719468


def _is_timestamp(value: Any) -> bool:
    return type(value) is str and _instant(value) is not None


def _is_not_timestamp(value: Any) -> bool:
    return not (type(value) is str and _instant(value) is not None)


def _timestamp_test(compare: _Compare, instant: int) -> Callable[[Any], bool]:
    def against(value: Any) -> bool:
        parsed = _instant(value) if type(value) is str else None
        return parsed is not None and compare(parsed, instant)

    return against


# ----------------------------------------------------------------------------- predicates
_ABSENT: Any = object()  # a member the state input does not have


def _compare_literal(  # noqa: PLR0917
    get: Getter, types: tuple[type, ...], compare: _Compare, operand: Any, missing: str, member: str | None
) -> ChoicePredicate:
    if member is not None:
        # ``$.name``: one dictionary lookup, no getter call (Choice rules run on every record).
        def compare_member(data: JSON, ctx: ExecutionContext) -> bool:
            value = data.get(member, _ABSENT) if type(data) is dict else _ABSENT
            if value is _ABSENT:
                raise FieldFailure(missing)
            return type(value) in types and compare(value, operand)

        return compare_member

    def compare_literal(data: JSON, ctx: ExecutionContext) -> bool:
        try:
            value = get(data)
        except PathMissing:
            raise FieldFailure(missing) from None
        return type(value) in types and compare(value, operand)

    return compare_literal


def _type_test(
    get: Getter, types: tuple[type, ...], expected: bool, missing: str, member: str | None
) -> ChoicePredicate:
    if member is not None:

        def type_test_member(data: JSON, ctx: ExecutionContext) -> bool:
            value = data.get(member, _ABSENT) if type(data) is dict else _ABSENT
            if value is _ABSENT:
                raise FieldFailure(missing)
            return (type(value) in types) is expected

        return type_test_member

    def type_test(data: JSON, ctx: ExecutionContext) -> bool:
        try:
            value = get(data)
        except PathMissing:
            raise FieldFailure(missing) from None
        return (type(value) in types) is expected

    return type_test


def _check(get: Getter, check: Callable[[Any], bool], missing: str, member: str | None) -> ChoicePredicate:
    if member is not None:

        def check_member(data: JSON, ctx: ExecutionContext) -> bool:
            value = data.get(member, _ABSENT) if type(data) is dict else _ABSENT
            if value is _ABSENT:
                raise FieldFailure(missing)
            return check(value)

        return check_member

    def check_value(data: JSON, ctx: ExecutionContext) -> bool:
        try:
            value = get(data)
        except PathMissing:
            raise FieldFailure(missing) from None
        return check(value)

    return check_value


def _through(reference: Evaluator, inner: ChoicePredicate, missing: str) -> ChoicePredicate:
    """A test on a value read from the context object (or any non-input reference)."""

    def read_then_test(data: JSON, ctx: ExecutionContext) -> bool:
        try:
            value = reference(data, ctx)
        except PathMissing:
            raise FieldFailure(missing) from None
        return inner(value, ctx)

    return read_then_test


def _is_present(source: _Source, expected: bool) -> ChoicePredicate:
    member = source.key
    if member is not None:
        if expected:
            return lambda data, ctx: type(data) is dict and member in data
        return lambda data, ctx: not (type(data) is dict and member in data)
    if source.probe is not None:
        probe = source.probe
        if expected:
            return lambda data, ctx: probe(data)
        return lambda data, ctx: not probe(data)
    get, reference = source.getter, source.reference
    if get is not None:
        on_input = get

        def present(data: JSON, ctx: ExecutionContext) -> bool:
            try:
                on_input(data)
            except PathMissing:
                return not expected
            return expected

        return present

    def present_in_reference(data: JSON, ctx: ExecutionContext) -> bool:
        try:
            reference(data, ctx)
        except PathMissing:
            return not expected
        return expected

    return present_in_reference


def _compare_inputs(
    left: Getter, right: Getter, check: _Compare, left_missing: str, right_missing: str
) -> ChoicePredicate:
    def compare_paths(data: JSON, ctx: ExecutionContext) -> bool:
        try:
            a = left(data)
        except PathMissing:
            raise FieldFailure(left_missing) from None
        try:
            b = right(data)
        except PathMissing:
            raise FieldFailure(right_missing) from None
        return check(a, b)

    return compare_paths


def _compare_references(
    left: Evaluator, right: Evaluator, check: _Compare, left_missing: str, right_missing: str
) -> ChoicePredicate:
    def compare_references(data: JSON, ctx: ExecutionContext) -> bool:
        try:
            a = left(data, ctx)
        except PathMissing:
            raise FieldFailure(left_missing) from None
        try:
            b = right(data, ctx)
        except PathMissing:
            raise FieldFailure(right_missing) from None
        return check(a, b)

    return compare_references


def _not(inner: ChoicePredicate) -> ChoicePredicate:
    def negation(data: JSON, ctx: ExecutionContext) -> bool:
        return not inner(data, ctx)

    return negation


def _all_of(parts: list[ChoicePredicate]) -> ChoicePredicate:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts

        def both(data: JSON, ctx: ExecutionContext) -> bool:
            return first(data, ctx) and second(data, ctx)

        return both
    if len(parts) == 3:
        one, two, three = parts

        def all_three(data: JSON, ctx: ExecutionContext) -> bool:
            return one(data, ctx) and two(data, ctx) and three(data, ctx)

        return all_three
    members = tuple(parts)

    def every(data: JSON, ctx: ExecutionContext) -> bool:
        for member in members:  # noqa: SIM110 - all() over a generator costs a frame per rule
            if not member(data, ctx):
                return False
        return True

    return every


def _any_of(parts: list[ChoicePredicate]) -> ChoicePredicate:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts

        def either(data: JSON, ctx: ExecutionContext) -> bool:
            return first(data, ctx) or second(data, ctx)

        return either
    if len(parts) == 3:
        one, two, three = parts

        def any_of_three(data: JSON, ctx: ExecutionContext) -> bool:
            return one(data, ctx) or two(data, ctx) or three(data, ctx)

        return any_of_three
    members = tuple(parts)

    def some(data: JSON, ctx: ExecutionContext) -> bool:
        for member in members:  # noqa: SIM110 - any() over a generator costs a frame per rule
            if member(data, ctx):
                return True
        return False

    return some


def _identity(value: JSON) -> JSON:
    return value


# ----------------------------------------------------------------------------- diagnostics
def _problem(problems: list[Diagnostic], at: str, message: str) -> None:
    problems.append(Diagnostic(_CODE, message, at))


def _unknown_field(key: str) -> str:
    if key == "Condition":
        return "'Condition' belongs to JSONata Choice rules; with JSONPath use 'Variable' and an operator"
    close = difflib.get_close_matches(key, sorted(_OPERATORS | _INERT | set(_COMBINATORS)), n=1)
    return f"unknown field {key!r}" + (f"; did you mean {close[0]!r}?" if close else "")


def _child(pointer: str, key: str) -> str:
    return f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"


def _show(value: Any) -> str:
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
