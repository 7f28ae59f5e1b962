"""What a JSONata expression reads from the top-level context, found by parsing it.

Step Functions evaluates a JSONata expression with no context item: the state input is
``$states.input`` and a workflow variable is ``$name``. A path that starts from neither
reads a context that does not exist, and AWS refuses the definition when the state
machine is created, ``UNSUPPORTED_JSONATA_EXPRESSION: Reference to 'foo' at the top level
is not supported.``, one diagnostic per name, in the order written (``'$'`` for the
context item itself, as in ``$.foo``).

What counts follows from how JSONata evaluates, with the context each part sees:

* the first step of a path (``foo`` in ``foo.bar`` and in ``foo[0]``); a string literal
  that is a step of a ``.`` path is a name (``'foo'.bar`` reads ``foo``);
* the operands of every operator and condition, the items of a block or an array, the
  keys and values of an object constructor (``{foo: 1}`` names ``foo``), a function's
  arguments (``$count(items)``), the right side of ``$x := ...``;
* the body of a lambda, which keeps the context of the expression that defines it
  (``$map($states.input.a, function($v) { b })`` names ``b``).

What is evaluated against another value does not: the later steps of a path
(``$states.input.a.(b + c)``), predicates (``[price > 5]``), sort terms, group-by
objects and transforms. ``*``, ``**`` and ``%`` are not names and are left alone.

The parser follows jsonata's grammar (a Pratt parser with its binding powers) and its
lexer, which reads ``/`` as a regex where an operand is expected, but builds only what
the check needs. It runs on expressions jsonatapy has already accepted; one it still
cannot parse yields None, and the caller then refuses nothing, so that a valid
expression is never refused for a gap in this parser.
"""

from __future__ import annotations

import re

__all__ = ["Scan", "scan"]

_WHITESPACE = " \t\n\r\v"
_SINGLE = frozenset(".[]{}(),@#;:?+-*/%|=<>^&!~")  # also end a name
_DOUBLE = frozenset({"..", ":=", "!=", ">=", "<=", "**", "~>", "?:", "??"})
_NUMBER = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[Ee][-+]?[0-9]+)?")
_REGEX_FLAGS = re.compile(r"[a-z]*")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_KEYWORD_OPERATORS = frozenset({"and", "or", "in"})

# Left binding powers of the infix operators (jsonata's table); anything else binds 0.
_INFIX = {
    ".": 75,
    "[": 80,
    "(": 80,
    "{": 70,
    "@": 80,
    "#": 80,
    "^": 40,
    "?": 20,
    ":=": 10,
    "+": 50,
    "-": 50,
    "&": 50,
    "*": 60,
    "/": 60,
    "%": 60,
    "=": 40,
    "!=": 40,
    "<": 40,
    "<=": 40,
    ">": 40,
    ">=": 40,
    "~>": 40,
    "in": 40,
    "?:": 40,
    "??": 40,
    "and": 30,
    "or": 25,
}
# Node kinds whose first part is a step that the others decorate, evaluated on its value.
_DECORATED = frozenset({"predicate", "group", "sort", "focus", "index"})
# Node kinds all of whose parts are evaluated in the context the node itself sees.
_SAME_CONTEXT = frozenset({"binary", "unary", "block", "array", "object", "call", "lambda", "condition"})


class Scan:
    """What one expression reads: top-level names in order, and whether it uses ``$$``."""

    __slots__ = ("root", "top_level")

    def __init__(self, top_level: list[str], root: bool) -> None:
        self.top_level = top_level
        self.root = root


def scan(body: str) -> Scan | None:
    """The references of ``body`` (an expression without its delimiters); None if unparsed."""
    try:
        parser = _Parser(body)
        tree = parser.expression(0)
        if parser.kind != "end":
            return None
        names: dict[str, None] = {}
        _top_level(tree, names)
    except (_Unparsed, RecursionError):  # nested deeper than Python's stack
        return None
    return Scan(list(names), "$" in parser.lexer.variables)


class _Unparsed(Exception):
    """The text is outside the grammar this parser knows."""


class _Node:
    __slots__ = ("kind", "parts", "value")

    def __init__(self, kind: str, value: str = "", parts: tuple[_Node, ...] = ()) -> None:
        self.kind = kind
        self.value = value
        self.parts = parts


_OTHER = _Node("other")  # a literal, a regex, a wildcard: reads no name


