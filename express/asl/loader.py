"""Definition loading: JSON text, a file or a mapping -> one plain ``dict``.

``load_definition`` is the single way a definition enters the engine. It parses with
orjson; when orjson rejects the text, the json module (slower, but it reports character
positions) is asked where the problem is, so the message names the line and column and
shows the offending line with a caret under it.

Invariants: the result is always a fresh ``dict`` of plain JSON values (str keys, lists,
dicts, str, int, float, bool, None), never the caller's own object; a ``str`` argument is
always JSON text, only an ``os.PathLike`` is read as a file. Two states of the same name
in one ``States`` object are reported here, because a parsed dict has already lost one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import orjson

from express.errors import DefinitionError, Diagnostic

__all__ = ["load_definition"]

_BOM = "\ufeff"


def load_definition(source: str | bytes | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Parse a state machine definition; raise ``DefinitionError`` if it is not a JSON object.

    ``source`` is JSON text (``str`` or ``bytes``), a path to a file holding it
    (``os.PathLike`` only) or a mapping. A file that cannot be read raises ``OSError``.
    """
    if isinstance(source, Mapping):
        return _from_mapping(source)
    if isinstance(source, os.PathLike):
        with open(os.fspath(source), "rb") as f:
            source = f.read()
    if isinstance(source, bytes):
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _invalid_json(
                f"The definition is not UTF-8 text: {exc.reason} at byte {exc.start}", f"byte {exc.start}"
            ) from None
    elif isinstance(source, str):
        text = source
    else:
        raise TypeError(f"cannot load a definition from {type(source).__name__}")
    return _from_text(text.removeprefix(_BOM))


def _from_text(text: str) -> dict[str, Any]:
    if not text.strip():
        raise DefinitionError([Diagnostic("MISSING_DESCRIPTION", "The definition is empty", "/")])
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _locate(text, exc) from None
    if not isinstance(value, dict):
        raise DefinitionError([_not_an_object(value)])
    if '"States"' in text:  # only then can a States object hold the same name twice
        duplicates = _duplicate_states(text)
        if duplicates:
            raise DefinitionError(duplicates)
    return value


def _from_mapping(source: Mapping[str, Any]) -> dict[str, Any]:
    try:
        # A round trip through JSON both copies the caller's object and proves it is JSON.
        value = orjson.loads(orjson.dumps(source, default=_plain))
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise DefinitionError(
            [Diagnostic("SCHEMA_VALIDATION_FAILED", f"The definition is not made of JSON values: {exc}", "/")]
        ) from None
    assert isinstance(value, dict)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _not_an_object(value: Any) -> Diagnostic:
    kind = "an array" if isinstance(value, list) else "a string" if isinstance(value, str) else "a scalar"
    return Diagnostic(
        "SCHEMA_VALIDATION_FAILED",
        f"The definition must be a JSON object with 'StartAt' and 'States'; got {kind}",
        "/",
    )


def _invalid_json(message: str, location: str) -> DefinitionError:
    return DefinitionError([Diagnostic("INVALID_JSON_DESCRIPTION", message, location)])


def _locate(text: str, exc: orjson.JSONDecodeError) -> DefinitionError:
    """Word orjson's rejection with the json module's position (characters, not bytes)."""
    reason, pos = exc.msg, exc.pos
    try:
        json.loads(text)
    except json.JSONDecodeError as located:
        reason, pos = located.msg, located.pos
    except ValueError:
        pass  # json's other failures carry no position; keep orjson's
    # json accepts NaN, Infinity and lone surrogates, which orjson (like AWS) refuses;
    # then orjson's own position stands. It counts bytes, hence the clamp.
    pos = max(0, min(pos, len(text)))
    line = text.count("\n", 0, pos) + 1
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    column = pos - start + 1
    source_line = text[start : end if end != -1 else len(text)]
    shown, caret = _excerpt(source_line, column - 1)
    return _invalid_json(
        f"Invalid JSON: {reason} at line {line}, column {column}\n  {shown}\n  {caret}",
        f"line {line}, column {column}",
    )


def _excerpt(line: str, offset: int, width: int = 60) -> tuple[str, str]:
    """At most ``width`` characters of ``line`` around ``offset``, and the caret under it."""
    begin = max(0, offset - width // 2)
    shown = line[begin : begin + width].replace("\t", " ")
    return shown, " " * (offset - begin) + "^"


class _Pairs(list[tuple[str, Any]]):
    """An object as the json module read it, keys in order and repeats kept."""


def _duplicate_states(text: str) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    _machine_duplicates(json.loads(text, object_pairs_hook=_Pairs), "", found)
    return found


def _machine_duplicates(machine: Any, pointer: str, found: list[Diagnostic]) -> None:
    """Walk the machine's own structure only: a payload may hold a key named States too."""
    if not isinstance(machine, _Pairs):
        return
    for key, states in machine:
        if key != "States" or not isinstance(states, _Pairs):
            continue
        seen: set[str] = set()
        for name, state in states:
            at = f"{pointer}/States/{_escape(name)}"
            if name in seen:
                message = f"State name '{name}' appears more than once in this 'States' object"
                found.append(Diagnostic("DUPLICATE_STATE_NAME", message, at))
            seen.add(name)
            if not isinstance(state, _Pairs):
                continue
            for field, value in state:
                if field == "Branches" and isinstance(value, list):
                    for index, branch in enumerate(value):
                        _machine_duplicates(branch, f"{at}/Branches/{index}", found)
                elif field in ("ItemProcessor", "Iterator"):
                    _machine_duplicates(value, f"{at}/{field}", found)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")
