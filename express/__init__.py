"""express: Amazon States Language workflows, run the way AWS runs Express workflows.

workflow = express.compile_workflow(definition, handlers={"enrich": enrich})
result = workflow.execute_sync({"device_id": "sensor-1", ...})
"""

from __future__ import annotations

from express.errors import (
    DefinitionError,
    Diagnostic,
    ExecutionTimeout,
    ExpressError,
    StatesError,
    UsageError,
)
from express.handlers import HandlerRegistry, load_handlers
from express.runtime.result import ExecutionResult
from express.workflow import Workflow, compile_workflow

__all__ = [
    "DefinitionError",
    "Diagnostic",
    "ExecutionResult",
    "ExecutionTimeout",
    "ExpressError",
    "HandlerRegistry",
    "StatesError",
    "UsageError",
    "Workflow",
    "compile_workflow",
    "load_handlers",
]