def _top_level(node: _Node, names: dict[str, None]) -> None:
    """Add to ``names`` what ``node`` reads when evaluated against the top-level context."""
    kind = node.kind
    if kind == "name":
        names[node.value] = None
    elif kind == "variable":
        if node.value == "":
            names["$"] = None
    elif kind == "path":
        first = node
        while first.kind == "path" or first.kind in _DECORATED:
            first = first.parts[0]
        if first.kind == "string":
            names[first.value] = None
        else:
            _top_level(first, names)
    elif kind in _DECORATED:
        _top_level(node.parts[0], names)
    elif kind == "bind":
        _top_level(node.parts[1], names)
    elif kind in _SAME_CONTEXT:
        for part in node.parts:
            _top_level(part, names)


class _Lexer:
    """jsonata's tokens, read on demand: whether ``/`` starts a regex depends on the parser."""

    __slots__ = ("pos", "text", "variables")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.variables: set[str] = set()

    def next(self, infix: bool) -> tuple[str, str]:
        text, n = self.text, len(self.text)
        i = self.pos
        while True:
            while i < n and text[i] in _WHITESPACE:
                i += 1
            if not text.startswith("/*", i):
                break
            end = text.find("*/", i + 2)
            if end < 0:
                raise _Unparsed
            i = end + 2
        if i >= n:
            self.pos = i
            return "end", ""
        ch = text[i]
        if ch == "/" and not infix:
            return self._regex(i + 1)
        if text[i : i + 2] in _DOUBLE:
            self.pos = i + 2
            return "op", text[i : i + 2]
        if ch in _SINGLE:
            self.pos = i + 1
            return "op", ch
        if ch in "\"'":
            return self._string(i + 1, ch)
        if "0" <= ch <= "9":
            number = _NUMBER.match(text, i)
            assert number is not None  # a digit matches on its own
            self.pos = number.end()
            return "literal", number.group()
        if ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise _Unparsed
            self.pos = end + 1
            return "name", text[i + 1 : end]
        j = i
        while j < n and text[j] not in _WHITESPACE and text[j] not in _SINGLE:
            j += 1
        self.pos = j
        word = text[i:j]
        if word.startswith("$"):
            self.variables.add(word[1:])
            return "variable", word[1:]
        if word in _KEYWORD_OPERATORS:
            return "op", word
        if word in ("true", "false", "null"):
            return "literal", word
        return "name", word

    def _regex(self, start: int) -> tuple[str, str]:
        # Ends at the first '/' not escaped, as jsonatapy reads it.
        text = self.text
        j = start
        while j < len(text):
            if text[j] == "\\":
                j += 2
                continue
            if text[j] == "/":
                flags = _REGEX_FLAGS.match(text, j + 1)
                assert flags is not None  # matches the empty string
                self.pos = flags.end()
                return "literal", text[start:j]
            j += 1
        raise _Unparsed

    def _string(self, start: int, quote: str) -> tuple[str, str]:
        text = self.text
        out: list[str] = []
        j = start
        while j < len(text):
            ch = text[j]
            if ch == quote:
                self.pos = j + 1
                return "string", "".join(out)
            if ch == "\\":
                escape = text[j + 1 : j + 2]
                if escape == "u" and _HEX4.fullmatch(text, j + 2, j + 6):
                    out.append(chr(int(text[j + 2 : j + 6], 16)))
                    j += 6
                    continue
                if escape not in _ESCAPES:
                    raise _Unparsed
                out.append(_ESCAPES[escape])
                j += 2
                continue
            out.append(ch)
            j += 1
        raise _Unparsed


