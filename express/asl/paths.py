"""JSONPath, parsed once and compiled into plain getters and setters.

A path is parsed into segments when the definition is compiled. A *definite* path
(names and indexes only: ``$.a.b[0]``, ``$['odd key']``) becomes a getter that walks the
document directly and raises ``PathMissing`` when a step is absent, as Jayway (the
library AWS uses) does. An *indefinite* path (wildcards, slices, unions, recursive
descent, filters) returns the list of every match, empty when nothing matches; only
filter expressions are handed to jsonpath-rw-ext, parsed once per expression text.

A reference path (``compile_reference``) may also start from a workflow variable
(``$name.a[0]``), which the running execution resolves through ``ctx.variable(name)``.

Invariants: nothing here parses while records flow; getters never mutate their input;
the setter copies every container it changes (copy-on-write), so documents shared with
other states, branches or the context object stay as they were.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from express.types import JSON, Getter

__all__ = [
    "Descendant",
    "Filter",
    "PathMissing",
    "PathSyntaxError",
    "Slice",
    "Union",
    "Wildcard",
    "compile_getter",
    "compile_probe",
    "compile_reference",
    "compile_setter",
    "compile_variable_reference",
    "is_definite",
    "is_variable_reference",
    "jayway_path",
    "parse_path",
    "top_level_key",
]


class PathSyntaxError(ValueError):
    """The text is not a JSONPath; ``column`` is the 0-based offset of the bad token."""

    def __init__(self, text: str, column: int, reason: str) -> None:
        self.text = text
        self.column = column
        self.reason = reason
        caret = " " * column + "^"
        super().__init__(f"invalid JSONPath {text!r}: {reason} at column {column}\n  {text}\n  {caret}")


class PathMissing(Exception):
    """A definite path has no value in the document.

    ``jayway`` is Jayway's own message (``No results for path: $['x']`` or
    ``Missing property in path $['a']``), which AWS quotes in its causes. It is worked
    out only when asked for: a Choice testing IsPresent raises and drops these often.
    """

    def __init__(self, path: str, segments: tuple[str | int, ...] = (), doc: JSON = None) -> None:
        super().__init__(path)
        self.path = path
        self._segments = segments
        self._doc = doc

    @property
    def jayway(self) -> str:
        segments, doc = self._segments, self._doc
        for depth, step in enumerate(segments):
            found, doc = _step(doc, step)
            if not found:
                if depth == len(segments) - 1:
                    break
                return f"Missing property in path {jayway_path(segments[: depth + 1])}"
        return f"No results for path: {jayway_path(segments)}"

    def __str__(self) -> str:
        return self.jayway


@dataclass(frozen=True)
class Wildcard:
    """``.*`` or ``[*]``: every member of an object or element of an array."""


@dataclass(frozen=True)
class Slice:
    start: int | None
    end: int | None
    step: int | None


@dataclass(frozen=True)
class Union:
    """``[0,2]`` or ``['a','b']``."""

    members: tuple[str | int, ...]


@dataclass(frozen=True)
class Descendant:
    """``..name`` / ``..*``: search at every depth (``name`` None for the wildcard)."""

    name: str | int | None


@dataclass(frozen=True)
class Filter:
    """``[?(...)]``, evaluated by jsonpath-rw-ext."""

    expression: str


Segment = str | int | Wildcard | Slice | Union | Descendant | Filter

_NAME_END = re.compile(r"[.\[\s]")
_INT = re.compile(r"-?\d+")


@functools.lru_cache(maxsize=4096)
def parse_path(text: str) -> tuple[Segment, ...]:
    """Parse ``$...`` (the caller strips one ``$`` of a ``$$`` context path first)."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathSyntaxError(str(text), 0, "a path must start with '$'")
    segments: list[Segment] = []
    i, n = 1, len(text)
    while i < n:
        c = text[i]
        if c == ".":
            if text.startswith("..", i):
                i += 2
                if i < n and text[i] == "[":
                    seg, i = _parse_bracket(text, i)
                    if isinstance(seg, (str, int)):
                        segments.append(Descendant(seg))
                    elif isinstance(seg, Wildcard):
                        segments.append(Descendant(None))
                    else:
                        raise PathSyntaxError(text, i, "only a name or * may follow '..'")
                    continue
                name, i = _parse_name(text, i)
                segments.append(Descendant(None if name == "*" else name))
                continue
            name, i = _parse_name(text, i + 1)
            if name == "*":
                segments.append(Wildcard())
            elif i < n and text.startswith("()", i):
                raise PathSyntaxError(text, i - len(name), f"function {name}() is not supported")
            else:
                segments.append(name)
        elif c == "[":
            seg, i = _parse_bracket(text, i)
            segments.append(seg)
        else:
            raise PathSyntaxError(text, i, f"unexpected {c!r}")
    return tuple(segments)


