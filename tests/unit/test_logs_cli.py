"""``express logs`` over a store written by the recorder and the local store sink."""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.logsinks import LocalLogStore
from express.errors import UsageError
from express.logs import ExecutionLogger, LoggingConfiguration, LogLevel
from express.logs.layout import group_dir
from express.logs.query import LogStoreReader, parse_execution_arn, summarize
from express.logs_cli import add_logs_arguments, logs_command, parse_time

T0 = 1713959670.0  # 2024-04-24T11:54:30Z
NOW = T0 + 3600
PREFIX = "arn:aws:states:us-east-1:111111111111:express:"


def arn(machine: str, name: str) -> str:
    return f"{PREFIX}{machine}:{name}:0c7b0c1e-0000-4000-8000-{abs(hash(name)) % 10**12:012d}"


def _succeeding(record: Any, start: float) -> None:
    record(1, "ExecutionStarted", {"input": {"v": 1}, "roleArn": "r"}, 0, start)
    record(2, "TaskStateEntered", {"name": "Enrich", "input": {"v": 1}}, 0, start + 0.010)
    record(3, "LambdaFunctionScheduled", {"resource": "enrich", "input": {"v": 1}}, 2, start + 0.011)
    record(4, "LambdaFunctionStarted", {}, 3, start + 0.012)
    record(5, "LambdaFunctionSucceeded", {"output": {"v": 2}}, 4, start + 0.040)
    record(6, "TaskStateExited", {"name": "Enrich", "output": {"v": 2}}, 5, start + 0.041)
    record(7, "ExecutionSucceeded", {"output": {"v": 2}}, 6, start + 0.042)


def _failing(record: Any, start: float) -> None:
    record(1, "ExecutionStarted", {"input": {}, "roleArn": "r"}, 0, start)
    record(2, "FailStateEntered", {"name": "Reject", "input": {}}, 0, start + 0.001)
    record(3, "ExecutionFailed", {"error": "UnknownReading", "cause": "no such type"}, 2, start + 0.003)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    config = LoggingConfiguration(LogLevel.ALL, True, log_group="/aws/vendedlogs/states/iot-Logs")
    with LocalLogStore(tmp_path, "/aws/vendedlogs/states/iot-Logs") as sink:
        router = ExecutionLogger(config, sink, "Router")
        audit = ExecutionLogger(config, sink, "Audit")
        for logger, name, scenario, start in [
            (router, "r-ok-1", _succeeding, T0),
            (router, "r-bad", _failing, T0 + 60),
            (router, "r-ok-2", _succeeding, T0 + 120),
            (audit, "a-ok", _succeeding, T0 + 180),
        ]:
            recorder = logger.recorder(arn(logger.state_machine_name, name))
            assert recorder is not None
            scenario(recorder, start)
        running = router.recorder(arn("Router", "r-running"))
        assert running is not None
        running(1, "ExecutionStarted", {"input": {}, "roleArn": "r"}, 0, T0 + 240)
    return tmp_path


def run(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    add_logs_arguments(parser)
    out = io.StringIO()
    code = logs_command(parser.parse_args(argv), out=out, now=NOW)
    return code, out.getvalue()


def test_lists_executions_most_recent_first(store: Path) -> None:
    code, text = run("--store", str(store))
    assert code == 0
    lines = text.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "MACHINE", "STATUS", "STARTED", "DURATION", "ERROR"]
    assert [line.split()[0] for line in lines[1:]] == ["r-running", "a-ok", "r-ok-2", "r-bad", "r-ok-1"]
    assert lines[4].split() == [
        "r-bad",
        "Router",
        "FAILED",
        "2024-04-24T11:55:30.000Z",
        "3",
        "ms",
        "UnknownReading",
    ]
    assert lines[1].split() == ["r-running", "Router", "RUNNING", "2024-04-24T11:58:30.000Z", "-"]
    assert lines[5].split()[2:6] == ["SUCCEEDED", "2024-04-24T11:54:30.000Z", "42", "ms"]


def test_lists_as_json_with_filters(store: Path) -> None:
    code, text = run("--store", str(store), "--json", "--state-machine", "Router", "--status", "succeeded")
    assert code == 0
    listed = orjson.loads(text)
    assert [item["name"] for item in listed] == ["r-ok-2", "r-ok-1"]
    assert listed[1] == {
        "name": "r-ok-1",
        "execution_arn": arn("Router", "r-ok-1"),
        "state_machine": "Router",
        "status": "SUCCEEDED",
        "start": "2024-04-24T11:54:30.000Z",
        "start_ms": 1713959670000,
        "stop_ms": 1713959670042,
        "duration_ms": 42,
        "error": None,
        "cause": None,
        "events": 7,
    }


def test_time_range_and_limit(store: Path) -> None:
    _, text = run(
        "--store", str(store), "--json", "--since", "2024-04-24T11:55:00Z", "--until", "2024-04-24T11:57:00Z"
    )
    assert [item["name"] for item in orjson.loads(text)] == ["r-ok-2", "r-bad"]
    _, text = run("--store", str(store), "--json", "--since", "58m")  # NOW - 58 min = T0 + 120 s
    assert [item["name"] for item in orjson.loads(text)] == ["r-running", "a-ok", "r-ok-2"]
    _, text = run("--store", str(store), "--json", "--limit", "2")
    assert len(orjson.loads(text)) == 2


