"""The docker-compose stack, checked as far as possible without a Docker engine.

The Compose file must be valid YAML with the Compose schema's essentials right, every
file it mounts or builds from must exist, the worker's command must parse with the real
``express run`` options into a valid configuration (metrics reachable from Prometheus's
container, execution logs kept in a volume) and agree with Kafka's listeners, the topics
created and the port Prometheus scrapes; Prometheus, Grafana and the alert rules must only name metric
families the worker defines.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from express.metrics import FAMILIES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"

TOP_LEVEL_KEYS = {"version", "name", "services", "networks", "volumes", "configs", "secrets"}
SERVICE_KEYS = {
    "build",
    "command",
    "container_name",
    "depends_on",
    "entrypoint",
    "environment",
    "env_file",
    "expose",
    "healthcheck",
    "hostname",
    "image",
    "labels",
    "networks",
    "ports",
    "profiles",
    "restart",
    "stop_grace_period",
    "user",
    "volumes",
    "working_dir",
    "deploy",
    "logging",
    "ulimits",
    "init",
}
DEPENDS_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
RESTART_POLICIES = {"no", "always", "on-failure", "unless-stopped"}
PORT = re.compile(r"(?:(?P<ip>[\d.]+):)?(?P<host>\d+):(?P<container>\d+)(?:/(?:tcp|udp))?")


_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def _interpolate(value: Any) -> Any:
    """Resolve ``${NAME:-default}`` to its default and ``$$`` to ``$``, as ``docker compose``
    does with nothing set in the environment; every variable must have a default."""
    if isinstance(value, str):

        def resolve(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            assert match["default"] is not None, f"${{{match['name']}}} has no default"
            return match["default"]

        return _VARIABLE.sub(resolve, value)
    if isinstance(value, list):
        return [_interpolate(item) for item in value]
    if isinstance(value, dict):
        return {key: _interpolate(item) for key, item in value.items()}
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = _interpolate(yaml.safe_load(COMPOSE.read_text()))
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def _metric_names(expression: str) -> set[str]:
    return set(re.findall(r"\bexpress_[a-z0-9_]+", expression))


def _defined(name: str) -> bool:
    """Whether a sample name belongs to a family the worker defines."""
    for family, (kind, _, _) in FAMILIES.items():
        if kind == "counter" and name == family + "_total":
            return True
        if kind == "histogram" and name in {family + suffix for suffix in ("_bucket", "_count", "_sum")}:
            return True
        if kind == "gauge" and name == family:
            return True
    return False


# -- the Compose schema's essentials --------------------------------------------------


def test_top_level_and_service_keys(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    assert set(compose) <= TOP_LEVEL_KEYS | {key for key in compose if key.startswith("x-")}
    assert "version" not in compose  # obsolete in the Compose specification
    assert {"kafka", "topics", "worker", "loadgen", "prometheus", "grafana"} <= set(services)
    for name, service in services.items():
        assert re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", name)
        assert set(service) <= SERVICE_KEYS, (name, set(service) - SERVICE_KEYS)
        assert "image" in service or "build" in service, name
        assert str(service.get("restart", "no")) in RESTART_POLICIES, name


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if "build" in service:
            continue
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", (name, image)
    assert services["kafka"]["image"].startswith("apache/kafka:")  # the official image


def test_dependencies_exist_and_use_valid_conditions(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on", [])
        if isinstance(depends, dict):
            for target, spec in depends.items():
                assert target in services, (name, target)
                assert spec["condition"] in DEPENDS_CONDITIONS, (name, target)
                if spec["condition"] == "service_healthy":
                    assert "healthcheck" in services[target], target
        else:
            assert set(depends) <= set(services), name


def test_ports_are_well_formed_and_published_on_loopback(services: dict[str, dict[str, Any]]) -> None:
    published = []
    for name, service in services.items():
        for port in service.get("ports", []):
            match = PORT.fullmatch(str(port))
            assert match, (name, port)
            assert match["ip"] == "127.0.0.1", (name, port)
            published.append(int(match["host"]))
    assert len(published) == len(set(published))


def test_healthchecks_are_well_formed(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck")
        if check is None:
            continue
        test = check["test"]
        assert isinstance(test, str) or test[0] in {"CMD", "CMD-SHELL", "NONE"}, name
        for key in ("interval", "timeout", "start_period"):
            if key in check:
                assert re.fullmatch(r"\d+(ms|s|m|h)", check[key]), (name, key)


def test_volumes_are_declared_or_present_in_the_repository(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    named = set(compose.get("volumes") or {})
    used = set()
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source, target, *mode = volume.split(":")
            assert target.startswith("/"), (name, volume)
            assert mode in ([], ["ro"], ["rw"]), (name, volume)
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), (name, source)
            else:
                assert source in named, (name, source)
                used.add(source)
    assert used == named


def test_environment_values_are_strings_or_scalars(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for key, value in _environment(service).items():
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), (name, key)
            assert isinstance(value, str), (name, key)


# -- Kafka ----------------------------------------------------------------------------


def test_kafka_is_a_single_node_kraft_broker(services: dict[str, dict[str, Any]]) -> None:
    env = _environment(services["kafka"])
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node = env["KAFKA_NODE_ID"]
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert len(voters) == 1 and voters[0].startswith(f"{node}@kafka:")
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners) == set(protocols)
    assert voters[0].rsplit(":", 1)[1] == listeners[env["KAFKA_CONTROLLER_LISTENER_NAMES"]].lstrip(":")
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in listeners
    for factor in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
    ):
        assert env[factor] == "1"
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16  # a UUID, as Kafka requires


def _internal_bootstrap(services: dict[str, dict[str, Any]]) -> str:
    env = _environment(services["kafka"])
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    return advertised[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]


def _created_topics(services: dict[str, dict[str, Any]]) -> set[str]:
    script = " ".join(services["topics"]["command"])
    loop = re.search(r"for topic in ([^;]+);", script)
    assert loop is not None
    assert "--if-not-exists" in script
    return set(loop.group(1).split())


# -- the worker -----------------------------------------------------------------------


def test_worker_command_agrees_with_kafka_topics_and_files(services: dict[str, dict[str, Any]]) -> None:
    command = services["worker"]["command"]
    assert command[0] == "run"
    definition, handlers = command[1], _option(command, "--handlers")
    assert definition == "express/examples/iot/router.asl.json"
    assert (ROOT / definition).is_file() and (ROOT / handlers).is_file()
    assert _option(command, "--bootstrap-servers") == _internal_bootstrap(services)
    topics = _created_topics(services)
    for option in ("--input-topic", "--output-topic", "--dlq-topic"):
        assert _option(command, option) in topics, option
    assert len({_option(command, o) for o in ("--input-topic", "--output-topic", "--dlq-topic")}) == 3


def test_worker_command_parses_with_the_real_cli(services: dict[str, dict[str, Any]]) -> None:
    run_cli = pytest.importorskip("express.runtime.run_cli")
    parser = argparse.ArgumentParser()
    run_cli.add_run_arguments(parser)
    command = services["worker"]["command"]
    args = vars(parser.parse_args(command[1:]))
    assert args["definition"] == command[1]
    assert args["metrics_port"] == int(_option(command, "--metrics-port"))
    assert args["metrics_host"] == _option(command, "--metrics-host")
    assert args["bootstrap_servers"] == _internal_bootstrap(services)
    assert args["execution_log_level"] == _option(command, "--execution-log-level")
    assert args["include_execution_data"] is True
    assert args["log_destination"] == _option(command, "--log-destination")


def test_worker_options_load_into_a_valid_config_that_serves_metrics_and_keeps_logs(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    run_cli = pytest.importorskip("express.runtime.run_cli")
    config_module = pytest.importorskip("express.runtime.config")
    parser = argparse.ArgumentParser()
    run_cli.add_run_arguments(parser)
    worker = services["worker"]
    environ = _environment(worker)
    # The real start-up path: options, then EXPRESS_* variables, into one validated config.
    config = config_module.load_config(vars(parser.parse_args(worker["command"][1:])), environ=environ)
    assert config.kafka and config.effective_group_id == environ["EXPRESS_GROUP_ID"]
    # Prometheus reaches the worker from another container: it must not listen on loopback only.
    assert config.metrics_host == "0.0.0.0"
    # Execution logs are on, and go to a folder that outlives the container.
    assert config.logging.enabled
    assert config.logging.level in {"ALL", "ERROR", "FATAL"}
    assert config.logging.log_group == f"/aws/vendedlogs/states/{config.machine_name}"
    destination = Path(config.effective_log_destination)
    assert destination.is_absolute()
    mounts = {target: source for source, target in (v.split(":")[:2] for v in worker["volumes"])}
    holding = [target for target in mounts if destination.is_relative_to(target)]
    assert holding and mounts[holding[0]] in (compose.get("volumes") or {}), (destination, mounts)
    assert config.log_retention_days is not None and config.log_retention_days > 0


def test_worker_environment_names_real_settings(services: dict[str, dict[str, Any]]) -> None:
    config = pytest.importorskip("express.runtime.config")
    fields = {name.upper() for name in config.RunConfig.__dataclass_fields__}
    for key in _environment(services["worker"]):
        assert key.startswith("EXPRESS_") and key.removeprefix("EXPRESS_") in fields, key


def test_worker_metrics_port_is_published_scraped_and_health_checked(
    services: dict[str, dict[str, Any]],
) -> None:
    port = _option(services["worker"]["command"], "--metrics-port")
    published = [PORT.fullmatch(p) for p in services["worker"]["ports"]]
    assert any(m is not None and m["container"] == port for m in published)
    assert f"127.0.0.1:{port}/healthz" in " ".join(services["worker"]["healthcheck"]["test"])
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = [t for job in prometheus["scrape_configs"] for c in job["static_configs"] for t in c["targets"]]
    assert f"worker:{port}" in targets


def test_loadgen_feeds_the_input_topic_from_the_example(services: dict[str, dict[str, Any]]) -> None:
    loadgen = services["loadgen"]
    command = loadgen["command"]
    assert _option(command, "--topic") == _option(services["worker"]["command"], "--input-topic")
    assert _option(command, "--producer-props") == f"bootstrap.servers={_internal_bootstrap(services)}"
    payload = _option(command, "--payload-file")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in loadgen["volumes"]}
    source = ROOT / mounts[payload]
    # The example mixes in a few broken readings on purpose: they become dead letters.
    parsed = []
    for line in source.read_text().splitlines():
        try:
            parsed.append(isinstance(json.loads(line), dict))
        except json.JSONDecodeError:
            parsed.append(False)
    assert len(parsed) > 100
    assert sum(parsed) / len(parsed) > 0.9


def test_dockerfile_builds_the_worker() -> None:
    lines = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if not line.startswith("#")]
    joined = "\n".join(lines).replace("\\\n", " ")
    instructions = [line.split(None, 1) for line in joined.splitlines() if line.strip()]
    assert instructions[0][0] == "FROM" and instructions[0][1].startswith("python:3.11")
    for keyword, argument in instructions:
        if keyword == "COPY":
            *sources, _ = shlex.split(argument)
            assert all((ROOT / source).exists() for source in sources), argument
    assert ["ENTRYPOINT", '["express"]'] in instructions
    users = [argument for keyword, argument in instructions if keyword == "USER"]
    assert users and users[-1] not in {"root", "0"}
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv"} <= set(ignored)
    assert "express" not in ignored and "connectors" not in ignored


# -- Prometheus and Grafana -----------------------------------------------------------


def test_prometheus_rules_name_defined_metrics(services: dict[str, dict[str, Any]]) -> None:
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["prometheus"]["volumes"]}
    for rule_file in prometheus["rule_files"]:
        rules = yaml.safe_load((ROOT / mounts[rule_file]).read_text())
        expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
        assert expressions
        for expression in expressions:
            for name in _metric_names(expression):
                assert _defined(name), (name, expression)
    command = services["prometheus"]["command"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in command
    assert mounts["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus/prometheus.yml"


def test_grafana_provisioning_points_at_prometheus_and_the_dashboards(
    services: dict[str, dict[str, Any]],
) -> None:
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["grafana"]["volumes"]}
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    datasources = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())["datasources"]
    assert datasources[0]["url"] == "http://prometheus:9090"
    assert datasources[0]["type"] == "prometheus"
    providers = yaml.safe_load((provisioning / "dashboards/express.yml").read_text())["providers"]
    folder = providers[0]["options"]["path"]
    assert folder in mounts
    dashboards = list((ROOT / mounts[folder]).glob("*.json"))
    assert dashboards
    home = _environment(services["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / mounts[folder] / Path(home).name).is_file()


def test_dashboard_covers_the_issue_and_names_defined_metrics() -> None:
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/express.json").read_text())
    rows = [panel["title"] for panel in dashboard["panels"] if panel["type"] == "row"]
    assert rows == ["Throughput", "Latency", "Failures", "Dead letters", "Lag and liveness"]
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    used = set()
    for panel in panels:
        assert panel["datasource"]["uid"] == "prometheus", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            for name in _metric_names(target["expr"]):
                assert _defined(name), (panel["title"], name)
                used.add(name)
    for needed in (
        "express_records_consumed_total",
        "express_execution_duration_seconds_bucket",
        "express_executions_completed_total",
        "express_records_dead_lettered_total",
        "express_consumer_lag_records",
        "express_consumer_last_fetch_age_seconds",
        "express_log_events_dropped_total",
    ):
        assert needed in used, needed


def test_metrics_documentation_maps_every_family() -> None:
    text = (ROOT / "docs/metrics.md").read_text()
    rows = {
        cells[0].strip("` "): cells
        for cells in (
            line.strip("|").split("|") for line in text.splitlines() if line.startswith("| `express_")
        )
    }
    for family, (kind, _, labels) in FAMILIES.items():
        name = family + "_total" if kind == "counter" else family
        assert name in rows, name
        cells = rows[name]
        assert cells[1].strip() == kind, name
        assert cells[3].strip(), f"{name} has no AWS counterpart column"
        for label in labels:
            assert f"`{label}`" in cells[2], (name, label)