def _parse_name(text: str, i: int) -> tuple[str, int]:
    m = _NAME_END.search(text, i)
    end = m.start() if m else len(text)
    if end == i:
        raise PathSyntaxError(text, i, "a name is missing")
    if m and text[end].isspace():
        raise PathSyntaxError(text, end, "white space in a path")
    return text[i:end], end


def _parse_bracket(text: str, i: int) -> tuple[Segment, int]:
    start = i
    i += 1
    n = len(text)
    if text.startswith("?(", i):
        end = _find_filter_end(text, i)
        return Filter(text[i + 2 : end]), end + 2
    if text.startswith("*]", i):
        return Wildcard(), i + 2
    members: list[str | int] = []
    is_slice = False
    while True:
        while i < n and text[i] == " ":
            i += 1
        if i >= n:
            raise PathSyntaxError(text, start, "'[' is not closed")
        c = text[i]
        if c in "'\"":
            value, i = _parse_quoted(text, i)
            members.append(value)
        else:
            m = re.compile(r"[^\],]*").match(text, i)
            assert m is not None
            token = m.group().strip()
            if ":" in token:
                if members:
                    raise PathSyntaxError(text, i, "a slice cannot be part of a union")
                parts = token.split(":")
                if len(parts) > 3 or not all(p.strip() == "" or _INT.fullmatch(p.strip()) for p in parts):
                    raise PathSyntaxError(text, i, f"bad slice {token!r}")
                bounds = [int(p) if p.strip() else None for p in parts] + [None] * (3 - len(parts))
                if bounds[2] == 0:
                    raise PathSyntaxError(text, i, "a slice step cannot be 0")
                members_slice = Slice(bounds[0], bounds[1], bounds[2])
                i = m.end()
                is_slice = True
            elif _INT.fullmatch(token):
                members.append(int(token))
                i = m.end()
            else:
                raise PathSyntaxError(
                    text, i, f"expected an index, a quoted name, '*' or a slice, found {token!r}"
                )
        while i < n and text[i] == " ":
            i += 1
        if i >= n:
            raise PathSyntaxError(text, start, "'[' is not closed")
        if text[i] == "]":
            i += 1
            break
        if text[i] == "," and not is_slice:
            i += 1
            continue
        raise PathSyntaxError(text, i, f"unexpected {text[i]!r}")
    if is_slice:
        return members_slice, i
    if len(members) == 1:
        return members[0], i
    return Union(tuple(members)), i


def _parse_quoted(text: str, i: int) -> tuple[str, int]:
    quote = text[i]
    out: list[str] = []
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and j + 1 < len(text) and text[j + 1] == quote:
            out.append(quote)  # only the delimiter is escaped; other backslashes are literal
            j += 2
            continue
        if c == quote:
            return "".join(out), j + 1
        out.append(c)
        j += 1
    raise PathSyntaxError(text, i, "quoted name is not closed")


def _find_filter_end(text: str, i: int) -> int:
    depth = 0
    quote = ""
    for j in range(i + 1, len(text)):
        c = text[j]
        if quote:
            if c == quote:
                quote = ""
            continue
        if c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                if not text.startswith(")]", j):
                    raise PathSyntaxError(text, j, "expected ')]' to close the filter")
                return j
    raise PathSyntaxError(text, i, "filter is not closed")


def is_definite(segments: tuple[Segment, ...]) -> bool:
    return all(isinstance(s, (str, int)) for s in segments)


def jayway_path(segments: tuple[Segment, ...] | list[Segment]) -> str:
    """Jayway's normalised form, as AWS quotes it: ``$['a']['b'][0]``."""
    parts = ["$"]
    for s in segments:
        parts.append(f"[{s}]" if isinstance(s, int) else f"['{s}']")
    return "".join(parts)


# ----------------------------------------------------------------------------- getters
def compile_getter(text: str) -> Getter:
    """A getter for ``text`` (a ``$`` path; strip one ``$`` from a ``$$`` path first).

    Definite paths raise ``PathMissing``; indefinite ones return a list of matches.
    """
    segments = parse_path(text)
    if is_definite(segments):
        return _definite_getter(text, segments)  # type: ignore[arg-type]
    return _indefinite_getter(segments)


def top_level_key(text: str) -> str | None:
    """The member name when ``text`` reads one member of the top-level object (``$.name``).

    Most paths in stream workflows are of this shape; compiled code reads them with one
    dictionary lookup instead of a getter call, and falls back to the getter for the error.
    """
    try:
        segments = parse_path(text)
    except PathSyntaxError:
        return None
    if len(segments) == 1 and isinstance(segments[0], str):
        return segments[0]
    return None


def _missing(text: str, segments: tuple[str | int, ...], doc: JSON) -> PathMissing:
    return PathMissing(text, segments, doc)


def compile_probe(text: str) -> Callable[[JSON], bool]:
    """Whether a definite ``$`` path has a value, without raising: Choice's IsPresent."""
    segments = parse_path(text)
    if not is_definite(segments):
        raise PathSyntaxError(text, 0, "a probe needs a definite path")
    if len(segments) == 1 and isinstance(segments[0], str):
        key = segments[0]
        return lambda doc: type(doc) is dict and key in doc
    steps: tuple[str | int, ...] = segments  # type: ignore[assignment]

    def probe(doc: JSON) -> bool:
        for step in steps:
            found, doc = _step(doc, step)
            if not found:
                return False
        return True

    return probe


def _step(doc: JSON, step: str | int) -> tuple[bool, JSON]:
    if isinstance(step, int):
        if type(doc) is list and -len(doc) <= step < len(doc):
            return True, doc[step]
        return False, None
    if type(doc) is dict and step in doc:
        return True, doc[step]
    return False, None


def _definite_getter(text: str, segments: tuple[str | int, ...]) -> Getter:
    if not segments:
        return _identity
    if all(isinstance(s, str) for s in segments):
        if len(segments) == 1:
            (key,) = segments

            def get_key(doc: JSON) -> JSON:
                if type(doc) is dict:
                    try:
                        return doc[key]
                    except KeyError:
                        pass
                raise _missing(text, segments, doc)

            return get_key
        if len(segments) == 2:
            k1, k2 = segments

            def get_key2(doc: JSON) -> JSON:
                inner = doc.get(k1, _ABSENT) if type(doc) is dict else _ABSENT
                if type(inner) is dict:
                    try:
                        return inner[k2]
                    except KeyError:
                        pass
                raise _missing(text, segments, doc)

            return get_key2

        def get_keys(doc: JSON) -> JSON:
            cur = doc
            for key in segments:
                if type(cur) is not dict:
                    raise _missing(text, segments, doc)
                cur = cur.get(key, _ABSENT)
                if cur is _ABSENT:
                    raise _missing(text, segments, doc)
            return cur

        return get_keys

    def get_steps(doc: JSON) -> JSON:
        cur = doc
        for step in segments:
            found, cur = _step(cur, step)
            if not found:
                raise _missing(text, segments, doc)
        return cur

    return get_steps


_ABSENT: Any = object()


def _identity(doc: JSON) -> JSON:
    return doc


def _indefinite_getter(segments: tuple[Segment, ...]) -> Getter:
    steps = [_selector(s) for s in segments]

    def get_all(doc: JSON) -> JSON:
        nodes = [doc]
        for select in steps:
            out: list[JSON] = []
            for node in nodes:
                select(node, out)
            nodes = out
        return nodes

    return get_all


Selector = Callable[[JSON, list[JSON]], None]


