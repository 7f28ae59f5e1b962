"""``express logs``: the executions in a local log store, and one execution's event history.

    express logs [--store DIR] [--state-machine NAME] [--status FAILED] [--since 1h] [--json]
    express logs <execution name or ARN> [--store DIR] [--json]

The first form lists executions, most recent first: name, status, start, duration and
error. The second prints the event history the way the AWS console's "Execution event
history" does: id, type, step, elapsed milliseconds since the start, and timestamp.
``--json`` prints the same data as one JSON document, for tools.

``express.cli`` registers the subcommand with ``add_logs_arguments`` and runs
``logs_command``; a bad argument raises ``UsageError`` (exit status 2), an execution
that is not in the store gives exit status 1.
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

import orjson

from express.errors import UsageError
from express.logs.layout import DEFAULT_LOG_STORE as STORE_FOLDER
from express.logs.query import (
    STATUSES,
    ExecutionSummary,
    HistoryRow,
    LogEvent,
    LogStoreReader,
    history_rows,
    summarize,
)
from express.runtime.context import iso_timestamp

__all__ = ["DEFAULT_LOG_STORE", "add_logs_arguments", "logs_command", "parse_time"]

DEFAULT_LOG_STORE = Path(STORE_FOLDER)
_RELATIVE = re.compile(r"(?P<amount>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def add_logs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "execution",
        nargs="?",
        help="an execution name or ARN: show its event history instead of listing executions",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=DEFAULT_LOG_STORE,
        help=f"the local log store folder (default: {DEFAULT_LOG_STORE})",
    )
    parser.add_argument("--log-group", help="only this log group (default: every group in the store)")
    parser.add_argument("--state-machine", help="only executions of this state machine")
    parser.add_argument(
        "--status",
        action="append",
        type=str.upper,
        choices=STATUSES,
        help="only executions with this status (repeatable)",
    )
    parser.add_argument(
        "--since", help="only executions started at or after this time: ISO 8601, epoch ms, or 15m/2h/1d ago"
    )
    parser.add_argument("--until", help="only executions started before this time (same forms as --since)")
    parser.add_argument(
        "--limit", type=int, default=50, help="list at most this many executions (default: 50)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def logs_command(args: argparse.Namespace, *, out: TextIO | None = None, now: float | None = None) -> int:
    out = out if out is not None else sys.stdout
    current = time.time() if now is None else now
    since_ms = parse_time(args.since, current) if args.since else None
    until_ms = parse_time(args.until, current) if args.until else None
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    store = Path(args.store)
    if not store.is_dir():
        print(
            f"express logs: no log store at {store}; pass --store with the folder the worker logs to",
            file=sys.stderr,
        )
        return 1
    reader = LogStoreReader(store, args.log_group)
    events = reader.events(state_machine=args.state_machine, since_ms=since_ms, until_ms=until_ms)
    if args.execution:
        return _show_history(args.execution, list(events), args.json, out)
    summaries = [
        summary
        for summary in summarize(events)
        if (args.state_machine is None or summary.state_machine == args.state_machine)
        and (not args.status or summary.status in args.status)
        and (since_ms is None or summary.start_ms >= since_ms)
        and (until_ms is None or summary.start_ms < until_ms)
    ][: args.limit]
    if args.json:
        out.write(orjson.dumps([_summary_json(summary) for summary in summaries]).decode() + "\n")
    elif summaries:
        out.write(
            _table(
                ("NAME", "STATE MACHINE", "STATUS", "STARTED", "DURATION", "ERROR"),
                map(_summary_row, summaries),
            )
        )
    else:
        out.write("no executions found\n")
    if reader.skipped:
        print(f"express logs: skipped {reader.skipped} damaged line(s) in {store}", file=sys.stderr)
    return 0


def parse_time(text: str, now: float) -> int:
    """Epoch ms from ISO 8601, from epoch ms, or from a span ago (``90s``, ``15m``, ``2h``, ``1d``)."""
    text = text.strip()
    relative = _RELATIVE.fullmatch(text)
    if relative:
        return round((now - float(relative["amount"]) * _UNIT_SECONDS[relative["unit"]]) * 1000)
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"cannot read the time {text!r}: use ISO 8601 (2024-04-24T11:50:00Z), epoch milliseconds, "
            "or a span ago such as 15m, 2h or 1d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return round(moment.timestamp() * 1000)


def _show_history(wanted: str, events: list[LogEvent], as_json: bool, out: TextIO) -> int:
    arns = sorted({event.execution_arn for event in events})
    matches = [arn for arn in arns if arn == wanted]
    if not matches:
        matches = [arn for arn in arns if arn.split(":")[7:8] == [wanted] or arn.endswith(":" + wanted)]
    if not matches:
        print(
            f"express logs: no execution {wanted!r} in the store (list them with `express logs`)",
            file=sys.stderr,
        )
        return 1
    if len(matches) > 1:
        listing = "\n  ".join(matches)
        print(
            f"express logs: {wanted!r} names {len(matches)} executions; give one ARN:\n  {listing}",
            file=sys.stderr,
        )
        return 1
    rows = history_rows(event for event in events if event.execution_arn == matches[0])
    if as_json:
        document = {"execution_arn": matches[0], "events": [_row_json(row) for row in rows]}
        out.write(orjson.dumps(document).decode() + "\n")
    else:
        out.write(_table(("ID", "TYPE", "STEP", "ELAPSED (MS)", "TIMESTAMP"), map(_history_row, rows)))
    return 0


def _summary_json(summary: ExecutionSummary) -> dict[str, Any]:
    return {
        "name": summary.name,
        "execution_arn": summary.execution_arn,
        "state_machine": summary.state_machine,
        "status": summary.status,
        "start": iso_timestamp(summary.start_ms / 1000),
        "start_ms": summary.start_ms,
        "stop_ms": summary.stop_ms,
        "duration_ms": summary.duration_ms,
        "error": summary.error,
        "cause": summary.cause,
        "events": summary.events,
    }


def _summary_row(summary: ExecutionSummary) -> tuple[str, ...]:
    duration = "-" if summary.duration_ms is None else f"{summary.duration_ms} ms"
    return (
        summary.name,
        summary.state_machine,
        summary.status,
        iso_timestamp(summary.start_ms / 1000),
        duration,
        summary.error or "",
    )


def _row_json(row: HistoryRow) -> dict[str, Any]:
    document = row.event.to_json()
    document["step"] = row.step
    document["elapsed_ms"] = row.elapsed_ms
    document["timestamp"] = iso_timestamp(row.event.timestamp_ms / 1000)
    return document


def _history_row(row: HistoryRow) -> tuple[str, ...]:
    event = row.event
    return (
        str(event.id),
        event.type,
        row.step or "-",
        str(row.elapsed_ms),
        iso_timestamp(event.timestamp_ms / 1000),
    )


def _table(header: Sequence[str], rows: Iterable[tuple[str, ...]]) -> str:
    body = [tuple(header), *rows]
    widths = [max(len(row[column]) for row in body) for column in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in body
    ]
    return "\n".join(lines) + "\n"
