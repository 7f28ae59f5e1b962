"""JSONata expressions (``"{% ... %}"``), compiled once and evaluated with AWS's semantics.

Library: ``jsonatapy`` (Rust, through PyO3), alone. Measured on small inputs it
evaluates ``$states.input.a`` in about 2 us and a ``$sum`` or an object construction in
3-5 us, where ``jsonata-python`` (pure Python) takes 14-60 us; jsonatapy's time is mostly
the conversion of the bindings, so it grows with the size of ``$states.input``. Its
authors run it against the whole jsonata-js test suite, and it agrees with AWS where the
Java port behind ``jsonata-python`` does not (``$count(null)`` is 1 on AWS and in
jsonatapy, 0 in the port). It can call Python functions registered on an expression,
which is how AWS's functions are added. Its two gaps are closed here, so a second
library is not needed: ``evaluate`` answers ``None`` for both JSON null and "nothing",
so a ``None`` result is asked again through ``evaluate_json_or_none``, which tells them
(and a function result) apart; and a host function cannot return "nothing", so AWS's
functions return a marker that is removed from the result (see
``express.asl.jsonata_functions``). An integer beyond 64 bits, which jsonatapy cannot
take, is handed over as a double, which is also AWS's number model.

Compilation parses the expression (a syntax error is a ``DefinitionError`` with the
field's JSON Pointer), refuses what AWS refuses when a state machine is created (a field
read from the top-level context, ``foo`` or ``$``, which Step Functions does not provide,
see ``express.asl.jsonata_references``; ``$$``; ``$states.errorOutput`` outside a Catch),
registers only the AWS functions it calls, and reads which parts of ``$states`` and
which workflow variables it refers to, so that each evaluation binds just those: an
expression on ``$states.input`` never builds the context object. A plain path
(``$states.input.a.b``, ``$name.a``), the commonest expression, is read directly while it
steps through objects, and handed to the evaluator otherwise.

Run-time failures raise ``QueryFailure`` (``States.QueryEvaluationError``) worded as AWS
words them, naming the expression and the field (``Output/a/b[0]``); the state adds its
"An error occurred while executing the state ..." prefix.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import jsonatapy
import orjson

from express.asl.jsonata_functions import FUNCTIONS, MAY_RETURN_NOTHING, UNDEFINED, disabled_eval
from express.asl.jsonata_references import scan
from express.errors import DefinitionError, Diagnostic, FieldFailure
from express.runtime.context import ExecutionContext
from express.types import JSON

__all__ = [
    "MISSING",
    "QUERY_EVALUATION_ERROR",
    "Expression",
    "QueryFailure",
    "StatesVar",
    "compile_expression",
    "expression_body",
    "is_expression",
    "json_type",
    "references_context",
    "render",
    "unexpected_type",
]

QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
# A bound on one evaluation, so that an expression that never ends cannot stall the engine.
EVALUATION_TIMEOUT_MS = 5_000
MISSING: Any = object()  # a $states member the state does not offer (result before the task ran)


class QueryFailure(FieldFailure):
    """A JSONata expression failed at run time; ``location`` names its field (``Output/a``)."""

    def __init__(self, detail: str, location: str) -> None:
        super().__init__(detail, QUERY_EVALUATION_ERROR)
        self.location = location


class StatesVar:
    """What ``$states`` holds for one evaluation: input, result, errorOutput and context."""

    __slots__ = ("_context", "ctx", "error_output", "input", "result")

    def __init__(
        self, data: JSON, ctx: ExecutionContext, result: JSON = MISSING, error_output: JSON = MISSING
    ) -> None:
        self.input = data
        self.ctx = ctx
        self.result = result
        self.error_output = error_output
        self._context: JSON = MISSING

    def context(self) -> JSON:
        if self._context is MISSING:
            self._context = self.ctx.context_object()
        return self._context


Expression = Callable[[StatesVar], JSON]


def is_expression(value: object) -> bool:
    """A ``{% ... %}`` string: evaluated when the state runs; any other string is literal."""
    return type(value) is str and len(value) >= 4 and value.startswith("{%") and value.endswith("%}")


def expression_body(text: str) -> str:
    """The expression between the delimiters, as AWS quotes it in causes."""
    return text[2:-2].strip()


def json_type(value: JSON) -> str:
    """A value's type as AWS names it in causes: 'null', 'boolean', 'number', ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def render(value: JSON) -> str:
    """Compact JSON text of a value, as causes quote it."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an integer beyond 64 bits
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def unexpected_type(body: str, field: str, expected: str, value: JSON) -> QueryFailure:
    shown = render(value)
    return QueryFailure(
        f"The JSONata expression '{body}' specified for the field '{field}' returned an unexpected "
        f"result type. Expected '{expected}', but was '{json_type(value)}' for value: {shown}",
        field,
    )


# ----------------------------------------------------------------------------- references
# Strings and comments hide what looks like a reference; everything else is scanned.
_SKIPPED = re.compile(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"|/\*.*?\*/", re.DOTALL)
_DOLLARS = re.compile(r"\$\$|\$(\w*)(\s*\()?")
_STATES_MEMBER = re.compile(r"\s*\.\s*(\w+)")
_STATES_MEMBERS = ("input", "result", "errorOutput", "context")


class _References:
    """What one expression refers to, read from its text once."""

    __slots__ = ("calls", "context_root", "states", "variables")

    def __init__(self, body: str) -> None:
        code = _SKIPPED.sub(lambda m: " " * len(m.group()), body)
        self.context_root = False  # $$: the top-level context, which AWS does not offer
        self.calls: set[str] = set()
        self.variables: set[str] = set()
        self.states: set[str] = set()
        for m in _DOLLARS.finditer(code):
            name = m.group(1)
            if name is None:
                self.context_root = True
            elif name == "states":
                member = _STATES_MEMBER.match(code, m.end(1))
                if m.group(2) is None and member is not None and member.group(1) in _STATES_MEMBERS:
                    self.states.add(member.group(1))
                else:
                    self.states.update(_STATES_MEMBERS)  # $states as a whole
            elif name:
                if m.group(2) is not None:
                    self.calls.add(name)
                self.variables.add(name)


def references_context(text: str) -> bool:
    """Whether the expression ``text`` (with delimiters) reads ``$states.context``."""
    return "context" in _References(expression_body(text)).states


# ----------------------------------------------------------------------------- compile
def compile_expression(text: str, field: str, pointer: str, *, error_output: bool = False) -> Expression:
    """Compile ``{% ... %}`` into an evaluator ``(StatesVar) -> value``.

    ``field`` names the field in run-time causes (``Output/a``); ``pointer`` locates it in
    definition errors. ``error_output`` says whether ``$states.errorOutput`` exists here
    (only in a Catch). Raises ``DefinitionError``.
    """
    body = expression_body(text)
    try:
        compiled = jsonatapy.compile(body, timeout=EVALUATION_TIMEOUT_MS)
    except ValueError as exc:
        message = _PARSE_PREFIX.sub("", str(exc))
        raise DefinitionError([Diagnostic("INVALID_JSONATA_EXPRESSION", message, pointer)]) from None
    refs = _References(body)
    problems = _unsupported(body, refs, error_output)
    if problems:
        raise DefinitionError([Diagnostic("UNSUPPORTED_JSONATA_EXPRESSION", m, pointer) for m in problems])
    for name in refs.calls | refs.variables:
        if name in FUNCTIONS:
            compiled.register_override(name, FUNCTIONS[name])
    if "eval" in refs.variables:
        compiled.register_override("eval", disabled_eval)
    cleans = bool(refs.variables & MAY_RETURN_NOTHING)
    variables = tuple(sorted(refs.variables - set(FUNCTIONS) - refs.calls - {"eval"}))
    evaluate = _evaluator(compiled, body, field, _binder(refs.states, variables), cleans)
    return _simple_path(body, field, evaluate) or evaluate


def _unsupported(body: str, refs: _References, error_output: bool) -> list[str]:
    """Why AWS refuses the expression when the state machine is created, in AWS's words.

    A bare field (``foo``, ``foo.bar``, ``$count(items)``) reads the top-level context,
    which Step Functions does not provide (see ``express.asl.jsonata_references``).
    """
    found = scan(body)
    if found is None:  # not parsed: the text scan alone, which only finds $$
        top_level, root = [], refs.context_root
    else:  # the parse also tells a real $$ from one in a regex or a quoted name
        top_level, root = found.top_level, found.root
    problems = [f"Reference to '{name}' at the top level is not supported." for name in top_level]
    if root:
        problems.append("Reference to '$$' is not supported.")
    if "errorOutput" in refs.states and not error_output and not refs.states >= set(_STATES_MEMBERS):
        problems.append(
            "Reference to '$states.errorOutput' is only supported in the 'Output' and 'Assign' of a Catch."
        )
    return problems


# ----------------------------------------------------------------------------- simple paths
# "$states.input.a.b" or "$name.a": most expressions are one of these, and reading them
# needs no JSONata evaluator as long as every step lands on an object.
_SIMPLE_PATH = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)")
_KEYWORDS = frozenset({"and", "or", "in", "true", "false", "null", "function"})


def _simple_path(body: str, field: str, evaluate: Expression) -> Expression | None:
    """A direct reader for a plain path, or None when the expression is anything more.

    A step onto an array (where JSONata maps over the elements) or a result that is an
    array (a sequence, in JSONata's terms) is left to ``evaluate``, so the shortcut never
    answers differently from the evaluator.
    """
    m = _SIMPLE_PATH.fullmatch(body)
    if m is None:
        return None
    root, steps = m.group(1), tuple(m.group(2).split(".")[1:])
    if _KEYWORDS.intersection(steps) or root in FUNCTIONS or root == "eval":
        return None
    nothing = (
        f"The JSONata expression '{body}' specified for the field '{field}' returned nothing (undefined)."
    )
    if root == "states":
        if not steps or steps[0] not in _STATES_MEMBERS:
            return None
        member, steps = steps[0], steps[1:]
        start: Callable[[StatesVar], JSON] = _STATES_READERS[member]
    else:
        name = root

        def start(sv: StatesVar) -> JSON:
            return sv.ctx.variable_or(name, MISSING)

    def read_path(sv: StatesVar) -> JSON:
        value = start(sv)
        for step in steps:
            if type(value) is dict:
                value = value.get(step, MISSING)
            elif type(value) is list:
                return evaluate(sv)
            else:
                value = MISSING
            if value is MISSING:
                break
        if value is MISSING:
            raise QueryFailure(nothing, field)
        if type(value) is list or (type(value) is int and not -_LONG <= value < _LONG):
            return evaluate(sv)
        return value

    return read_path


_STATES_READERS: dict[str, Callable[[StatesVar], JSON]] = {
    "input": lambda sv: sv.input,
    "result": lambda sv: sv.result,
    "errorOutput": lambda sv: sv.error_output,
    "context": StatesVar.context,
}


_PARSE_PREFIX = re.compile(r"^(?:Parse error: )?(?:Invalid syntax: )?(?:[A-Z]\d{4}: )?")
_HOST_PREFIX = re.compile(r"^host function raised \w+: ")


def _binder(members: set[str], variables: tuple[str, ...]) -> Callable[[StatesVar], dict[str, JSON]]:
    """Builds the bindings of one evaluation: only the ``$states`` members and variables used."""
    wants_input = "input" in members
    wants_result = "result" in members
    wants_error = "errorOutput" in members
    wants_context = "context" in members
    if members == {"input"} and not variables:

        def bind_input(sv: StatesVar) -> dict[str, JSON]:
            return {"states": {"input": sv.input}}

        return bind_input

    def bind(sv: StatesVar) -> dict[str, JSON]:
        states: dict[str, JSON] = {}
        if wants_input:
            states["input"] = sv.input
        if wants_result and sv.result is not MISSING:
            states["result"] = sv.result
        if wants_error and sv.error_output is not MISSING:
            states["errorOutput"] = sv.error_output
        if wants_context:
            states["context"] = sv.context()
        bindings: dict[str, JSON] = {"states": states}
        if variables:
            ctx = sv.ctx
            for name in variables:
                value = ctx.variable_or(name, MISSING)
                if value is not MISSING:  # unassigned: the expression sees nothing, as on AWS
                    bindings[name] = value
        return bindings

    return bind


def _evaluator(
    compiled: Any, body: str, field: str, bind: Callable[[StatesVar], dict[str, JSON]], cleans: bool
) -> Expression:
    run = compiled.evaluate
    quoted = f"The JSONata expression '{body}' specified for the field '{field}'"

    def evaluate(sv: StatesVar) -> JSON:
        bindings = bind(sv)
        try:
            try:
                value = run(None, bindings)
            except OverflowError:  # an integer beyond 64 bits: AWS holds it as a double
                bindings = _as_doubles(bindings)
                value = run(None, bindings)
        except ValueError as exc:
            detail = _HOST_PREFIX.sub("", str(exc))
            raise QueryFailure(f"{quoted} threw an error during evaluation. {detail}", field) from None
        if value is None:
            return _none_or_nothing(compiled, bindings, quoted, field)
        if cleans:
            value = _without_undefined(value)
            if value is MISSING:
                raise QueryFailure(f"{quoted} returned nothing (undefined).", field)
        elif type(value) is float and not math.isfinite(value):
            return _non_finite(value)
        return value

    return evaluate


def _none_or_nothing(compiled: Any, bindings: dict[str, JSON], quoted: str, field: str) -> JSON:
    """``evaluate`` said None: JSON null, nothing at all, or a function (off the hot path)."""
    try:
        text = compiled.evaluate_json_or_none(None, bindings)
    except ValueError as exc:  # an impure expression may fail the second time round
        raise QueryFailure(f"{quoted} threw an error during evaluation. {exc}", field) from None
    if text is None:
        raise QueryFailure(f"{quoted} returned nothing (undefined).", field)
    if text == "null":
        return None
    raise QueryFailure(f"{quoted} returned an unsupported result type.", field)


def _non_finite(value: float) -> str:
    # JSON has no literal for these; AWS writes the name JavaScript gives them.
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _without_undefined(value: JSON) -> JSON:
    """Remove the marker AWS's functions return for "nothing", as JSONata drops nothing."""
    if type(value) is str:
        return MISSING if value == UNDEFINED else value
    if type(value) is list:
        return [v for v in (_without_undefined(item) for item in value) if v is not MISSING]
    if type(value) is dict:
        return {
            k: v for k, v in ((k, _without_undefined(item)) for k, item in value.items()) if v is not MISSING
        }
    if type(value) is float and not math.isfinite(value):
        return _non_finite(value)
    return value


_LONG = 2**63


def _as_doubles(value: JSON) -> JSON:
    if type(value) is int:
        return float(value) if not -_LONG <= value < _LONG else value
    if type(value) is list:
        return [_as_doubles(v) for v in value]
    if type(value) is dict:
        return {k: _as_doubles(v) for k, v in value.items()}
    return value
