"""The logging configuration of a state machine, as AWS's ``LoggingConfiguration`` has it.

``LoggingConfiguration`` is frozen and built once, before any execution runs. It can be
read from AWS's own document (``{"level": ..., "includeExecutionData": ...,
"destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": "...:log-group:NAME:*"}}]}``)
with AWS's checks: a known level, at most one destination, a destination unless the
level is ``OFF``, a log group ARN ending in ``:*``.

Invariant: a configuration never turns itself off quietly. AWS treats a document that
names a destination but no level as ``OFF`` and logs nothing; here that document is
rejected with a message that says how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from express.errors import UsageError
from express.logs.levels import LogLevel

__all__ = ["LoggingConfiguration", "default_log_group"]

# CloudWatch Logs' rule for log group names.
_GROUP_NAME = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")
_GROUP_ARN = re.compile(r"arn:[^:]+:logs:[^:]*:[^:]*:log-group:(?P<name>[^:]+):\*")


def default_log_group(state_machine_name: str) -> str:
    """``/aws/vendedlogs/states/<name>``: under the prefix AWS recommends for Step Functions groups.

    (The console names the group it creates ``.../<name>-Logs``; pass that explicitly to match.)
    """
    return f"/aws/vendedlogs/states/{state_machine_name}"


@dataclass(frozen=True, slots=True)
class LoggingConfiguration:
    """What to log (``level``), whether payloads are included, and into which log group."""

    level: LogLevel = LogLevel.OFF
    include_execution_data: bool = False
    log_group: str | None = None  # None: the state machine's default group

    def __post_init__(self) -> None:
        if not isinstance(self.level, LogLevel):
            object.__setattr__(self, "level", _parse_level(self.level))
        if self.log_group is not None and not _GROUP_NAME.fullmatch(self.log_group):
            raise UsageError(
                f"invalid log group name {self.log_group!r}: CloudWatch Logs allows 1 to 512 of "
                "the characters a-z A-Z 0-9 . - _ / #"
            )

    @property
    def enabled(self) -> bool:
        return self.level is not LogLevel.OFF

    def group_for(self, state_machine_name: str) -> str:
        return self.log_group or default_log_group(state_machine_name)

    @classmethod
    def from_aws(cls, document: Mapping[str, Any]) -> LoggingConfiguration:
        """Read AWS's ``LoggingConfiguration`` document, checking it as CreateStateMachine does."""
        unknown = set(document) - {"level", "includeExecutionData", "destinations"}
        if unknown:
            raise UsageError(
                f"unknown key(s) {sorted(unknown)} in the logging configuration; "
                "expected level, includeExecutionData and destinations"
            )
        destinations = document.get("destinations") or []
        if not isinstance(destinations, list):
            raise UsageError("logging configuration: destinations must be a list")
        if "level" not in document:
            if destinations:
                raise UsageError(
                    "logging configuration names a destination but no level, which AWS reads as OFF "
                    "(nothing would be logged); set level to ALL, ERROR or FATAL, or to OFF explicitly"
                )
            level = LogLevel.OFF
        else:
            level = _parse_level(document["level"])
        include = document.get("includeExecutionData", False)
        if not isinstance(include, bool):
            raise UsageError(
                f"logging configuration: includeExecutionData must be true or false, not {include!r}"
            )
        if len(destinations) > 1:
            raise UsageError("logging configuration: destinations is limited to one log group")
        group: str | None = None
        if destinations:
            group = _group_from_destination(destinations[0])
        elif level is not LogLevel.OFF:
            raise UsageError(
                f"logging configuration: level {level} needs a destination, e.g. "
                '"destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": '
                '"arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/NAME:*"}}]'
            )
        return cls(level=level, include_execution_data=include, log_group=group)


def _parse_level(value: object) -> LogLevel:
    try:
        return LogLevel(value if isinstance(value, str) else repr(value))
    except ValueError:
        raise UsageError(f"unknown log level {value!r}; expected one of ALL, ERROR, FATAL, OFF") from None


def _group_from_destination(destination: object) -> str:
    arn = None
    if isinstance(destination, Mapping):
        group = destination.get("cloudWatchLogsLogGroup")
        if isinstance(group, Mapping):
            arn = group.get("logGroupArn")
    if not isinstance(arn, str):
        raise UsageError(
            'logging configuration: a destination is {"cloudWatchLogsLogGroup": {"logGroupArn": "..."}}'
        )
    match = _GROUP_ARN.fullmatch(arn)
    if match is None:
        raise UsageError(
            f"logging configuration: {arn!r} is not a log group ARN ending in ':*' "
            "(arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*)"
        )
    return match["name"]
