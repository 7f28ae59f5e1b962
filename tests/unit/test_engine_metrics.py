"""The engine's own metrics: transitions by state type, errors, retries, handler calls."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from express import StatesError, compile_workflow
from express.metrics import ExpressMetrics
from express.testing import ManualClock

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_transitions_errors_retries_and_tasks_are_counted() -> None:
    registry = CollectorRegistry()
    bound = ExpressMetrics(registry).bind("router")
    attempts = {"n": 0}

    def flaky(event: Any) -> Any:
        attempts["n"] += 1
        if attempts["n"] % 2:
            raise StatesError("Sensor.Busy", "try again")
        return event

    def broken(event: Any) -> Any:
        raise ValueError("no")

    definition = {
        "StartAt": "Route",
        "States": {
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.bad", "IsPresent": True, "Next": "Broken"}],
                "Default": "Shape",
            },
            "Shape": {"Type": "Pass", "Parameters": {"v.$": "$.v"}, "Next": "Flaky"},
            "Flaky": {
                "Type": "Task",
                "Resource": LAMBDA + "flaky",
                "Retry": [{"ErrorEquals": ["Sensor.Busy"], "IntervalSeconds": 1, "MaxAttempts": 3}],
                "End": True,
            },
            "Broken": {
                "Type": "Task",
                "Resource": LAMBDA + "broken",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Give up"}],
                "End": True,
            },
            "Give up": {"Type": "Fail", "Error": "Gave.Up"},
        },
    }
    workflow = compile_workflow(
        definition, handlers={"flaky": flaky, "broken": broken}, clock=ManualClock(), metrics=bound
    )
    for _ in range(3):
        assert workflow.execute_sync({"v": 1}).status == "SUCCEEDED"
    assert workflow.execute_sync({"bad": True}).error == "Gave.Up"

    def transitions(state_type: str) -> float:
        return sample(
            registry, "express_state_transitions_total", state_machine="router", state_type=state_type
        )

    assert transitions("Choice") == 4
    assert transitions("Pass") == 3
    assert transitions("Task") == 3 + 3 + 1  # three first entries, three retries, one Broken
    assert transitions("Fail") == 1
    assert sample(registry, "express_retries_total", state_machine="router", state="Flaky") == 3
    assert sample(registry, "express_errors_total", state_machine="router", error="Sensor.Busy") == 3
    assert sample(registry, "express_errors_total", state_machine="router", error="ValueError") == 1
    assert sample(registry, "express_errors_total", state_machine="router", error="Gave.Up") == 1
    flaky_labels = {"state_machine": "router", "kind": "lambda", "resource": LAMBDA + "flaky"}
    assert sample(registry, "express_tasks_started_total", **flaky_labels) == 6
    assert sample(registry, "express_tasks_completed_total", **flaky_labels, outcome="succeeded") == 3
    assert sample(registry, "express_tasks_completed_total", **flaky_labels, outcome="failed") == 3
    assert sample(registry, "express_task_duration_seconds_count", **flaky_labels) == 6


def test_map_iterations_count_their_own_transitions() -> None:
    registry = CollectorRegistry()
    bound = ExpressMetrics(registry).bind("fanout")
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    result = compile_workflow(definition, metrics=bound).execute_sync([1, 2, 3])
    assert result.output == [1, 2, 3]
    assert sample(registry, "express_state_transitions_total", state_machine="fanout", state_type="Map") == 1
    assert sample(registry, "express_state_transitions_total", state_machine="fanout", state_type="Pass") == 3
