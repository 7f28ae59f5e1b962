"""Definition validation: every problem of an EXPRESS state machine, found in one pass.

``validate_definition`` walks the machine and each nested one (Parallel branches, Map
processors) and returns a ``Diagnostic`` per problem: a code from AWS's
ValidateStateMachineDefinition where one fits, an actionable message (AWS's wording
where it is known) and a JSON Pointer to the offending value. It never raises for bad
input and returns ``[]`` for a valid definition.

Per state the checks live in ``validate_states`` (fields in ``validate_fields``, Task
resources in ``validate_resources``, Choice rules in ``validate_choice``); this module
adds what needs the whole machine: ``QueryLanguage`` inheritance, transition targets,
reachability, terminal states and state-name uniqueness across all nesting levels.

Query language: a state without ``QueryLanguage`` takes the top-level one, also inside
branches and processors (AWS does not inherit from the enclosing Parallel or Map).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from express.asl.loader import load_definition
from express.asl.validate_common import (
    MAX_SECONDS,
    Report,
    child,
    describe,
    is_integer,
    required_message,
    suggestion,
)
from express.asl.validate_states import check_state
from express.errors import DefinitionError, Diagnostic

__all__ = ["validate_definition"]

MAX_STATE_NAME = 80
_LANGUAGES = ("JSONPath", "JSONata")
_TOP_FIELDS = frozenset({"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"})
_SUB_FIELDS = {
    "Branches": frozenset({"StartAt", "States", "Comment"}),
    "ItemProcessor": frozenset({"StartAt", "States", "Comment", "ProcessorConfig"}),
    "Iterator": frozenset({"StartAt", "States", "Comment", "ProcessorConfig"}),
}
_TERMINAL_TYPES = ("Succeed", "Fail")


def validate_definition(definition: Any) -> list[Diagnostic]:
    """Every problem in ``definition``, sorted by location; ``[]`` when it is valid.

    ``definition`` is anything ``load_definition`` accepts: a mapping, JSON text as
    ``str`` or ``bytes``, or an ``os.PathLike`` to a file.
    """
    if definition is None:
        return [Diagnostic("MISSING_DESCRIPTION", "The definition is empty", "/")]
    if not isinstance(definition, (str, bytes, os.PathLike, Mapping)):
        return [
            Diagnostic(
                "SCHEMA_VALIDATION_FAILED",
                "The definition must be a JSON object with 'StartAt' and 'States'; "
                f"got {describe(definition)}",
                "/",
            )
        ]
    try:
        # A mapping goes through the loader too: it proves every key is a string and
        # every value plain JSON, which all the checks below rely on.
        spec = load_definition(definition)
    except DefinitionError as exc:
        return _sorted(exc.diagnostics)
    except OSError as exc:
        return [Diagnostic("MISSING_DESCRIPTION", f"The definition file cannot be read: {exc}", "/")]
    report = Report()
    _Walker(report, spec).machine(spec, "", None)
    return _sorted(report.diagnostics)


def _sorted(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """By location, numeric tokens in numeric order (``/Choices/2`` before ``/Choices/10``)."""

    def key(d: Diagnostic) -> list[tuple[int, int, str]]:
        return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in d.location.split("/")]

    return sorted(diagnostics, key=key)


class _Walker:
    """One validation run: the report, the machine's language and every state name seen."""

    def __init__(self, report: Report, top: dict[str, Any]) -> None:
        self.report = report
        self.top_jsonata = self._language(top, "") == "JSONata"
        self.names: dict[str, str] = {}  # state name -> pointer of its first definition

    def _language(self, holder: dict[str, Any], pointer: str) -> str | None:
        """The QueryLanguage ``holder`` declares (None if absent); reports a bad value.

        AWS reads any value other than exactly "JSONPath" as JSONata.
        """
        if "QueryLanguage" not in holder:
            return None
        value = holder["QueryLanguage"]
        if value not in _LANGUAGES:
            hint = suggestion(value, _LANGUAGES) if isinstance(value, str) else ""
            self.report.error(
                child(pointer, "QueryLanguage"),
                f"Field 'QueryLanguage' must be 'JSONPath' or 'JSONata'; got {describe(value)}{hint}",
            )
        return "JSONPath" if value == "JSONPath" else "JSONata"

    def machine(self, machine: dict[str, Any], pointer: str, container: str | None) -> None:
        """A state machine: the top level (``container`` None) or a nested one."""
        report = self.report
        allowed = _TOP_FIELDS if container is None else _SUB_FIELDS[container]
        missing = [field for field in ("States", "StartAt") if field not in machine]
        if missing:
            report.error(pointer, required_message(missing))
        for field in machine:
            if field not in allowed:
                report.error(pointer, f"Field '{field}' is not supported{suggestion(field, allowed)}")
        if container is None:
            self._top_fields(machine)
        elif "Comment" in machine and not isinstance(machine["Comment"], str):
            report.error(child(pointer, "Comment"), "Field 'Comment' must be a string")
        start = machine.get("StartAt")
        if "StartAt" in machine and not isinstance(start, str):
            report.error(
                child(pointer, "StartAt"), f"Field 'StartAt' must be a state name; got {describe(start)}"
            )
        states = machine.get("States")
        if "States" not in machine:
            return
        states_at = child(pointer, "States")
        if not isinstance(states, dict) or not states:
            report.error(
                states_at, f"Field 'States' must be a non-empty object of states; got {describe(states)}"
            )
            return
        for name, state in states.items():
            self._state(name, state, child(states_at, name))
        self._graph(states, start if isinstance(start, str) else None, pointer)

    def _top_fields(self, machine: dict[str, Any]) -> None:
        report = self.report
        if "Comment" in machine and not isinstance(machine["Comment"], str):
            report.error("/Comment", "Field 'Comment' must be a string")
        if "Version" in machine and not isinstance(machine["Version"], str):
            report.error(
                "/Version",
                f"Field 'Version' must be a string such as \"1.0\"; got {describe(machine['Version'])}",
            )
        if "TimeoutSeconds" in machine:
            timeout = machine["TimeoutSeconds"]
            if not is_integer(timeout) or not 1 <= timeout <= MAX_SECONDS:
                report.error(
                    "/TimeoutSeconds",
                    f"Field 'TimeoutSeconds' must be an integer from 1 to {MAX_SECONDS}; "
                    f"got {describe(timeout)}",
                )

    def _state(self, name: str, state: Any, pointer: str) -> None:
        report = self.report
        if not name or len(name) > MAX_STATE_NAME:
            report.error(
                pointer,
                f"State name '{name}' must be 1 to {MAX_STATE_NAME} characters long; it has {len(name)}",
                "INVALID_STATE_NAME",
            )
        first = self.names.setdefault(name, pointer)
        if first != pointer:
            report.error(
                pointer,
                f"State name '{name}' is already used at {first}; state names must be unique across the "
                "whole state machine, including Parallel branches and Map processors",
                "DUPLICATE_STATE_NAME",
            )
        if not isinstance(state, dict):
            report.error(pointer, f"A state must be an object with a 'Type'; got {describe(state)}")
            return
        declared = self._language(state, pointer)
        if declared == "JSONPath" and self.top_jsonata:
            report.error(
                pointer, "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine"
            )
        jsonata = declared == "JSONata" if declared is not None else self.top_jsonata
        check_state(report, state, pointer, jsonata)
        self._nested(state, pointer)

    def _nested(self, state: dict[str, Any], pointer: str) -> None:
        """Recurse into the state machines a Parallel or a Map holds."""
        type_ = state.get("Type")
        if type_ == "Parallel" and isinstance(state.get("Branches"), list):
            for index, branch in enumerate(state["Branches"]):
                if isinstance(branch, dict):
                    self.machine(branch, child(pointer, "Branches", index), "Branches")
        elif type_ == "Map":
            for field in ("ItemProcessor", "Iterator"):
                processor = state.get(field)
                if isinstance(processor, dict):
                    self.machine(processor, child(pointer, field), field)

    # ------------------------------------------------------------------------- graph
    def _graph(self, states: dict[str, Any], start: str | None, pointer: str) -> None:
        """Transition targets, reachability from StartAt and the existence of an end."""
        report = self.report
        states_at = child(pointer, "States")
        if start is not None and start not in states:
            report.error(
                child(pointer, "StartAt"),
                f"Missing 'Next' target: {start}{suggestion(start, states)}",
                "MISSING_TRANSITION_TARGET",
            )
        edges: dict[str, list[str]] = {}
        dead_ends: set[str] = set()  # already reported: a missing target, or no Next nor End
        for name, state in states.items():
            targets = edges[name] = []
            if _lacks_flow(state):
                dead_ends.add(name)
            for target, at in _transitions(state, child(states_at, name)):
                if target in states:
                    targets.append(target)
                else:
                    dead_ends.add(name)
                    report.error(
                        at,
                        f"Missing 'Next' target: {target}{suggestion(target, states)}",
                        "MISSING_TRANSITION_TARGET",
                    )
        terminal = {name for name, state in states.items() if _is_terminal(state)}
        if not terminal:
            # AWS reports this alone: with no way to end, reachability says nothing useful.
            report.error(states_at, "Workflow has no terminal state", "MISSING_END_STATE")
            return
        if start is None:
            return  # already reported: StartAt is missing or not a name
        reached = _reachable(start, edges)
        for name in states:
            if name not in reached:
                report.error(
                    child(states_at, name), f'State "{name}" is not reachable.', "MISSING_TRANSITION_TARGET"
                )
        if reached and not (terminal | dead_ends) & reached:
            report.error(
                states_at,
                "Workflow has no terminal state reachable from 'StartAt': every path loops forever",
                "MISSING_END_STATE",
            )