class _Parser:
    """A Pratt parser over jsonata's grammar; ``kind``/``value`` is the current token."""

    __slots__ = ("kind", "lexer", "value")

    def __init__(self, text: str) -> None:
        self.lexer = _Lexer(text)
        self.kind, self.value = self.lexer.next(infix=False)

    def at(self, op: str) -> bool:
        return self.kind == "op" and self.value == op

    def advance(self, expected: str | None = None, *, infix: bool = False) -> None:
        """Step past the current token; ``infix``: an operand ends here (``/`` divides)."""
        if expected is not None and not self.at(expected):
            raise _Unparsed
        self.kind, self.value = self.lexer.next(infix)

    def expression(self, rbp: int) -> _Node:
        kind, value = self.kind, self.value
        operand = kind != "op" or value in ("*", "**", "%")
        self.advance(infix=operand)
        left = self._prefix(kind, value)
        while self.kind == "op" and rbp < _INFIX.get(self.value, 0):
            op = self.value
            self.advance()
            left = self._infix(op, left)
        return left

    def _prefix(self, kind: str, value: str) -> _Node:
        if kind in ("name", "variable", "string"):
            return _Node(kind, value)
        if kind == "literal":
            return _OTHER
        if kind != "op":
            raise _Unparsed
        if value in _KEYWORD_OPERATORS:  # 'and', 'or' and 'in' are field names here
            return _Node("name", value)
        if value == "-":
            return _Node("unary", parts=(self.expression(70),))
        if value in ("*", "**", "%"):
            return _OTHER
        if value == "(":
            return _Node("block", parts=self._sequence(";", ")"))
        if value == "[":
            return _Node("array", parts=self._items())
        if value == "{":
            return _Node("object", parts=self._pairs())
        if value == "|":
            pattern = self.expression(0)
            self.advance("|")
            parts = [pattern, self.expression(0)]
            if self.at(","):
                self.advance()
                parts.append(self.expression(0))
            self.advance("|", infix=True)
            return _Node("transform", parts=tuple(parts))
        raise _Unparsed

    def _infix(self, op: str, left: _Node) -> _Node:
        if op == ".":
            return _Node("path", parts=(left, self.expression(75)))
        if op == "[":
            if self.at("]"):  # a[]: keep the singleton array
                self.advance(infix=True)
                return left
            predicate = self.expression(0)
            self.advance("]", infix=True)
            return _Node("predicate", parts=(left, predicate))
        if op == "{":
            return _Node("group", parts=(left, *self._pairs()))
        if op == "(":
            return self._call(left)
        if op == "^":
            self.advance("(")
            terms = [left]
            while True:
                if self.at("<") or self.at(">"):
                    self.advance()
                terms.append(self.expression(0))
                if not self.at(","):
                    break
                self.advance()
            self.advance(")", infix=True)
            return _Node("sort", parts=tuple(terms))
        if op in ("@", "#"):
            bound = self.expression(80)
            if bound.kind != "variable":
                raise _Unparsed
            return _Node("focus" if op == "@" else "index", parts=(left, bound))
        if op == "?":
            parts = [left, self.expression(0)]
            if self.at(":"):
                self.advance()
                parts.append(self.expression(0))
            return _Node("condition", parts=tuple(parts))
        if op == ":=":
            if left.kind != "variable":
                raise _Unparsed
            return _Node("bind", parts=(left, self.expression(_INFIX[":="] - 1)))
        return _Node("binary", value=op, parts=(left, self.expression(_INFIX[op])))

    def _call(self, procedure: _Node) -> _Node:
        arguments: list[_Node] = []
        if not self.at(")"):
            while True:
                if self.at("?"):  # a placeholder of a partial application
                    self.advance()
                else:
                    arguments.append(self.expression(0))
                if not self.at(","):
                    break
                self.advance()
        self.advance(")", infix=True)
        if procedure.kind != "name" or procedure.value not in ("function", "λ"):
            return _Node("call", parts=(procedure, *arguments))
        if any(argument.kind != "variable" for argument in arguments):
            raise _Unparsed
        if self.at("<"):  # a signature, such as <n-n:n> or <a<s>:a<s>>
            depth = 1
            while depth:
                self.advance()
                if self.kind == "end":
                    raise _Unparsed
                depth += self.at("<") - self.at(">")
            self.advance(">")
        self.advance("{")
        body = self.expression(0)
        self.advance("}", infix=True)
        return _Node("lambda", parts=(body,))

    def _sequence(self, separator: str, closing: str) -> tuple[_Node, ...]:
        items: list[_Node] = []
        while not self.at(closing):
            items.append(self.expression(0))
            if not self.at(separator):
                break
            self.advance()
        self.advance(closing, infix=True)
        return tuple(items)

    def _items(self) -> tuple[_Node, ...]:
        """An array constructor's items; ``a..b`` is a range of two operands."""
        items: list[_Node] = []
        while not self.at("]"):
            item = self.expression(0)
            if self.at(".."):
                self.advance()
                item = _Node("binary", value="..", parts=(item, self.expression(0)))
            items.append(item)
            if not self.at(","):
                break
            self.advance()
        self.advance("]", infix=True)
        return tuple(items)

    def _pairs(self) -> tuple[_Node, ...]:
        """An object constructor's (or a group-by's) keys and values, flattened."""
        parts: list[_Node] = []
        while not self.at("}"):
            parts.append(self.expression(0))
            self.advance(":")
            parts.append(self.expression(0))
            if not self.at(","):
                break
            self.advance()
        self.advance("}", infix=True)
        return tuple(parts)
