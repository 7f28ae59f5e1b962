"""``express run`` without Kafka: a JSON-lines stream through the IoT router."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from express.examples import IOT
from express.runtime.run_cli import main

ROUTER = str(IOT / "router.asl.json")
HANDLERS = str(IOT / "handlers.py")


def _lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_a_file_stream_gives_one_output_or_dead_letter_per_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        b'{"device_id": "d1", "site": "plant-a", "type": "temperature", "value": 95, "unit": "F", '
        b'"ts": "t1"}\n'
        b"\n"
        b"not json\n"
        b'{"device_id": "d2", "site": "plant-a", "type": "co2", "value": 400, "ts": "t2"}\n'
        b'{"device_id": "d3", "site": "depot-c", "type": "humidity", "value": 40, "unit": "%", "ts": "t3"}'
    )
    outputs, letters = tmp_path / "out" / "outputs.jsonl", tmp_path / "out" / "dead.jsonl"
    code = main([ROUTER, "--handlers", HANDLERS, "--input-file", str(source), "--output-file", str(outputs),
                 "--dlq-file", str(letters), "--loop", "asyncio"])  # fmt: skip
    assert code == 0
    produced = _lines(outputs)
    assert [o["device"] for o in produced] == ["d1", "d3"]
    assert produced[0]["route"] == "alerts" and produced[0]["unit"] == "C"
    dead = _lines(letters)
    assert [(d["source"]["offset"], d["status"]) for d in dead] == [(2, "NOT_STARTED"), (3, "FAILED")]
    assert dead[1]["error"] == "UnknownReading"
    assert dead[1]["execution_name"] == "in_jsonl-0-3"
    summary = capsys.readouterr().err
    assert "4 records, 2 succeeded, 2 dead letters" in summary


def test_the_bundled_stream_runs_through_stdin_and_stdout(tmp_path: Path) -> None:
    readings = (IOT / "readings.jsonl").read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "express.runtime.run_cli", ROUTER, "--handlers", HANDLERS],
        input=readings,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    outputs = done.stdout.splitlines()
    letters = [line for line in done.stderr.splitlines() if line.startswith(b"{")]
    records = len([line for line in readings.splitlines() if line.strip()])
    assert len(outputs) + len(letters) == records
    assert all(orjson.loads(line)["route"] for line in outputs)
    assert b"express run: %d records" % records in done.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [ROUTER, "--handlers", HANDLERS, "--input-file", "/nonexistent/in.jsonl"],
            "cannot read /nonexistent",
        ),
        (["/nonexistent/machine.json", "--input-file", ROUTER], "cannot read definition"),
        ([ROUTER, "--processes", "2"], "a file stream runs in one process"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
