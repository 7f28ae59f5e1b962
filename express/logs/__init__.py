"""Execution logs in AWS's Express format.

An execution's ``History`` buffers its events and hands them to its recorder in one
call; the recorder filters by log level, formats the events as AWS writes them to
CloudWatch Logs and hands the lines to a ``LogSink`` (see ``connectors.logsinks``).
``express.logs.query`` reads a local log store back into executions and their event
histories.
"""

from express.logs.config import LoggingConfiguration, default_log_group
from express.logs.format import PAYLOAD_LIMIT_BYTES, format_event
from express.logs.levels import ERROR_EVENT_TYPES, FATAL_EVENT_TYPES, HISTORY_EVENT_TYPES, LogLevel
from express.logs.recorder import ExecutionLogger, ExecutionRecorder, Recorder, make_recorder
from express.logs.sink import DropReporter, LogSink, SinkStats

__all__ = [
    "ERROR_EVENT_TYPES",
    "FATAL_EVENT_TYPES",
    "HISTORY_EVENT_TYPES",
    "PAYLOAD_LIMIT_BYTES",
    "DropReporter",
    "ExecutionLogger",
    "ExecutionRecorder",
    "LogLevel",
    "LogSink",
    "LoggingConfiguration",
    "Recorder",
    "SinkStats",
    "default_log_group",
    "format_event",
    "make_recorder",
]
