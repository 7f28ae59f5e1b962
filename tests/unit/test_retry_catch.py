"""Retry and Catch as AWS applies them, with the back-off measured on an injected clock."""

from __future__ import annotations

from typing import Any

import pytest

from express import StatesError, compile_workflow
from express.runtime.result import ExecutionResult
from express.testing import ManualClock

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"


class Flaky:
    """Fails with the given error names in turn, then succeeds."""

    def __init__(self, *errors: str) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, event: Any) -> Any:
        self.calls += 1
        if self.errors:
            raise StatesError(self.errors.pop(0), f"attempt {self.calls}")
        return {"ok": self.calls}


def run_task(handler: Any, clock: ManualClock, **fields: Any) -> ExecutionResult:
    states: dict[str, Any] = {"T": {"Type": "Task", "Resource": LAMBDA + "work", "End": True, **fields}}
    if "Catch" in fields:
        states["Caught"] = {"Type": "Pass", "End": True}
    definition = {"StartAt": "T", "States": states}
    return compile_workflow(definition, handlers={"work": handler}, clock=clock).execute_sync({"in": 1})


def test_backoff_follows_interval_rate_and_cap() -> None:
    clock = ManualClock()
    flaky = Flaky("E", "E", "E", "E")
    retry = [
        {
            "ErrorEquals": ["E"],
            "IntervalSeconds": 2,
            "BackoffRate": 3,
            "MaxAttempts": 4,
            "MaxDelaySeconds": 10,
        }
    ]
    result = run_task(flaky, clock, Retry=retry)
    assert result.status == "SUCCEEDED"
    assert result.output == {"ok": 5}
    assert clock.sleeps == [2, 6, 10, 10]
    assert result.transitions == 1 + 4  # each retry counts as a state transition


def test_exhausted_retries_fall_through_to_catch_with_error_object() -> None:
    clock = ManualClock()
    result = run_task(
        Flaky("E", "E", "E"),
        clock,
        Retry=[{"ErrorEquals": ["E"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1}],
        Catch=[{"ErrorEquals": ["E"], "ResultPath": "$.error", "Next": "Caught"}],
    )
    assert result.output == {"in": 1, "error": {"Error": "E", "Cause": "attempt 3"}}
    assert clock.sleeps == [1, 1]


def test_max_attempts_zero_never_retries() -> None:
    clock = ManualClock()
    flaky = Flaky("E")
    result = run_task(flaky, clock, Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}])
    assert (result.status, result.error, flaky.calls) == ("FAILED", "E", 1)
    assert clock.sleeps == []


def test_each_retrier_counts_its_own_attempts() -> None:
    # AWS's example: errors A, B, C, B, B with two retriers give waits 1, 2, 5, 4, then the catch.
    clock = ManualClock()
    retry = [
        {"ErrorEquals": ["A", "B"], "IntervalSeconds": 1, "BackoffRate": 2, "MaxAttempts": 3},
        {"ErrorEquals": ["C"], "IntervalSeconds": 5, "MaxAttempts": 1},
    ]
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
    result = run_task(Flaky("A", "B", "C", "B", "B"), clock, Retry=retry, Catch=catch)
    assert clock.sleeps == [1, 2, 5, 4]
    assert result.output == {"Error": "B", "Cause": "attempt 5"}


def test_first_matching_retrier_decides_even_when_exhausted() -> None:
    clock = ManualClock()
    retry = [
        {"ErrorEquals": ["E"], "MaxAttempts": 0},
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 5},
    ]
    result = run_task(Flaky("E"), clock, Retry=retry)
    assert result.status == "FAILED"
    assert clock.sleeps == []


def test_full_jitter_stays_within_the_computed_delay() -> None:
    clock = ManualClock()
    retry = [{"ErrorEquals": ["E"], "IntervalSeconds": 4, "MaxAttempts": 3, "JitterStrategy": "FULL"}]
    run_task(Flaky("E", "E", "E"), clock, Retry=retry)
    assert len(clock.sleeps) == 3
    for sleep, ceiling in zip(clock.sleeps, [4, 8, 16], strict=True):
        assert 0 <= sleep <= ceiling


@pytest.mark.parametrize(
    ("error", "matcher", "caught"),
    [
        ("Custom", "States.ALL", True),
        ("Custom", "States.TaskFailed", True),
        ("States.Timeout", "States.TaskFailed", False),
        ("States.Timeout", "States.ALL", True),
        ("States.DataLimitExceeded", "States.ALL", True),
        ("Custom", "State.ALL", False),  # a typo matches nothing, silently, as on AWS
    ],
)
def test_catch_matching(error: str, matcher: str, caught: bool) -> None:
    result = run_task(Flaky(error), ManualClock(), Catch=[{"ErrorEquals": [matcher], "Next": "Caught"}])
    assert (result.status == "SUCCEEDED") is caught


def test_states_runtime_is_never_caught_or_retried() -> None:
    clock = ManualClock()
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "work",
                "OutputPath": "$.no.such.path",
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}],
                "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    result = compile_workflow(definition, handlers={"work": lambda e: e}, clock=clock).execute_sync({})
    assert result.error == "States.Runtime"
    assert result.cause == (
        "An error occurred while executing the state 'T' (entered at the event id #2). "
        "Invalid path '$.no.such.path' : Missing property in path $['no']"
    )
    assert clock.sleeps == []


def test_retry_count_is_visible_in_the_context_object() -> None:
    clock = ManualClock()
    result = run_task(
        Flaky("E", "E"),
        clock,
        Retry=[{"ErrorEquals": ["E"], "MaxAttempts": 2}],
        ResultSelector={"retries.$": "$$.State.RetryCount"},
    )
    assert result.output == {"retries": 2}


def test_retry_back_off_counts_against_the_execution_time_limit() -> None:
    clock = ManualClock()
    retry = [{"ErrorEquals": ["E"], "IntervalSeconds": 200, "MaxAttempts": 3}]
    result = run_task(Flaky("E", "E"), clock, Retry=retry)
    assert result.status == "TIMED_OUT"
    assert sum(clock.sleeps) == pytest.approx(300)
