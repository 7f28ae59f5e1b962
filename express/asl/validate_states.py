"""One state at a time: its fields, then the rules of its type, then Retry and Catch.

``check_state`` knows nothing of other states: transitions, reachability and name
uniqueness are graph properties, checked in ``validate``. Nested state machines
(Parallel branches, Map processors) are walked there too; here only their containers
are checked (Branches is a non-empty array, ProcessorConfig is INLINE, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from express.asl.timestamps import parse_timestamp
from express.asl.validate_choice import check_choices
from express.asl.validate_common import (
    MAX_SECONDS,
    Report,
    check_jsonata_value,
    check_template,
    child,
    describe,
    is_integer,
    is_number,
    path_problem,
    required_message,
    suggestion,
)
from express.asl.validate_fields import STATE_FIELDS, check_field_values, check_fields, language_message
from express.asl.validate_resources import check_credentials, check_resource

__all__ = ["check_state"]


def check_state(report: Report, state: dict[str, Any], pointer: str, jsonata: bool) -> None:
    """Every problem of one state (``QueryLanguage`` itself is the caller's concern)."""
    if "Type" not in state:
        report.error(pointer, required_message(["Type"]))
        return
    type_ = state["Type"]
    if not isinstance(type_, str) or type_ not in STATE_FIELDS:
        kinds = ", ".join(STATE_FIELDS)
        hint = suggestion(type_, STATE_FIELDS) if isinstance(type_, str) else ""
        report.error(
            child(pointer, "Type"),
            f"{_capitalized(describe(type_))} is not a state type{hint} (use one of {kinds})",
        )
        return
    allowed = STATE_FIELDS[type_]
    check_fields(report, state, pointer, allowed, jsonata)
    check_field_values(report, state, pointer, allowed, jsonata)
    if "Next" in allowed:
        _check_flow(report, state, pointer)
    _TYPE_CHECKS[type_](report, state, pointer, jsonata)
    if "Retry" in allowed and "Retry" in state:
        _check_retry(report, state["Retry"], child(pointer, "Retry"))
    if "Catch" in allowed and "Catch" in state:
        _check_catch(report, state["Catch"], child(pointer, "Catch"), jsonata)


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def _check_flow(report: Report, state: dict[str, Any], pointer: str) -> None:
    has_next, ends = "Next" in state, state.get("End") is True
    if has_next and ends:
        report.error(pointer, "A state cannot have both 'Next' and 'End': true; keep only one")
    elif not has_next and not ends:
        report.error(pointer, "A state needs either 'Next' (the state to run after it) or 'End': true")
    if has_next and not isinstance(state["Next"], str):
        report.error(
            child(pointer, "Next"), f"Field 'Next' must be a state name; got {describe(state['Next'])}"
        )


def _exclusive(
    report: Report, state: dict[str, Any], pointer: str, first: str, second: str, *, why: str = ""
) -> None:
    if first in state and second in state:
        report.error(
            child(pointer, first),
            f"Fields '{first}' and '{second}' are mutually exclusive{why}; keep only one",
        )


# ----------------------------------------------------------------------------- by type
def _check_pass(report: Report, state: dict[str, Any], pointer: str, jsonata: bool) -> None:
    if not jsonata and _has_dynamic_key(state.get("Result")):
        report.warning(
            child(pointer, "Result"),
            "'Result' is used as it is: keys ending in '.$' are not evaluated here; "
            "use 'Parameters' to build the output from the input",
            "PASS_RESULT_IS_STATIC",
        )


def _has_dynamic_key(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k.endswith(".$") or _has_dynamic_key(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_dynamic_key(v) for v in value)
    return False


def _check_task(report: Report, state: dict[str, Any], pointer: str, jsonata: bool) -> None:
    if "Resource" not in state:
        report.error(pointer, required_message(["Resource"]))
    else:
        check_resource(report, state, pointer, jsonata)
    _exclusive(report, state, pointer, "TimeoutSeconds", "TimeoutSecondsPath")
    _exclusive(report, state, pointer, "HeartbeatSeconds", "HeartbeatSecondsPath")
    timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
    if is_integer(timeout) and is_integer(heartbeat) and heartbeat >= timeout:
        report.error(
            child(pointer, "HeartbeatSeconds"),
            f"'HeartbeatSeconds' ({heartbeat}) must be smaller than 'TimeoutSeconds' ({timeout})",
        )
    if "Credentials" in state:
        check_credentials(report, state["Credentials"], child(pointer, "Credentials"), jsonata)


def _check_choice(report: Report, state: dict[str, Any], pointer: str, jsonata: bool) -> None:
    if "Choices" not in state:
        report.error(pointer, required_message(["Choices"]))
    else:
        check_choices(report, state, pointer, jsonata)


_WAITS = ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")


def _check_wait(report: Report, state: dict[str, Any], pointer: str, jsonata: bool) -> None:
    present = [field for field in _WAITS if field in state]
    if len(present) != 1:
        found = f"; it has {', '.join(present)}" if present else ""
        report.error(
            pointer,
            "A Wait state needs exactly one of 'Seconds', 'Timestamp', 'SecondsPath' or "
            f"'TimestampPath'{found}",
        )
    if "Timestamp" in state:
        stamp = state["Timestamp"]
        at = child(pointer, "Timestamp")
        if jsonata and isinstance(stamp, str) and stamp.startswith("{%"):
            check_jsonata_value(report, stamp, at)
        elif not isinstance(stamp, str):
            report.error(at, f"Field 'Timestamp' must be an RFC 3339 timestamp string; got {describe(stamp)}")
        elif parse_timestamp(stamp) is None:
            report.error(at, "String does not match RFC3339 timestamp")


def _check_succeed(report: Report, state: dict[str, Any], pointer: str, jsonata: bool) -> None:
    """A Succeed state has nothing beyond its fields."""


def _check_fail(report: Report, state: dict[str, Any], pointer: str, jsonata: bool) -> None:
    _exclusive(report, state, pointer, "Error", "ErrorPath")
    _exclusive(report, state, pointer, "Cause", "CausePath")


def _check_parallel(report: Report, state: dict[str, Any], pointer: str, jsonata: bool) -> None:
    if "Branches" not in state:
        report.error(pointer, required_message(["Branches"]))
        return
    branches = state["Branches"]
    at = child(pointer, "Branches")
    if not isinstance(branches, list) or not branches:
        report.error(
            at, f"Field 'Branches' must be a non-empty array of state machines; got {describe(branches)}"
        )
        return
    for index, branch in enumerate(branches):
        if not isinstance(branch, dict):
            report.error(
                child(at, index),
                f"A branch must be an object with 'StartAt' and 'States'; got {describe(branch)}",
            )


_DISTRIBUTED_ONLY = ("ItemReader", "ItemBatcher", "ResultWriter", "Label")
_TOLERATED = ("ToleratedFailureCount", "ToleratedFailurePercentage")


def _check_map(report: Report, state: dict[str, Any], pointer: str, jsonata: bool) -> None:
    has_processor, has_iterator = "ItemProcessor" in state, "Iterator" in state
    if not has_processor and not has_iterator:
        report.error(pointer, required_message(["ItemProcessor"]))
    _exclusive(
        report, state, pointer, "ItemProcessor", "Iterator", why=" ('Iterator' is the deprecated name)"
    )
    for field in ("ItemProcessor", "Iterator"):
        if field in state and not isinstance(state[field], dict):
            report.error(
                child(pointer, field), f"Field '{field}' must be an object with 'StartAt' and 'States'"
            )
        processor = state.get(field)
        if isinstance(processor, dict) and "ProcessorConfig" in processor:
            _check_processor_config(
                report, processor["ProcessorConfig"], child(pointer, field, "ProcessorConfig")
            )
    for field in _DISTRIBUTED_ONLY:
        if field in state:
            report.error(
                child(pointer, field),
                f"Field '{field}' belongs to a Distributed Map, which an Express state machine cannot host; "
                "remove it (an inline Map iterates over an array of its input)",
            )
    for field in _TOLERATED:
        for name in (field, field + "Path"):
            if name in state:
                report.warning(
                    child(pointer, name),
                    f"'{name}' only takes effect in a Distributed Map; an inline Map fails as soon as "
                    "one iteration fails",
                    "DISTRIBUTED_MAP_FIELD",
                )
        _exclusive(report, state, pointer, field, field + "Path")
    _exclusive(
        report, state, pointer, "ItemSelector", "Parameters", why=" ('Parameters' is the deprecated name)"
    )
    _exclusive(report, state, pointer, "MaxConcurrency", "MaxConcurrencyPath")


def _check_processor_config(report: Report, config: Any, at: str) -> None:
    if not isinstance(config, dict):
        report.error(at, f"Field 'ProcessorConfig' must be an object; got {describe(config)}")
        return
    mode = config.get("Mode", "INLINE")
    for field in config:
        if field not in ("Mode", "ExecutionType"):
            report.error(
                at, f"Field '{field}' is not supported{suggestion(field, ('Mode', 'ExecutionType'))}"
            )
    if mode == "DISTRIBUTED":
        report.error(
            child(at, "Mode"),
            "An Express state machine cannot host a Distributed Map; use Mode 'INLINE' (the default)",
        )
    elif mode != "INLINE":
        report.error(
            child(at, "Mode"), f"Field 'Mode' must be 'INLINE' or 'DISTRIBUTED'; got {describe(mode)}"
        )
    elif "ExecutionType" in config:
        report.error(
            child(at, "ExecutionType"), "Field 'ExecutionType' is only supported with Mode 'DISTRIBUTED'"
        )


_TYPE_CHECKS: dict[str, Callable[[Report, dict[str, Any], str, bool], None]] = {
    "Pass": _check_pass,
    "Task": _check_task,
    "Choice": _check_choice,
    "Wait": _check_wait,
    "Succeed": _check_succeed,
    "Fail": _check_fail,
    "Parallel": _check_parallel,
    "Map": _check_map,
}


# ----------------------------------------------------------------------------- Retry, Catch
_RETRIER = frozenset(
    {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy"}
) | {"Comment"}
_RETRY_INTEGERS = {
    "IntervalSeconds": (1, MAX_SECONDS),
    "MaxAttempts": (0, MAX_SECONDS),
    "MaxDelaySeconds": (1, 31_622_400),
}


def _check_retry(report: Report, retry: Any, at: str) -> None:
    if not isinstance(retry, list):
        report.error(at, f"Field 'Retry' must be an array of retriers; got {describe(retry)}")
        return
    for index, retrier in enumerate(retry):
        rat = child(at, index)
        if not isinstance(retrier, dict):
            report.error(rat, f"A retrier must be an object; got {describe(retrier)}")
            continue
        for field in retrier:
            if field not in _RETRIER:
                report.error(rat, f"Field '{field}' is not supported{suggestion(field, _RETRIER)}")
        _check_error_equals(report, retrier, rat, index == len(retry) - 1, "Retry")
        for field, (low, high) in _RETRY_INTEGERS.items():
            value = retrier.get(field, low)
            if not is_integer(value) or not low <= value <= high:
                report.error(
                    child(rat, field),
                    f"Field '{field}' must be an integer from {low} to {high}; got {describe(value)}",
                )
        rate = retrier.get("BackoffRate", 2.0)
        if not is_number(rate) or rate < 1.0:
            report.error(
                child(rat, "BackoffRate"),
                f"Field 'BackoffRate' must be a number of at least 1.0; got {describe(rate)}",
            )
        if retrier.get("JitterStrategy", "NONE") not in ("FULL", "NONE"):
            report.error(
                child(rat, "JitterStrategy"),
                f"Field 'JitterStrategy' must be 'FULL' or 'NONE'; got {describe(retrier['JitterStrategy'])}",
            )
        if "Comment" in retrier and not isinstance(retrier["Comment"], str):
            report.error(child(rat, "Comment"), "Field 'Comment' must be a string")


def _check_catch(report: Report, catch: Any, at: str, jsonata: bool) -> None:
    if not isinstance(catch, list):
        report.error(at, f"Field 'Catch' must be an array of catchers; got {describe(catch)}")
        return
    own, other = ("Output", "ResultPath") if jsonata else ("ResultPath", "Output")
    allowed = frozenset({"ErrorEquals", "Next", "Comment", "Assign", own})
    for index, catcher in enumerate(catch):
        cat = child(at, index)
        if not isinstance(catcher, dict):
            report.error(cat, f"A catcher must be an object; got {describe(catcher)}")
            continue
        for field in catcher:
            if field == other:
                report.error(child(cat, field) if jsonata else cat, language_message(field, jsonata))
            elif field not in allowed:
                report.error(cat, f"Field '{field}' is not supported{suggestion(field, allowed)}")
        _check_error_equals(report, catcher, cat, index == len(catch) - 1, "Catch")
        if "Next" not in catcher:
            report.error(cat, required_message(["Next"]))
        elif not isinstance(catcher["Next"], str):
            report.error(
                child(cat, "Next"), f"Field 'Next' must be a state name; got {describe(catcher['Next'])}"
            )
        if not jsonata and catcher.get("ResultPath") is not None:
            problem = path_problem(catcher["ResultPath"], context=False, variables=False, definite=True)
            if problem is not None:
                report.error(
                    child(cat, "ResultPath"),
                    f"Field 'ResultPath' must be a reference path into the state input, or null: {problem}",
                )
        if "Assign" in catcher:
            assign = catcher["Assign"]
            if not isinstance(assign, dict):
                report.error(
                    child(cat, "Assign"), f"Field 'Assign' must be an object; got {describe(assign)}"
                )
            elif jsonata:
                check_jsonata_value(report, assign, child(cat, "Assign"))
            else:
                check_template(report, assign, child(cat, "Assign"))
        if jsonata and "Output" in catcher:
            check_jsonata_value(report, catcher["Output"], child(cat, "Output"))
        if "Comment" in catcher and not isinstance(catcher["Comment"], str):
            report.error(child(cat, "Comment"), "Field 'Comment' must be a string")


def _check_error_equals(report: Report, handler: dict[str, Any], at: str, last: bool, field: str) -> None:
    if "ErrorEquals" not in handler:
        report.error(at, required_message(["ErrorEquals"]))
        return
    errors = handler["ErrorEquals"]
    eat = child(at, "ErrorEquals")
    if not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
        report.error(
            eat, f"Field 'ErrorEquals' must be a non-empty array of error names; got {describe(errors)}"
        )
        return
    if "States.ALL" in errors:
        if len(errors) > 1:
            report.error(eat, "'States.ALL' must appear alone in 'ErrorEquals'")
        if not last:
            report.error(at, f"The entry that matches 'States.ALL' must be the last one in '{field}'")