def _selector(seg: Segment) -> Selector:
    if isinstance(seg, (str, int)):

        def select_one(node: JSON, out: list[JSON]) -> None:
            found, value = _step(node, seg)
            if found:
                out.append(value)

        return select_one
    if isinstance(seg, Wildcard):

        def select_all(node: JSON, out: list[JSON]) -> None:
            if type(node) is dict:
                out.extend(node.values())
            elif type(node) is list:
                out.extend(node)

        return select_all
    if isinstance(seg, Slice):
        sl = slice(seg.start, seg.end, seg.step)

        def select_slice(node: JSON, out: list[JSON]) -> None:
            if type(node) is list:
                out.extend(node[sl])

        return select_slice
    if isinstance(seg, Union):
        members = seg.members

        def select_union(node: JSON, out: list[JSON]) -> None:
            for m in members:
                found, value = _step(node, m)
                if found:
                    out.append(value)

        return select_union
    if isinstance(seg, Descendant):
        name = seg.name

        def select_descendants(node: JSON, out: list[JSON]) -> None:
            stack = [node]
            while stack:
                cur = stack.pop(0)
                children = list(cur.values()) if type(cur) is dict else cur if type(cur) is list else []
                if name is None:
                    out.extend(children)
                else:
                    found, value = _step(cur, name)
                    if found:
                        out.append(value)
                stack.extend(c for c in children if type(c) in (dict, list))

        return select_descendants
    assert isinstance(seg, Filter)
    return _filter_selector(seg.expression)


def _filter_selector(expression: str) -> Selector:
    import jsonpath_rw_ext  # only definitions with filters pay for the parser tables

    try:
        parsed = jsonpath_rw_ext.parse(f"$[?({expression})]")
    except Exception as exc:  # the library raises bare Exception subclasses of its own
        raise PathSyntaxError(f"[?({expression})]", 0, f"bad filter expression: {exc}") from exc

    def select_filtered(node: JSON, out: list[JSON]) -> None:
        if type(node) is list:
            out.extend(m.value for m in parsed.find(node))
        elif type(node) is dict:
            out.extend(m.value for m in parsed.find(list(node.values())))

    return select_filtered


# ----------------------------------------------------------------------------- setter
class ResultPathMismatch(Exception):
    """ResultPath cannot be applied to this input (a step lands on a non-object)."""


def compile_setter(text: str) -> Callable[[JSON, JSON], JSON]:
    """``set(doc, value)`` returns a copy of ``doc`` with ``value`` at the definite path.

    Missing objects on the way are created; containers on the way are copied, never
    changed in place. A step into a scalar, or an index past an array's end, raises
    ``ResultPathMismatch``.
    """
    segments = parse_path(text)
    if not is_definite(segments):
        raise PathSyntaxError(
            text, 0, "a ResultPath must be a definite path (no wildcards, slices or filters)"
        )
    if not segments:
        return _replace
    if len(segments) == 1 and isinstance(segments[0], str):
        key = segments[0]

        def set_key(doc: JSON, value: JSON) -> JSON:
            if type(doc) is not dict:
                raise ResultPathMismatch(text)
            out = doc.copy()
            out[key] = value
            return out

        return set_key
    steps: tuple[str | int, ...] = segments  # type: ignore[assignment]

    def set_steps(doc: JSON, value: JSON) -> JSON:
        return _set_in(doc, steps, 0, value, text)

    return set_steps


def _replace(doc: JSON, value: JSON) -> JSON:
    return value


def _set_in(doc: JSON, steps: tuple[str | int, ...], depth: int, value: JSON, text: str) -> JSON:
    step = steps[depth]
    last = depth == len(steps) - 1
    if isinstance(step, str):
        if type(doc) is not dict:
            raise ResultPathMismatch(text)
        out = doc.copy()
        out[step] = value if last else _set_in(doc.get(step, {}), steps, depth + 1, value, text)
        return out
    if type(doc) is not list or not -len(doc) <= step < len(doc):
        raise ResultPathMismatch(text)
    items = list(doc)
    items[step] = value if last else _set_in(doc[step], steps, depth + 1, value, text)
    return items