def _transitions(state: Any, pointer: str) -> Iterator[tuple[str, str]]:
    """Each state name ``state`` can move to, with the pointer of the field naming it."""
    if not isinstance(state, dict):
        return
    if isinstance(state.get("Next"), str):
        yield state["Next"], child(pointer, "Next")
    if state.get("Type") == "Choice":
        if isinstance(state.get("Default"), str):
            yield state["Default"], child(pointer, "Default")
        choices = state.get("Choices")
        if isinstance(choices, list):
            for index, rule in enumerate(choices):
                if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
                    yield rule["Next"], child(pointer, "Choices", index, "Next")
    catch = state.get("Catch")
    if isinstance(catch, list):
        for index, catcher in enumerate(catch):
            if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
                yield catcher["Next"], child(pointer, "Catch", index, "Next")


def _is_terminal(state: Any) -> bool:
    return isinstance(state, dict) and (state.get("End") is True or state.get("Type") in _TERMINAL_TYPES)


def _lacks_flow(state: Any) -> bool:
    """A state that should name its successor but names none (reported by its own checks)."""
    if not isinstance(state, dict) or state.get("Type") in ("Choice", *_TERMINAL_TYPES):
        return False
    return not isinstance(state.get("Next"), str) and state.get("End") is not True


def _reachable(start: str | None, edges: dict[str, list[str]]) -> set[str]:
    if start is None or start not in edges:
        return set()
    seen = {start}
    todo = [start]
    while todo:
        for target in edges[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen
