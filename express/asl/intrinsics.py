"""Intrinsic function calls (``States.Format('Hi {}', $.name)``), parsed once into closures.

A hand-written recursive-descent parser reads the call expression of a JSONPath-mode
payload template field (``"key.$": "States.X(...)"``) when the definition is compiled.
Arguments are string literals in single quotes (escapes ``\\'``, ``\\{``, ``\\}``,
``\\\\``; any other backslash pair is kept as written), numbers, ``true``, ``false``,
``null``, paths into the state input (``$.a``), into the context object (``$$.a``),
variables (``$name``, through the caller's resolver) and nested calls.

Compile time does all the static work: it rejects bad syntax, unknown names and wrong
argument counts with ``IntrinsicSyntaxError`` (a caret under the failing token), compiles
each path into a direct getter, splits a literal ``States.Format`` template at its
placeholders, and folds calls on literals that give a scalar. At run time the returned
closure only evaluates getters and calls the functions of ``intrinsics_functions``.

Run-time failures are ``FieldFailure``: ``States.IntrinsicFailure`` for bad arguments,
``States.Runtime`` (as ``IntrinsicPathMissing``) for a path argument with no value.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

from express.asl.intrinsics_functions import FUNCTIONS, Function, compile_format
from express.asl.paths import PathMissing, PathSyntaxError, compile_reference
from express.errors import FieldFailure
from express.runtime.context import ExecutionContext
from express.types import JSON

__all__ = [
    "FUNCTION_NAMES",
    "IntrinsicFn",
    "IntrinsicPathMissing",
    "IntrinsicSyntaxError",
    "VariableResolver",
    "compile_intrinsic",
    "looks_like_intrinsic",
]

IntrinsicFn: TypeAlias = Callable[[JSON, ExecutionContext], JSON]
# Compiles a variable reference (``$name``, ``$name.a[0]``) into an evaluator; may raise
# PathSyntaxError or ValueError for a malformed reference.
VariableResolver: TypeAlias = Callable[[str], Callable[[JSON, Any], JSON]]

FUNCTION_NAMES: tuple[str, ...] = tuple(FUNCTIONS)

# Deep nesting is legal up to AWS's limit; this only keeps the parser's recursion bounded.
MAX_DEPTH = 64


class IntrinsicSyntaxError(ValueError):
    """The text is not a valid intrinsic call; ``column`` is the 0-based offset of the bad token."""

    def __init__(self, text: str, column: int, reason: str) -> None:
        self.text = text
        self.column = column
        self.reason = reason
        shown = "".join(" " if ch < " " else ch for ch in text)  # keep the caret aligned
        super().__init__(
            f"invalid intrinsic function call: {reason} (column {column})\n  {shown}\n  {' ' * column}^"
        )


class IntrinsicPathMissing(FieldFailure):
    """A path argument selects nothing: ``States.Runtime``, quoting Jayway's message."""

    def __init__(self, path: str, jayway: str) -> None:
        super().__init__(f"Invalid path '{path}' : {jayway}", "States.Runtime")
        self.path = path
        self.jayway = jayway


def looks_like_intrinsic(text: str) -> bool:
    """True when ``text`` is meant as an intrinsic call rather than a path."""
    return isinstance(text, str) and text.startswith("States.")


def compile_intrinsic(text: str, *, variables: VariableResolver | None = None) -> IntrinsicFn:
    """Compile ``text`` into ``(state_input, ctx) -> value``; raises ``IntrinsicSyntaxError``."""
    parser = _Parser(text, variables)
    body = parser.parse()
    fn = body.value_fn() if isinstance(body, _Const) else body.fn
    if not parser.input_paths:
        return fn

    def run(data: JSON, ctx: ExecutionContext) -> JSON:
        try:
            return fn(data, ctx)
        except PathMissing as exc:  # only input paths get here: _guarded words the others
            raise IntrinsicPathMissing(exc.path, exc.jayway) from None

    return run


