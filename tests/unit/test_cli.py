"""The ``express exec`` and ``express validate`` commands: output shape and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from express.cli import main
from express.examples import IOT

ROUTER = str(IOT / "router.asl.json")
HANDLERS = str(IOT / "handlers.py")


def write(tmp_path: Path, definition: object) -> str:
    path = tmp_path / "machine.asl.json"
    path.write_text(json.dumps(definition) if not isinstance(definition, str) else definition)
    return str(path)


def test_exec_prints_the_sync_execution_response(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["exec", ROUTER, "--input-file", str(IOT / "sample-input.json"), "--handlers", HANDLERS])
    assert code == 0
    response = json.loads(capsys.readouterr().out)
    assert response["status"] == "SUCCEEDED"
    output = json.loads(response["output"])  # output is JSON text, as in the AWS API
    assert output["route"] == "alerts"
    assert output["unit"] == "C"
    assert response["executionArn"].startswith("arn:aws:states:us-east-1:111111111111:express:router:")
    assert {"startDate", "stopDate", "input", "name", "stateMachineArn"} <= response.keys()


def test_exec_exits_0_for_a_failed_execution(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    machine = write(tmp_path, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "c"}}})
    assert main(["exec", machine, "--input", "{}"]) == 0
    response = json.loads(capsys.readouterr().out)
    assert (response["status"], response["error"], response["cause"]) == ("FAILED", "E", "c")
    assert "output" not in response


def test_exec_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    machine = write(tmp_path, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    assert main(["exec", machine, "--input", "{not json"]) == 2
    assert "not JSON" in capsys.readouterr().err
    assert main(["exec", str(tmp_path / "missing.json"), "--input", "{}"]) == 2
    assert "cannot read definition" in capsys.readouterr().err
    invalid = write(tmp_path, {"StartAt": "Nope", "States": {"P": {"Type": "Pass", "End": True}}})
    assert main(["exec", invalid, "--input", "{}"]) == 2
    assert "/StartAt" in capsys.readouterr().err


def test_validate_reports_every_problem_with_pointer_and_code(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    machine = write(
        tmp_path,
        {
            "StartAt": "A",
            "States": {
                "A": {"Type": "Pass", "Nxt": "B", "End": True},
                "B": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "End": True,
                },
            },
        },
    )
    assert main(["validate", machine, "--json"]) == 1
    response = json.loads(capsys.readouterr().out)
    assert response["result"] == "FAIL"
    by_location = {d["location"]: d for d in response["diagnostics"]}
    assert "did you mean 'Next'" in by_location["/States/A"]["message"]
    assert by_location["/States/B/Resource"]["code"] == "SCHEMA_VALIDATION_FAILED"
    assert "waitForTaskToken" in by_location["/States/B/Resource"]["message"]


def test_validate_checks_handlers_only_when_given(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    machine = write(
        tmp_path,
        {
            "StartAt": "T",
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
                    "End": True,
                }
            },
        },
    )
    assert main(["validate", machine]) == 0
    assert capsys.readouterr().out.strip() == "valid"
    handlers = tmp_path / "handlers.py"
    handlers.write_text("def g(event):\n    return event\n")
    assert main(["validate", machine, "--handlers", str(handlers)]) == 1
    assert "INVALID_RESOURCE" in capsys.readouterr().out


def test_validate_not_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["validate", write(tmp_path, "not a definition")]) == 1
    assert "INVALID_JSON_DESCRIPTION" in capsys.readouterr().out


def test_console_script_runs_in_a_fresh_interpreter() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "express.cli",
            "exec",
            ROUTER,
            "--handlers",
            HANDLERS,
            "--input",
            orjson.dumps(
                {
                    "device_id": "d",
                    "site": "plant-b",
                    "type": "humidity",
                    "value": 40,
                    "unit": "%",
                    "ts": "2026-01-01T00:00:00Z",
                }
            ).decode(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(json.loads(completed.stdout)["output"])["route"] == "timeseries"