def compile_reference(text: str) -> Callable[[JSON, Any], JSON]:
    """An evaluator ``(state_input, ctx) -> value`` for ``$...``, ``$$...`` (context object)
    or ``$name...`` (a workflow variable).

    The common context fields (``$$.Map.Item.Value``, ``$$.Execution.Name``, ...) are read
    straight from the execution; only other ``$$`` paths build the context document.
    """
    if is_variable_reference(text):
        return compile_variable_reference(text)
    if text.startswith("$$"):
        segments = parse_path(text[1:])
        for prefix, field in _CONTEXT_FIELDS.items():
            if segments[: len(prefix)] == prefix:
                rest = segments[len(prefix) :]
                return _context_field(text, field, rest, segments)
        from_context = compile_getter(text[1:])

        def get_context(data: JSON, ctx: Any) -> JSON:
            return from_context(ctx.context_object())

        return get_context
    from_input = compile_getter(text)

    def get_input(data: JSON, ctx: Any) -> JSON:
        return from_input(data)

    return get_input


def _map_item(index: int) -> Callable[[Any], JSON]:
    def read(ctx: Any) -> JSON:
        item = ctx.map_item
        if item is None:
            return _ABSENT
        return item[index]

    return read


_CONTEXT_FIELDS: dict[tuple[Segment, ...], Callable[[Any], JSON]] = {
    ("Map", "Item", "Value"): _map_item(1),
    ("Map", "Item", "Index"): _map_item(0),
    ("Execution", "Input"): lambda ctx: ctx.input,
    ("Execution", "Name"): lambda ctx: ctx.execution_name,
    ("Execution", "Id"): lambda ctx: ctx.execution_arn,
    ("State", "Name"): lambda ctx: ctx.state_name,
    ("StateMachine", "Name"): lambda ctx: ctx.machine.state_machine_name,
    ("StateMachine", "Id"): lambda ctx: ctx.machine.state_machine_arn,
}


def _context_field(
    text: str, field: Callable[[Any], JSON], rest: tuple[Segment, ...], segments: tuple[Segment, ...]
) -> Callable[[JSON, Any], JSON]:
    if not rest:

        def read_field(data: JSON, ctx: Any) -> JSON:
            value = field(ctx)
            if value is _ABSENT:
                raise PathMissing(text, segments, ctx.context_object())  # type: ignore[arg-type]
            return value

        return read_field
    inner = _definite_getter(text, rest) if is_definite(rest) else _indefinite_getter(rest)  # type: ignore[arg-type]

    def read_within(data: JSON, ctx: Any) -> JSON:
        value = field(ctx)
        if value is _ABSENT:
            raise PathMissing(text, segments, ctx.context_object())  # type: ignore[arg-type]
        try:
            return inner(value)
        except PathMissing:
            raise PathMissing(text, segments, ctx.context_object()) from None  # type: ignore[arg-type]

    return read_within


# ----------------------------------------------------------------------------- variables
_VARIABLE_NAME = re.compile(r"[^\W\d]\w*")


def is_variable_reference(text: str) -> bool:
    """Whether ``text`` reads a workflow variable (``$name``) rather than the input or ``$$``."""
    return len(text) > 1 and text[0] == "$" and (text[1].isalpha() or text[1] == "_")


def compile_variable_reference(text: str) -> Callable[[JSON, Any], JSON]:
    """``$name`` or ``$name.a[0]``: an evaluator ``(state_input, ctx) -> value``.

    The variable is looked up when the state runs (``ctx.variable``). An unassigned one, or
    a definite step that selects nothing, raises ``PathMissing`` worded as if the variables
    were one document: ``No results for path: $['name']``.
    """
    m = _VARIABLE_NAME.match(text, 1) if text.startswith("$") else None
    if m is None:
        raise PathSyntaxError(text, min(1, len(text)), "a variable name must start with a letter or '_'")
    name = m.group()
    rest = "$" + text[m.end() :]
    try:
        segments = parse_path(rest)
    except PathSyntaxError as error:
        raise PathSyntaxError(text, error.column + m.end() - 1, error.reason) from None
    get = compile_getter(rest)
    steps: tuple[str | int, ...] = (name, *segments) if is_definite(segments) else (name,)  # type: ignore[arg-type]

    def read_variable(data: JSON, ctx: Any) -> JSON:
        try:
            value = ctx.variable(name)
        except KeyError:
            raise PathMissing(text, (name,), {}) from None
        try:
            return get(value)
        except PathMissing:
            raise PathMissing(text, steps, {name: value}) from None

    return read_variable