def test_shows_history_like_the_console(store: Path) -> None:
    code, text = run("--store", str(store), "r-ok-1")
    assert code == 0
    rows = [line.split() for line in text.splitlines()]
    assert rows[0] == ["ID", "TYPE", "STEP", "ELAPSED", "(MS)", "TIMESTAMP"]
    assert rows[1:] == [
        ["1", "ExecutionStarted", "-", "0", "2024-04-24T11:54:30.000Z"],
        ["2", "TaskStateEntered", "Enrich", "10", "2024-04-24T11:54:30.010Z"],
        ["3", "LambdaFunctionScheduled", "Enrich", "11", "2024-04-24T11:54:30.011Z"],
        ["4", "LambdaFunctionStarted", "Enrich", "12", "2024-04-24T11:54:30.012Z"],
        ["5", "LambdaFunctionSucceeded", "Enrich", "40", "2024-04-24T11:54:30.040Z"],
        ["6", "TaskStateExited", "Enrich", "41", "2024-04-24T11:54:30.041Z"],
        ["7", "ExecutionSucceeded", "-", "42", "2024-04-24T11:54:30.042Z"],
    ]


def test_history_as_json_by_arn(store: Path) -> None:
    code, text = run("--store", str(store), "--json", arn("Router", "r-bad"))
    assert code == 0
    document = orjson.loads(text)
    assert document["execution_arn"] == arn("Router", "r-bad")
    assert [(e["id"], e["type"], e["step"], e["elapsed_ms"]) for e in document["events"]] == [
        (1, "ExecutionStarted", "", 0),
        (2, "FailStateEntered", "Reject", 1),
        (3, "ExecutionFailed", "", 3),
    ]
    assert document["events"][2]["details"] == {"cause": "no such type", "error": "UnknownReading"}
    assert document["events"][1]["stream"] == "states/Router/2024-04-24-11-55/00000000"


def test_unknown_and_ambiguous_executions(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--store", str(store), "nope")[0] == 1
    assert "no execution 'nope'" in capsys.readouterr().err
    with LocalLogStore(store, "other") as sink:
        recorder = ExecutionLogger(LoggingConfiguration(LogLevel.ALL), sink, "Audit").recorder(
            arn("Audit", "r-bad")
        )
        assert recorder is not None
        recorder(1, "ExecutionStarted", {"roleArn": "r"}, 0, T0)
    assert run("--store", str(store), "r-bad")[0] == 1
    assert "'r-bad' names 2 executions" in capsys.readouterr().err
    assert run("--store", str(store), "--log-group", "other", "r-bad")[0] == 0


def test_missing_store_and_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--store", str(tmp_path / "absent"))[0] == 1
    assert "no log store at" in capsys.readouterr().err
    with pytest.raises(UsageError, match="cannot read the time 'yesterday'"):
        run("--store", str(tmp_path), "--since", "yesterday")
    with pytest.raises(UsageError, match="--limit"):
        run("--store", str(tmp_path), "--limit", "0")
    code, text = run("--store", str(tmp_path))
    assert (code, text) == (0, "no executions found\n")


def test_damaged_lines_are_skipped_and_reported(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stream = group_dir(store, "/aws/vendedlogs/states/iot-Logs") / "states/Router/2024-04-24-11-54/00000000"
    with stream.open("ab") as file:
        file.write(b'{"timestamp":1,"message":"{\\"id\\":')
    code, text = run("--store", str(store), "--json")
    assert code == 0
    assert len(orjson.loads(text)) == 5
    assert "skipped 1 damaged line(s)" in capsys.readouterr().err


def test_error_level_logs_still_list_failures(tmp_path: Path) -> None:
    with LocalLogStore(tmp_path, "g") as sink:
        recorder = ExecutionLogger(LoggingConfiguration(LogLevel.ERROR), sink, "Router").recorder(
            arn("Router", "x")
        )
        assert recorder is not None
        _failing(recorder, T0)
    summaries = summarize(LogStoreReader(tmp_path).events())
    assert [(s.name, s.status, s.start_ms, s.duration_ms) for s in summaries] == [
        ("x", "FAILED", 1713959670001, 2)
    ]


def test_parse_time_forms() -> None:
    assert parse_time("1713959670000", NOW) == 1713959670000
    assert parse_time("2024-04-24T11:54:30Z", NOW) == 1713959670000
    assert parse_time("2024-04-24T13:54:30+02:00", NOW) == 1713959670000
    assert parse_time("2024-04-24", NOW) == 1713916800000
    assert parse_time("90s", NOW) == round((NOW - 90) * 1000)
    assert parse_time("1d", NOW) == round((NOW - 86400) * 1000)


def test_parse_execution_arn() -> None:
    assert parse_execution_arn(arn("Router", "r-1")) == ("Router", "r-1")
    assert parse_execution_arn("arn:aws:states:us-east-1:1:execution:Std:run-7") == ("Std", "run-7")
    assert parse_execution_arn("whatever") == ("", "whatever")


def test_reads_events_whose_message_is_an_escaped_string(tmp_path: Path) -> None:
    # The form CloudWatch's GetLogEvents returns, e.g. from an exported group.
    stream = group_dir(tmp_path, "exported") / "states/Router/2024-04-24-11-54/00000000"
    stream.parent.mkdir(parents=True)
    record = {
        "id": "3",
        "type": "ExecutionFailed",
        "details": {"cause": "c", "error": "E"},
        "previous_event_id": "2",
        "event_timestamp": "1713959670005",
        "execution_arn": arn("Router", "old"),
        "redrive_count": "0",
    }
    stream.write_bytes(
        orjson.dumps({"timestamp": 1713959670005, "message": orjson.dumps(record).decode()}) + b"\n"
    )
    summaries = summarize(LogStoreReader(tmp_path).events())
    assert [(s.name, s.status, s.error) for s in summaries] == [("old", "FAILED", "E")]
