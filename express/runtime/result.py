"""The outcome of one execution, shaped after StartSyncExecution's response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from express.runtime.context import iso_timestamp
from express.types import JSON

__all__ = ["ExecutionResult", "FAILED", "SUCCEEDED", "TIMED_OUT"]

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
TIMED_OUT = "TIMED_OUT"


@dataclass(slots=True)
class ExecutionResult:
    status: str  # SUCCEEDED | FAILED | TIMED_OUT
    output: JSON  # the execution output (None unless SUCCEEDED)
    error: str | None
    cause: str | None
    name: str
    execution_arn: str
    state_machine_arn: str
    input: JSON
    start_time: float  # epoch seconds
    stop_time: float
    transitions: int  # state transitions taken, retries included (AWS counts them)

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    def to_sync_response(self) -> dict[str, Any]:
        """StartSyncExecution's response: ``input`` and ``output`` as JSON text."""
        response: dict[str, Any] = {
            "executionArn": self.execution_arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "startDate": iso_timestamp(self.start_time),
            "stopDate": iso_timestamp(self.stop_time),
            "status": self.status,
            "input": orjson.dumps(self.input).decode(),
            "inputDetails": {"included": True},
        }
        if self.status == SUCCEEDED:
            response["output"] = orjson.dumps(self.output).decode()
            response["outputDetails"] = {"included": True}
        else:
            response["error"] = self.error
            response["cause"] = self.cause
        billed_ms = max(100, -(-int((self.stop_time - self.start_time) * 1000) // 100) * 100)
        response["billingDetails"] = {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": billed_ms}
        return response
