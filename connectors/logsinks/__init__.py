"""Log sinks: where execution log lines go.

``LocalLogStore``   a CloudWatch-style log group on the local file system (``express logs`` reads it)
``StdoutLogSink``   one AWS record per line on standard output
``KafkaLogSink``    AWS records produced to a Kafka topic, keyed by execution ARN
``MemoryLogSink``   every line kept in memory, for tests and benchmarks

``open_log_sink`` picks one from a setting (``stdout``, ``kafka:<topic>``, a folder).

All of them satisfy ``express.logs.LogSink``: ``write`` never blocks, and every line is
either delivered or counted as dropped, with the reason reported.
"""

from connectors.logsinks.destinations import open_log_sink
from connectors.logsinks.kafka import KafkaLogSink, LogProducer
from connectors.logsinks.memory import MemoryLogSink
from connectors.logsinks.stdout import StdoutLogSink
from connectors.logsinks.store import LocalLogStore
from connectors.logsinks.writer import BatchWriter, BoundedQueue

__all__ = [
    "BatchWriter",
    "BoundedQueue",
    "KafkaLogSink",
    "LocalLogStore",
    "LogProducer",
    "MemoryLogSink",
    "StdoutLogSink",
    "open_log_sink",
]
