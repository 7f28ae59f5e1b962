"""The one exception tree of the engine.

    ExpressError
    ├── DefinitionError      the definition is invalid; carries every Diagnostic found
    ├── StatesError          an ASL run-time error (``States.Runtime``, a handler's error, ...)
    │   └── ExecutionTimeout the execution outran its time limit (terminal, never caught)
    └── UsageError           the caller misused an API or a command line

Low-level helpers (path getters, intrinsic functions, templates) raise ``FieldFailure``:
it carries the ASL error name and the detail text only. The state that ran the helper
turns it into a ``StatesError`` whose cause carries AWS's prefix, which names the state
and the history event id at which it was entered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Diagnostic",
    "DefinitionError",
    "ExecutionTimeout",
    "ExpressError",
    "FieldFailure",
    "StatesError",
    "UsageError",
    "runtime_cause",
]


class ExpressError(Exception):
    """Root of every error the engine raises on purpose."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a definition, shaped like ValidateStateMachineDefinition's diagnostics."""

    code: str
    message: str
    location: str  # a JSON Pointer into the definition ("/States/Check/Next")
    severity: str = "ERROR"

    def __str__(self) -> str:
        return f"{self.location or '/'}: {self.code}: {self.message}"

    def to_json(self) -> dict[str, str]:
        return {
            "severity": self.severity,
            "code": self.code,
            "location": self.location,
            "message": self.message,
        }


@dataclass
class DefinitionError(ExpressError):
    """The definition cannot run. ``diagnostics`` lists every problem, not just the first."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [str(d) for d in self.diagnostics]
        return "invalid state machine definition:\n  " + "\n  ".join(lines)


class StatesError(ExpressError):
    """An ASL error: ``error`` is the name Retry/Catch match on, ``cause`` AWS's text."""

    def __init__(self, error: str | None, cause: str | None = None) -> None:
        super().__init__(error, cause)
        self.error = error
        self.cause = cause

    def __str__(self) -> str:
        return f"{self.error}: {self.cause}" if self.cause else str(self.error)


class ExecutionTimeout(StatesError):
    """The execution reached its time limit: status TIMED_OUT, no catcher applies."""

    def __init__(self, cause: str | None = None) -> None:
        super().__init__("States.Timeout", cause)


class UsageError(ExpressError):
    """Bad arguments to an API or a command; the CLI exits 2 on it."""


class FieldFailure(Exception):
    """Raised by compiled helpers while a state runs; the state adds its own context.

    ``error`` is the ASL error name (``States.Runtime`` unless said otherwise) and
    ``detail`` the text that follows AWS's "An error occurred while executing the
    state ..." prefix.
    """

    def __init__(self, detail: str, error: str = "States.Runtime") -> None:
        super().__init__(detail)
        self.detail = detail
        self.error = error


def runtime_cause(state_name: str, entered_event_id: int, detail: str) -> str:
    """AWS's wording for a failure inside a state, quoting the event id it was entered at."""
    return (
        f"An error occurred while executing the state '{state_name}' "
        f"(entered at the event id #{entered_event_id}). {detail}"
    )
