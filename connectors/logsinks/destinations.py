"""Choosing a log sink from one text setting, as a command line or config file gives it.

    stdout | -            one AWS record per line on standard output
    kafka:<topic>         AWS records produced to a topic (needs bootstrap servers)
    file:<folder> | <folder>
                          the local CloudWatch-style store ``express logs`` reads

The caller owns the sink it gets: close it (``close()``) at shutdown, or, for Kafka, run
its ``run`` task in the application's task group.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors.logsinks.kafka import KafkaLogSink
from connectors.logsinks.stdout import StdoutLogSink
from connectors.logsinks.store import LocalLogStore
from express.errors import UsageError
from express.logs.sink import DropReporter

__all__ = ["open_log_sink"]


def open_log_sink(
    destination: str,
    *,
    log_group: str,
    bootstrap_servers: str | None = None,
    retention_days: float | None = None,
    on_drop: DropReporter | None = None,
    producer_options: Mapping[str, Any] | None = None,
) -> LocalLogStore | StdoutLogSink | KafkaLogSink:
    """The sink ``destination`` names; ``log_group`` is the folder a local store writes.

    ``producer_options`` go to a Kafka sink's aiokafka producer (security settings, client id).
    """
    text = destination.strip()
    if text in {"stdout", "-"}:
        return StdoutLogSink(on_drop=on_drop)
    if text.startswith("kafka:"):
        topic = text.removeprefix("kafka:")
        if not topic:
            raise UsageError("log destination kafka: needs a topic, e.g. kafka:express-logs")
        if bootstrap_servers is None:
            raise UsageError(f"log destination {text!r} needs Kafka: set --bootstrap-servers")
        return KafkaLogSink(
            topic, bootstrap_servers=bootstrap_servers, producer_options=producer_options, on_drop=on_drop
        )
    folder = text.removeprefix("file:")
    # "s3://..." and the like are not folders; a colon in a real folder's name is allowed.
    if not folder or (":" in folder.split("/", 1)[0] and not Path(folder).exists()):
        raise UsageError(
            f"unknown log destination {destination!r}: use stdout, kafka:<topic>, or a folder (file:<folder>)"
        )
    return LocalLogStore(folder, log_group, retention_days=retention_days, on_drop=on_drop)
