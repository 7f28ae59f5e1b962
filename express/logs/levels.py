"""AWS's log levels and the history event types each level lets through.

The event type names are the 62 values of the Step Functions ``HistoryEventType`` enum.
Which types a level writes follows the AWS log-level table (``cloudwatch-log-level``):
``ALL`` writes every type, ``OFF`` none, ``FATAL`` only the terminal failures of the
execution, and ``ERROR`` every failure, abort and time-out event plus ``FailStateEntered``.

Invariant: filtering never renumbers events. A filtered log keeps the ids the events
have at level ``ALL``, so ids in a log may have gaps (AWS's ERROR captures show
``FailStateEntered`` with id 2 followed by ``ExecutionFailed`` with id 3, and no id 1).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ERROR_EVENT_TYPES",
    "FATAL_EVENT_TYPES",
    "HISTORY_EVENT_TYPES",
    "LogLevel",
    "admitted_event_types",
]


class LogLevel(StrEnum):
    ALL = "ALL"
    ERROR = "ERROR"
    FATAL = "FATAL"
    OFF = "OFF"


HISTORY_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "ActivityFailed",
        "ActivityScheduled",
        "ActivityScheduleFailed",
        "ActivityStarted",
        "ActivitySucceeded",
        "ActivityTimedOut",
        "ChoiceStateEntered",
        "ChoiceStateExited",
        "EvaluationFailed",
        "ExecutionAborted",
        "ExecutionFailed",
        "ExecutionRedriven",
        "ExecutionStarted",
        "ExecutionSucceeded",
        "ExecutionTimedOut",
        "FailStateEntered",
        "LambdaFunctionFailed",
        "LambdaFunctionScheduled",
        "LambdaFunctionScheduleFailed",
        "LambdaFunctionStarted",
        "LambdaFunctionStartFailed",
        "LambdaFunctionSucceeded",
        "LambdaFunctionTimedOut",
        "MapIterationAborted",
        "MapIterationFailed",
        "MapIterationStarted",
        "MapIterationSucceeded",
        "MapRunAborted",
        "MapRunFailed",
        "MapRunRedriven",
        "MapRunStarted",
        "MapRunSucceeded",
        "MapStateAborted",
        "MapStateEntered",
        "MapStateExited",
        "MapStateFailed",
        "MapStateStarted",
        "MapStateSucceeded",
        "ParallelStateAborted",
        "ParallelStateEntered",
        "ParallelStateExited",
        "ParallelStateFailed",
        "ParallelStateStarted",
        "ParallelStateSucceeded",
        "PassStateEntered",
        "PassStateExited",
        "SucceedStateEntered",
        "SucceedStateExited",
        "TaskFailed",
        "TaskScheduled",
        "TaskStarted",
        "TaskStartFailed",
        "TaskStateAborted",
        "TaskStateEntered",
        "TaskStateExited",
        "TaskSubmitFailed",
        "TaskSubmitted",
        "TaskSucceeded",
        "TaskTimedOut",
        "WaitStateAborted",
        "WaitStateEntered",
        "WaitStateExited",
    }
)

FATAL_EVENT_TYPES: frozenset[str] = frozenset({"ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut"})

# EvaluationFailed (JSONata, 2024) and the MapRun failures post-date AWS's published
# table; they are failure events like the rest, and ERROR promises "all errors".
ERROR_EVENT_TYPES: frozenset[str] = FATAL_EVENT_TYPES | frozenset(
    {
        "ActivityFailed",
        "ActivityScheduleFailed",
        "ActivityTimedOut",
        "EvaluationFailed",
        "FailStateEntered",
        "LambdaFunctionFailed",
        "LambdaFunctionScheduleFailed",
        "LambdaFunctionStartFailed",
        "LambdaFunctionTimedOut",
        "MapIterationAborted",
        "MapIterationFailed",
        "MapRunAborted",
        "MapRunFailed",
        "MapStateAborted",
        "MapStateFailed",
        "ParallelStateAborted",
        "ParallelStateFailed",
        "TaskFailed",
        "TaskStartFailed",
        "TaskStateAborted",
        "TaskSubmitFailed",
        "TaskTimedOut",
        "WaitStateAborted",
    }
)


def admitted_event_types(level: LogLevel) -> frozenset[str] | None:
    """The event types ``level`` writes; None means every type (``ALL``)."""
    if level is LogLevel.ALL:
        return None
    if level is LogLevel.ERROR:
        return ERROR_EVENT_TYPES
    if level is LogLevel.FATAL:
        return FATAL_EVENT_TYPES
    return frozenset()