# ----------------------------------------------------------------------------- compiled arguments
@dataclass(frozen=True)
class _Const:
    """A literal, or a call folded at compile time. ``pieces``: a string split at unescaped ``{}``."""

    value: JSON
    pieces: tuple[str, ...] | None = None

    def value_fn(self) -> IntrinsicFn:
        value = self.value

        def constant(data: JSON, ctx: ExecutionContext) -> JSON:
            return value

        return constant


@dataclass(frozen=True)
class _Dynamic:
    fn: IntrinsicFn


_Arg = _Const | _Dynamic

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_SPACE = " \t\r\n"
_ESCAPED = "'{}\\"


class _Parser:
    def __init__(self, text: str, variables: VariableResolver | None) -> None:
        if not isinstance(text, str):
            raise IntrinsicSyntaxError(str(text), 0, "an intrinsic function call must be a string")
        self.text = text
        self.variables = variables
        self.input_paths = False

    def error(self, column: int, reason: str) -> IntrinsicSyntaxError:
        return IntrinsicSyntaxError(self.text, column, reason)

    def parse(self) -> _Arg:
        if not self.text.startswith("States."):
            raise self.error(0, "expected an intrinsic function call such as States.Format(...)")
        result, end = self.call(0, 1)
        end = self.skip_space(end)
        if end < len(self.text):
            raise self.error(end, f"unexpected {self.text[end]!r} after the end of the call")
        return result

    def skip_space(self, i: int) -> int:
        while i < len(self.text) and self.text[i] in _SPACE:
            i += 1
        return i

    # --------------------------------------------------------------------- calls
    def call(self, start: int, depth: int) -> tuple[_Arg, int]:
        if depth > MAX_DEPTH:
            raise self.error(start, f"calls are nested more than {MAX_DEPTH} deep")
        m = _NAME.match(self.text, start)
        name = m.group() if m else ""
        function = FUNCTIONS.get(name)
        if function is None:
            close = difflib.get_close_matches(name, FUNCTIONS, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise self.error(start, f"unknown intrinsic function {name!r}{hint}")
        i = self.skip_space(start + len(name))
        if i >= len(self.text) or self.text[i] != "(":
            raise self.error(i, f"expected '(' after {name}")
        args, columns, end = self.arguments(i, name, depth)
        self.check_arity(function, args, columns, start)
        return self.bind(function, args, columns[0] if columns else start), end

    def arguments(self, open_at: int, name: str, depth: int) -> tuple[list[_Arg], list[int], int]:
        args: list[_Arg] = []
        columns: list[int] = []
        i = self.skip_space(open_at + 1)
        if i < len(self.text) and self.text[i] == ")":
            return args, columns, i + 1
        while True:
            if i >= len(self.text):
                raise self.error(len(self.text), f"the call to {name} is not closed: ')' is missing")
            columns.append(i)
            arg, i = self.argument(i, depth)
            args.append(arg)
            i = self.skip_space(i)
            if i >= len(self.text):
                raise self.error(len(self.text), f"the call to {name} is not closed: ')' is missing")
            if self.text[i] == ")":
                return args, columns, i + 1
            if self.text[i] != ",":
                raise self.error(i, f"expected ',' or ')' in the call to {name}, found {self.text[i]!r}")
            i = self.skip_space(i + 1)
            if i < len(self.text) and self.text[i] == ")":
                raise self.error(i, "an argument is missing after ','")

    def check_arity(self, function: Function, args: list[_Arg], columns: list[int], start: int) -> None:
        low, high = function.min_args, function.max_args
        if low <= len(args) and (high is None or len(args) <= high):
            return
        if high is None:
            wanted = f"at least {low} argument{'s' if low != 1 else ''}"
        elif low == high:
            wanted = f"{low} argument{'s' if low != 1 else ''}"
        else:
            wanted = f"{low} to {high} arguments"
        column = columns[high] if high is not None and len(args) > high else start
        raise self.error(column, f"{function.name} takes {wanted}, but {len(args)} were given")

    # --------------------------------------------------------------------- arguments
    def argument(self, i: int, depth: int) -> tuple[_Arg, int]:
        text = self.text
        c = text[i]
        if c == "'":
            return self.string(i)
        if c == "$":
            return self.reference(i)
        if text.startswith("States.", i):
            return self.call(i, depth + 1)
        m = _NUMBER.match(text, i)
        if m:
            end = self.token_end(m.end())
            number = float(m.group()) if m.group(1) or m.group(2) else int(m.group())
            return _Const(number), end
        m = _NAME.match(text, i)
        if m:
            word = m.group()
            if word in _WORDS:
                return _Const(_WORDS[word]), self.token_end(m.end())
            if text.startswith("(", self.skip_space(m.end())):
                raise self.error(
                    i, f"unknown function {word!r}: intrinsic function names start with 'States.'"
                )
            raise self.error(i, f"unexpected {word!r}: a literal string needs single quotes")
        raise self.error(i, f"unexpected {c!r}: expected a string, number, true, false, null, path or call")

    def token_end(self, end: int) -> int:
        if end < len(self.text) and self.text[end] not in ",)" + _SPACE:
            raise self.error(end, f"unexpected {self.text[end]!r}")
        return end

    def string(self, start: int) -> tuple[_Const, int]:
        text = self.text
        pieces: list[str] = []
        out: list[str] = []
        i = start + 1
        while i < len(text):
            c = text[i]
            if c == "\\":
                if i + 1 >= len(text):
                    raise self.error(i, "a lone '\\' at the end: write '\\\\' for a backslash")
                following = text[i + 1]
                out.append(following if following in _ESCAPED else c + following)
                i += 2
            elif c == "'":
                pieces.append("".join(out))
                return _Const("{}".join(pieces), tuple(pieces)), i + 1
            elif c == "{" and text.startswith("{}", i):
                pieces.append("".join(out))  # an unescaped placeholder, for States.Format
                out = []
                i += 2
            else:
                out.append(c)
                i += 1
        raise self.error(start, "the string is not closed: a closing ' is missing")

    def reference(self, start: int) -> tuple[_Dynamic, int]:
        end = self.path_end(start)
        path = self.text[start:end]
        try:
            if path.startswith("$$"):
                return _Dynamic(_guarded(path, compile_reference(path))), end
            if path == "$" or not (path[1].isalpha() or path[1] == "_"):
                self.input_paths = True
                return _Dynamic(compile_reference(path)), end
            if self.variables is None:
                raise self.error(start, f"variable {path!r} cannot be used here")
            return _Dynamic(_guarded(path, self.variables(path))), end
        except PathSyntaxError as exc:
            offset = 1 if path.startswith("$$") else 0
            raise self.error(start + offset + exc.column, exc.reason) from None
        except IntrinsicSyntaxError:
            raise
        except ValueError as exc:
            raise self.error(start, str(exc)) from None

    def path_end(self, start: int) -> int:
        """Where a path argument ends: at ',', ')' or white space outside brackets and quotes."""
        text = self.text
        open_brackets: list[str] = []
        quote = ""
        i = start
        while i < len(text):
            c = text[i]
            if quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = ""
            elif c in "'\"" and open_brackets:
                quote = c
            elif c in "[(":
                open_brackets.append("]" if c == "[" else ")")
            elif c in "])":
                if not open_brackets:
                    if c == ")":
                        break  # the end of the call
                elif open_brackets.pop() != c:
                    raise self.error(i, f"unexpected {c!r} in the path")
            elif not open_brackets and (c == "," or c in _SPACE):
                break
            i += 1
        if quote or open_brackets:
            raise self.error(start, "the path is not closed: a bracket or quote is missing")
        return i

    # --------------------------------------------------------------------- binding
    def bind(self, function: Function, args: list[_Arg], first_column: int) -> _Arg:
        impl = function.impl
        if function.name == "States.Format" and isinstance(args[0], _Const):
            template = args[0]
            if type(template.value) is not str:
                raise self.error(first_column, "the first argument of States.Format must be a string")
            pieces = template.pieces or tuple(template.value.split("{}"))  # folded calls have no pieces
            if len(pieces) != len(args):
                raise self.error(
                    first_column,
                    f"the template has {len(pieces) - 1} '{{}}' placeholder(s) "
                    f"but {len(args) - 1} value(s) follow it",
                )
            impl, args = compile_format(pieces), args[1:]
        if function.pure and all(isinstance(a, _Const) for a in args):
            folded = _fold(impl, [a.value for a in args])  # type: ignore[union-attr]
            if folded is not None:
                return folded
        return _Dynamic(_call(impl, args))


_WORDS: dict[str, JSON] = {"true": True, "false": False, "null": None}
_IMMUTABLE = (str, int, float, bool, type(None))


def _fold(impl: Callable[..., JSON], values: list[JSON]) -> _Arg | None:
    """Evaluate a call on literals now. Containers are not folded: the caller may change them."""
    try:
        value = impl(*values)
    except FieldFailure as exc:
        detail, error = exc.detail, exc.error

        def fail(data: JSON, ctx: ExecutionContext) -> JSON:
            raise FieldFailure(detail, error)

        return _Dynamic(fail)
    return _Const(value) if isinstance(value, _IMMUTABLE) else None


def _guarded(path: str, get: Callable[[JSON, Any], JSON]) -> IntrinsicFn:
    """Word a missing context-object or variable path as AWS does, naming the path as written."""

    def guarded(data: JSON, ctx: ExecutionContext) -> JSON:
        try:
            return get(data, ctx)
        except PathMissing as exc:
            raise IntrinsicPathMissing(path, exc.jayway) from None

    return guarded


def _call(impl: Callable[..., JSON], args: list[_Arg]) -> IntrinsicFn:
    """A closure calling ``impl`` with literals pre-bound and the other arguments evaluated."""
    if not args:

        def call0(data: JSON, ctx: ExecutionContext) -> JSON:
            return impl()

        return call0
    if len(args) == 1:
        (a,) = args
        if isinstance(a, _Const):
            k = a.value

            def call_k(data: JSON, ctx: ExecutionContext) -> JSON:
                return impl(k)

            return call_k
        f = a.fn

        def call_f(data: JSON, ctx: ExecutionContext) -> JSON:
            return impl(f(data, ctx))

        return call_f
    if len(args) == 2:
        a, b = args
        if isinstance(a, _Dynamic) and isinstance(b, _Dynamic):
            fa, fb = a.fn, b.fn

            def call_ff(data: JSON, ctx: ExecutionContext) -> JSON:
                return impl(fa(data, ctx), fb(data, ctx))

            return call_ff
        if isinstance(a, _Dynamic) and isinstance(b, _Const):
            fa, kb = a.fn, b.value

            def call_fk(data: JSON, ctx: ExecutionContext) -> JSON:
                return impl(fa(data, ctx), kb)

            return call_fk
        if isinstance(a, _Const) and isinstance(b, _Dynamic):
            ka, fb = a.value, b.fn

            def call_kf(data: JSON, ctx: ExecutionContext) -> JSON:
                return impl(ka, fb(data, ctx))

            return call_kf
    template = [a.value if isinstance(a, _Const) else None for a in args]
    dynamic = tuple((i, a.fn) for i, a in enumerate(args) if isinstance(a, _Dynamic))

    def call_n(data: JSON, ctx: ExecutionContext) -> JSON:
        values = template.copy()
        for i, f in dynamic:
            values[i] = f(data, ctx)
        return impl(*values)

    return call_n
