"""One frozen configuration from defaults, a file, EXPRESS_* variables and the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from express.errors import UsageError
from express.runtime.config import RunConfig, load_config
from express.runtime.run_cli import add_run_arguments


def _cli(*argv: str) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    return vars(parser.parse_args(argv))


def test_defaults_describe_a_json_lines_run() -> None:
    config = load_config(_cli("machine.asl.json"), environ={})
    assert config.definition == "machine.asl.json"
    assert not config.kafka
    assert (config.ordering, config.max_in_flight, config.processes, config.loop) == (
        "partition",
        20_000,
        1,
        "uvloop",
    )
    assert config.effective_log_level == "warning"
    assert config.machine_name == "machine"
    assert config.effective_group_id == "express-machine"


def test_later_sources_win_cli_over_environment_over_file(tmp_path: Path) -> None:
    file = tmp_path / "run.toml"
    file.write_text(
        'definition = "router.asl.json"\n'
        'bootstrap-servers = "file:9092"\ninput_topic = "in"\noutput-topic = "out"\n'
        'max-in-flight = 10\nordering = "key"\ncommit-interval = 2.5\n'
    )
    environ = {"EXPRESS_MAX_IN_FLIGHT": "20", "EXPRESS_ORDERING": "unordered", "EXPRESS_EXACTLY_ONCE": "yes"}
    config = load_config(_cli("--max-in-flight", "30"), environ=environ, config_file=str(file))
    assert config.bootstrap_servers == "file:9092" and config.kafka
    assert config.max_in_flight == 30
    assert config.ordering == "unordered"
    assert config.commit_interval == 2.5
    assert config.exactly_once is True
    assert config.effective_log_level == "info"


def test_the_config_file_can_come_from_the_environment_and_be_json(tmp_path: Path) -> None:
    file = tmp_path / "run.json"
    file.write_text('{"definition": "d.json", "input-file": "in.jsonl"}')
    config = load_config({}, environ={"EXPRESS_CONFIG": str(file)})
    assert (config.definition, config.input_file) == ("d.json", "in.jsonl")


def test_unrelated_express_variables_are_ignored() -> None:
    config = load_config(
        _cli("d.json"), environ={"EXPRESS_TEST_BOOTSTRAP": "x:1", "EXPRESS_KAFKA_CACHE": "/c"}
    )
    assert not config.kafka


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        ((), {}, "no definition"),
        (("d.json", "--bootstrap-servers", "k:9"), {}, "set --input-topic and --output-topic"),
        (("d.json", "--input-topic", "in"), {}, "need --bootstrap-servers"),
        (("d.json", "--processes", "2"), {}, "a file stream runs in one process"),
        (("d.json", "--max-in-flight", "0"), {}, "--max-in-flight must be at least 1"),
        (("d.json",), {"EXPRESS_MAX_IN_FLIGHT": "many"}, "EXPRESS_MAX_IN_FLIGHT: max_in_flight must be int"),
        (("d.json",), {"EXPRESS_EXACTLY_ONCE": "maybe"}, "exactly_once must be bool"),
        (("d.json",), {"EXPRESS_ORDERING": "random"}, "--ordering must be one of"),
        (("d.json", "--exactly-once"), {}, "--exactly-once applies to Kafka only"),
    ],
)
def test_bad_settings_say_how_to_fix_them(
    argv: tuple[str, ...], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        load_config(_cli(*argv), environ=environ)


def test_a_config_file_with_an_unknown_setting_or_bad_syntax_is_refused(tmp_path: Path) -> None:
    unknown = tmp_path / "a.toml"
    unknown.write_text('definition = "d"\nmax_inflight = 3\n')
    with pytest.raises(UsageError, match="unknown setting 'max_inflight'"):
        load_config({}, environ={}, config_file=str(unknown))
    broken = tmp_path / "b.toml"
    broken.write_text("definition = \n")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_config({}, environ={}, config_file=str(broken))
    with pytest.raises(UsageError, match="cannot read config file"):
        load_config({}, environ={}, config_file=str(tmp_path / "missing.toml"))


def test_secrets_stay_out_of_the_representation() -> None:
    config = RunConfig(definition="d", sasl_username="u", sasl_password="hunter2", ssl_password="s3cret")
    shown = repr(config)
    assert "hunter2" not in shown and "s3cret" not in shown
    assert "sasl_username='u'" in shown


def test_the_config_is_frozen() -> None:
    config = RunConfig(definition="d")
    with pytest.raises(AttributeError):
        config.max_in_flight = 3  # type: ignore[misc]
