"""Execution logs and metrics of ``express run``: the options, and a worker's telemetry.

The options follow the rest of the configuration (command line, ``EXPRESS_*`` variables,
config file) and refuse settings that would quietly log nothing. ``Telemetry`` opens the
configured sink, feeds the workflow, serves ``/metrics`` and ``/healthz`` and reports
drops; the JSON-lines runs here go end to end through ``express run`` without a broker.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.logsinks import MemoryLogSink
from express.errors import UsageError
from express.examples import IOT
from express.logs import LogLevel
from express.logs.query import LogStoreReader, summarize
from express.runtime.config import load_config
from express.runtime.records import Partition
from express.runtime.run_cli import add_run_arguments, main
from express.runtime.stats import Stats
from express.runtime.telemetry import Telemetry

ROUTER = str(IOT / "router.asl.json")
HANDLERS = str(IOT / "handlers.py")
GROUP_ARN = "arn:aws:logs:us-east-1:111111111111:log-group:/aws/vendedlogs/states/router-Logs:*"


def _cli(*argv: str) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    return vars(parser.parse_args(argv))


# -- the options ------------------------------------------------------------------------------


def test_logging_is_off_unless_asked_for() -> None:
    config = load_config(_cli("router.asl.json"), environ={})
    assert config.logging.level is LogLevel.OFF and not config.logging.enabled
    assert config.effective_log_destination == "express-logs"  # where `express logs` looks by default


def test_the_options_build_awss_logging_configuration() -> None:
    argv = ["router.asl.json", "--execution-log-level", "all", "--include-execution-data",
            "--log-destination", "/var/log/express", "--log-retention-days", "7"]  # fmt: skip
    config = load_config(_cli(*argv), environ={})
    assert config.logging.level is LogLevel.ALL
    assert config.logging.include_execution_data is True
    assert config.logging.log_group == "/aws/vendedlogs/states/router"
    assert (config.effective_log_destination, config.log_retention_days) == ("/var/log/express", 7.0)
    assert config.log_level is None  # the worker's own Python logging is a different setting


def test_the_same_keys_come_from_the_environment_and_a_config_file(tmp_path: Path) -> None:
    file = tmp_path / "run.toml"
    file.write_text(
        'definition = "router.asl.json"\nexecution-log-level = "ERROR"\nlog-group = "/custom/group"\n'
        "include_execution_data = true\n"
    )
    environ = {"EXPRESS_EXECUTION_LOG_LEVEL": "FATAL", "EXPRESS_LOG_DESTINATION": "stdout"}
    config = load_config(_cli("--output-file", "out.jsonl"), environ=environ, config_file=str(file))
    assert config.logging.level is LogLevel.FATAL
    assert config.logging.log_group == "/custom/group"
    assert config.logging.include_execution_data is True
    assert config.effective_log_destination == "stdout"


def test_an_aws_logging_configuration_file_sets_level_data_and_group(tmp_path: Path) -> None:
    document = tmp_path / "logging.json"
    document.write_bytes(
        orjson.dumps(
            {
                "level": "ERROR",
                "includeExecutionData": True,
                "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": GROUP_ARN}}],
            }
        )
    )
    config = load_config(_cli("router.asl.json", "--logging-configuration", str(document)), environ={})
    assert (config.logging.level, config.logging.include_execution_data) == (LogLevel.ERROR, True)
    assert config.logging.log_group == "/aws/vendedlogs/states/router-Logs"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--log-destination", "logs"), "--log-destination is set but --execution-log-level is not"),
        (("--include-execution-data",), "nothing would be logged"),
        (("--execution-log-level", "ALL", "--log-destination", "stdout"), "would mix log records"),
        (("--execution-log-level", "ALL", "--log-destination", "kafka:logs"), "needs Kafka"),
        (("--execution-log-level", "ALL", "--log-destination", "kafka:"), "needs a topic"),
        (("--execution-log-level", "ALL", "--log-destination", "-", "--log-retention-days", "3"), "a folder"),
        (("--execution-log-level", "ALL", "--log-retention-days", "0"), "must be positive"),
        (("--execution-log-level", "ALL", "--log-group", "bad group!"), "invalid log group name"),
        (("--stall-timeout", "0"), "--stall-timeout must be positive"),
    ],
)
def test_settings_that_would_log_nothing_or_cannot_work_are_refused(
    argv: tuple[str, ...], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        load_config(_cli("router.asl.json", *argv), environ={})


def test_an_explicit_off_keeps_a_destination_quiet_on_purpose() -> None:
    config = load_config(
        _cli("router.asl.json", "--execution-log-level", "OFF", "--log-destination", "logs"), environ={}
    )
    assert not config.logging.enabled


def test_a_level_from_the_environment_is_checked() -> None:
    with pytest.raises(UsageError, match="--execution-log-level must be ALL, ERROR, FATAL or OFF"):
        load_config(_cli("router.asl.json"), environ={"EXPRESS_EXECUTION_LOG_LEVEL": "verbose"})


def test_a_logging_configuration_file_and_the_options_do_not_mix(tmp_path: Path) -> None:
    document = tmp_path / "logging.json"
    document.write_text('{"level": "OFF"}')
    argv = ("router.asl.json", "--logging-configuration", str(document), "--execution-log-level", "ALL")
    with pytest.raises(UsageError, match="keep one"):
        load_config(_cli(*argv), environ={})
    document.write_text('{"level": "ALL"}')
    with pytest.raises(UsageError, match="needs a destination"):
        load_config(_cli("router.asl.json", "--logging-configuration", str(document)), environ={})
    document.write_text("[1]")
    with pytest.raises(UsageError, match="must hold a JSON object"):
        load_config(_cli("router.asl.json", "--logging-configuration", str(document)), environ={})
    with pytest.raises(UsageError, match="cannot read logging configuration"):
        load_config(_cli("router.asl.json", "--logging-configuration", str(tmp_path / "no")), environ={})


# -- express run over JSON lines --------------------------------------------------------------


def _readings(tmp_path: Path) -> Path:
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        b'{"device_id": "d1", "site": "plant-a", "type": "temperature", "value": 95, "unit": "F", '
        b'"ts": "t1"}\n'
        b"not json\n"
        b'{"device_id": "d2", "site": "plant-a", "type": "co2", "value": 400, "ts": "t2"}\n'
    )
    return source


def _stream(tmp_path: Path) -> list[str]:
    """``express run`` of the IoT router over a small JSON-lines file, outputs to files."""
    out, dlq = str(tmp_path / "out.jsonl"), str(tmp_path / "dlq.jsonl")
    return [ROUTER, "--handlers", HANDLERS, "--input-file", str(_readings(tmp_path)), "--loop", "asyncio",
            "--output-file", out, "--dlq-file", dlq]  # fmt: skip


def test_a_json_lines_run_writes_execution_logs_to_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "logs"
    code = main([*_stream(tmp_path), "--execution-log-level", "ERROR", "--log-destination", str(store)])
    assert code == 0
    assert "execution logs: 2 events written to file:" in capsys.readouterr().err
    events = list(LogStoreReader(store, "/aws/vendedlogs/states/router").events())
    # ERROR: the unknown reading's Fail state and the execution's failure; nothing of the success.
    assert sorted(event.type for event in events) == ["ExecutionFailed", "FailStateEntered"]
    (failed,) = summarize(events)
    assert (failed.name, failed.status, failed.error) == ("in_jsonl-0-2", "FAILED", "UnknownReading")


def test_a_json_lines_run_can_log_to_stdout_beside_an_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*_stream(tmp_path), "--execution-log-level", "ALL", "--log-destination", "stdout"])
    assert code == 0
    captured = capsys.readouterr()
    records = [orjson.loads(line) for line in captured.out.splitlines()]
    assert records and all(list(r)[:3] == ["id", "type", "details"] for r in records)
    assert {r["type"] for r in records} >= {"ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed"}
    assert all("input" not in r["details"] for r in records)  # no execution data unless asked for
    assert f"execution logs: {len(records)} events written to stdout, none dropped" in captured.err


def test_logging_off_opens_no_sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(_cli(ROUTER, "--input-file", str(_readings(tmp_path))), environ={})
    telemetry = Telemetry(config, Stats())
    assert (telemetry.sink, telemetry.recorder_factory, telemetry.meter, telemetry.summary()) == (
        None,
        None,
        None,
        None,
    )
    assert not (tmp_path / "express-logs").exists()


# -- telemetry --------------------------------------------------------------------------------


def test_the_summary_says_how_many_events_a_sink_dropped(tmp_path: Path) -> None:
    config = load_config(
        _cli(ROUTER, "--execution-log-level", "ALL", "--log-destination", str(tmp_path)), environ={}
    )
    telemetry = Telemetry(config, Stats())
    telemetry.close()
    telemetry.sink = sink = MemoryLogSink(capacity=1)
    for _ in range(3):
        sink.write(0, b"{}", "router", "arn")
    assert telemetry.summary() == (f"execution logs: 1 events written to file:{tmp_path}, 2 DROPPED (full 2)")


class StalledProbe:
    """A consumer whose broker stopped answering fetches of partition 1 long ago."""

    def __init__(self, ages: Mapping[Partition, float | None]) -> None:
        self.ages = ages

    def end_offset(self, partition: Partition) -> int | None:
        return 10

    def fetch_age(self, partition: Partition) -> float | None:
        return self.ages.get(partition)

    def generation(self) -> int | None:
        return 3


async def _get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    response = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_healthz_fails_when_the_consumer_stalls_and_metrics_are_served(
    anyio_backend: str, tmp_path: Path
) -> None:
    argv = [ROUTER, "--metrics-port", "0", "--stall-timeout", "30", "--execution-log-level", "ERROR",
            "--log-destination", str(tmp_path)]  # fmt: skip
    config = load_config(_cli(*argv), environ={})
    telemetry = Telemetry(config, Stats())
    probe = StalledProbe({("in", 0): 0.5, ("in", 1): 120.0})
    await telemetry.start(0, probe)
    try:
        assert telemetry.meter is not None and telemetry.metrics_port
        telemetry.meter.assigned([("in", 0)])
        status, body = await _get(telemetry.metrics_port, "/healthz")
        assert (status, orjson.loads(body)["status"]) == (200, "ok")

        telemetry.meter.assigned([("in", 0), ("in", 1)])
        status, body = await _get(telemetry.metrics_port, "/healthz")
        report: dict[str, Any] = orjson.loads(body)
        assert status == 503
        assert report["status"] == "stalled"
        assert "partition in/1 not fetched for 120.0s (limit 30s)" in report["reason"]

        status, body = await _get(telemetry.metrics_port, "/metrics")
        text = body.decode()
        assert status == 200
        assert "express_consumer_group_generation 3.0" in text
        assert f'express_log_sink_queue_capacity{{sink="file:{tmp_path}"}}' in text
    finally:
        await telemetry.stop()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", telemetry.metrics_port)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_busy_metrics_port_fails_the_start(anyio_backend: str) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        config = load_config(_cli(ROUTER, "--metrics-port", str(port)), environ={})
        with pytest.raises(UsageError, match=f"cannot start /metrics on 127.0.0.1:{port}"):
            await Telemetry(config, Stats()).start(0, None)
    finally:
        server.close()
        await server.wait_closed()
