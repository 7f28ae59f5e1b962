"""Reading a local log store back: executions and their event histories.

This is what AWS's troubleshooting recipes do with Logs Insights, on the store that
``connectors.logsinks.LocalLogStore`` writes (layout in ``express.logs.layout``):
events are grouped by ``execution_arn`` and ordered by integer ``id``, never by their
position in a stream (one execution may span streams). An execution's status is its
last ``Execution*`` event; its start is ``ExecutionStarted`` (or its first logged event
when the level did not log that one); its error and cause those of the terminal event.

A damaged line (a crash mid-write) is skipped and counted in ``LogStoreReader.skipped``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from express.logs.layout import (
    STREAM_PREFIX,
    decode_event,
    group_dir,
    group_name,
    label_start_ms,
    machine_dir,
)

__all__ = [
    "ExecutionSummary",
    "HistoryRow",
    "LogEvent",
    "LogStoreReader",
    "history_rows",
    "parse_execution_arn",
    "summarize",
]

TERMINAL_STATUS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
STATUSES = ("RUNNING", *TERMINAL_STATUS.values())

# Readers prune stream buckets by time. Buckets are named by their start; an execution
# lasts at most five minutes (Express), so its events lie within these margins of its start.
_BUCKET_MARGIN_MS = 24 * 3_600_000
_EXECUTION_MARGIN_MS = 10 * 60_000


@dataclass(frozen=True, slots=True)
class LogEvent:
    id: int
    type: str
    details: dict[str, Any]
    previous_event_id: int
    timestamp_ms: int
    execution_arn: str
    stream: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "details": self.details,
            "previous_event_id": self.previous_event_id,
            "event_timestamp": self.timestamp_ms,
            "execution_arn": self.execution_arn,
            "stream": self.stream,
        }


@dataclass(slots=True)
class ExecutionSummary:
    execution_arn: str
    name: str
    state_machine: str
    status: str
    start_ms: int
    stop_ms: int | None
    error: str | None
    cause: str | None
    events: int

    @property
    def duration_ms(self) -> int | None:
        return None if self.stop_ms is None else self.stop_ms - self.start_ms


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One line of the console's "Execution event history" table."""

    event: LogEvent
    step: str
    elapsed_ms: int


def parse_execution_arn(arn: str) -> tuple[str, str]:
    """``(state machine, execution name)`` of an Express or Standard execution ARN."""
    parts = arn.split(":")
    if len(parts) >= 8 and parts[5] in {"express", "execution"}:
        return parts[6], parts[7]
    return "", arn


@dataclass
class LogStoreReader:
    """Reads the events of one log group, or of every group, in a local store."""

    root: Path
    log_group: str | None = None
    skipped: int = field(default=0, init=False)

    def groups(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(group_name(path) for path in self.root.iterdir() if path.is_dir())

    def events(
        self, *, state_machine: str | None = None, since_ms: int | None = None, until_ms: int | None = None
    ) -> Iterator[LogEvent]:
        """Every event in the store, in no particular order; the bounds only prune streams."""
        groups = [self.log_group] if self.log_group is not None else self.groups()
        for group in groups:
            machines = group_dir(self.root, group) / STREAM_PREFIX
            if not machines.is_dir():
                continue
            for machine in sorted(machines.iterdir()):
                if state_machine is not None and machine.name != machine_dir(state_machine):
                    continue
                for bucket in sorted(machine.iterdir()) if machine.is_dir() else ():
                    start = label_start_ms(bucket.name)
                    if start is None:
                        continue
                    if since_ms is not None and start < since_ms - _BUCKET_MARGIN_MS:
                        continue
                    if until_ms is not None and start > until_ms + _EXECUTION_MARGIN_MS:
                        continue
                    for stream in sorted(bucket.iterdir()):
                        yield from self._read_stream(stream, f"{STREAM_PREFIX}/{machine.name}/{bucket.name}")

    def _read_stream(self, path: Path, prefix: str) -> Iterator[LogEvent]:
        name = f"{prefix}/{path.name}"
        with path.open("rb") as file:
            for line in file:
                if not line.strip():
                    continue
                try:
                    timestamp_ms, record = decode_event(line)
                    yield LogEvent(
                        id=int(record["id"]),
                        type=str(record["type"]),
                        details=dict(record.get("details") or {}),
                        previous_event_id=int(record.get("previous_event_id", 0)),
                        timestamp_ms=int(record.get("event_timestamp", timestamp_ms)),
                        execution_arn=str(record["execution_arn"]),
                        stream=name,
                    )
                except (ValueError, KeyError, TypeError):
                    self.skipped += 1


def summarize(events: Iterable[LogEvent]) -> list[ExecutionSummary]:
    """One summary per execution, most recent start first."""
    by_arn: dict[str, list[LogEvent]] = {}
    for event in events:
        by_arn.setdefault(event.execution_arn, []).append(event)
    summaries = []
    for arn, group in by_arn.items():
        group.sort(key=lambda event: (event.id, event.timestamp_ms))
        started = next((event for event in group if event.type == "ExecutionStarted"), None)
        start_ms = started.timestamp_ms if started else min(event.timestamp_ms for event in group)
        terminal = next((event for event in reversed(group) if event.type in TERMINAL_STATUS), None)
        machine, name = parse_execution_arn(arn)
        summaries.append(
            ExecutionSummary(
                execution_arn=arn,
                name=name,
                state_machine=machine,
                status=TERMINAL_STATUS[terminal.type] if terminal else "RUNNING",
                start_ms=start_ms,
                stop_ms=terminal.timestamp_ms if terminal else None,
                error=terminal.details.get("error") if terminal else None,
                cause=terminal.details.get("cause") if terminal else None,
                events=len(group),
            )
        )
    summaries.sort(key=lambda summary: (summary.start_ms, summary.execution_arn), reverse=True)
    return summaries


def history_rows(events: Iterable[LogEvent]) -> list[HistoryRow]:
    """One execution's events in id order, each with its step and time since the start."""
    ordered = sorted(events, key=lambda event: (event.id, event.timestamp_ms))
    if not ordered:
        return []
    started = next((event for event in ordered if event.type == "ExecutionStarted"), ordered[0])
    step_of: dict[int, str] = {}
    rows = []
    for event in ordered:
        if event.type.startswith("Execution"):
            step = ""
        elif isinstance(event.details.get("name"), str):
            step = event.details["name"]
        else:
            # Task, Lambda and Map/Parallel progress events belong to the state that caused them.
            step = step_of.get(event.previous_event_id, "")
        step_of[event.id] = step
        rows.append(HistoryRow(event=event, step=step, elapsed_ms=event.timestamp_ms - started.timestamp_ms))
    return rows
