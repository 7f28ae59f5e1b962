"""The one frozen configuration of ``express run``, built once at start-up.

Sources, later ones winning: the defaults below, a TOML (or JSON) config file
(``--config FILE`` or ``EXPRESS_CONFIG``), ``EXPRESS_*`` environment variables (the
field name in upper case: ``EXPRESS_BOOTSTRAP_SERVERS``, ``EXPRESS_MAX_IN_FLIGHT``), and
command-line options. Nothing reads the environment after ``load_config`` returns.

A config file uses the same names as the options, with ``_`` or ``-``::

    definition = "router.asl.json"
    bootstrap-servers = "kafka:9092"
    input-topic = "readings"
    output-topic = "routed"
    ordering = "key"

The mode follows from what is set: with ``bootstrap_servers`` the stream is Kafka,
otherwise JSON lines from ``input_file`` (or stdin) to ``output_file`` (or stdout).

Execution logs follow AWS's ``LoggingConfiguration``: ``execution_log_level``,
``include_execution_data`` and ``log_group``, or all three at once from AWS's JSON
document (``logging_configuration = "FILE"``, read here, once). They are distinct from
``log_level``, which is the worker's own Python logging. A logging setting that would
quietly log nothing (a destination without a level) is refused, not ignored.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from express.errors import UsageError
from express.logs.config import LoggingConfiguration, default_log_group
from express.logs.layout import DEFAULT_LOG_STORE
from express.logs.levels import LogLevel
from express.runtime.ordering import ORDERINGS, PARTITION

__all__ = ["RunConfig", "load_config"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
LOOPS = ("uvloop", "asyncio")


@dataclass(frozen=True)
class RunConfig:
    definition: str | None = None
    handlers: str | None = None
    state_machine_name: str | None = None
    # Kafka
    bootstrap_servers: str | None = None
    input_topic: str | None = None
    output_topic: str | None = None
    dlq_topic: str | None = None
    group_id: str | None = None  # default: express-<state machine name>
    client_id: str = "express"
    auto_offset_reset: str = "earliest"
    isolation_level: str = "read_committed"
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    acks: str = "all"
    linger_ms: int = 5
    # Large batches: aiokafka has one batch per partition on the wire at a time, so a
    # partition's throughput is at most a batch per broker round trip. Under the broker's
    # 1 MiB message.max.bytes default.
    max_batch_size: int = 524_288
    compression_type: str | None = None
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: str | None = None
    exactly_once: bool = False
    transactional_id: str | None = None  # default: <group id>-<worker index>
    # JSON lines
    input_file: str | None = None
    output_file: str | None = None
    dlq_file: str | None = None
    # the runtime
    ordering: str = PARTITION
    # Records fetched and not yet committable, outputs awaiting their acknowledgement
    # included. Under load a batch is acknowledged some 50 ms after it closes (batches
    # grow to fill the round trip); at 100,000 records/s that is 5,000 records and twice
    # as many waiting behind them, so less would idle the worker. Memory: the IoT
    # router's worker peaked at 68 MB of RSS at this bound (80 MB at 40,000).
    max_in_flight: int = 20_000
    fetch_max_records: int = 500
    commit_interval: float = 1.0
    drain_timeout: float = 300.0
    processes: int = 1
    loop: str = "uvloop"
    log_level: str | None = None  # default: info with Kafka, warning for JSON lines
    metrics_port: int | None = None  # /metrics and /healthz; worker i of --processes serves port + i
    metrics_host: str = "127.0.0.1"
    stall_timeout: float = 60.0  # /healthz fails once a partition goes this long without a fetch
    # execution logs (AWS's LoggingConfiguration); distinct from log_level above
    execution_log_level: str | None = None  # ALL, ERROR, FATAL or OFF (the default)
    include_execution_data: bool | None = None  # default: false
    log_destination: str | None = None  # stdout, kafka:<topic> or a folder (default: DEFAULT_LOG_STORE)
    log_group: str | None = None  # default: /aws/vendedlogs/states/<state machine name>
    log_retention_days: float | None = None  # a folder destination only
    logging_configuration: str | None = None  # AWS's LoggingConfiguration JSON; sets the three above

    def __repr__(self) -> str:
        # Secrets stay out of logs and tracebacks.
        shown = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if not f.name.endswith("password") and getattr(self, f.name) != f.default
        }
        return f"RunConfig({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    @property
    def kafka(self) -> bool:
        return self.bootstrap_servers is not None

    @property
    def machine_name(self) -> str:
        if self.state_machine_name:
            return self.state_machine_name
        stem = Path(self.definition or "express").name.split(".")[0]
        cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)
        return cleaned[:80] or "express"

    @property
    def effective_log_level(self) -> str:
        return self.log_level or ("info" if self.kafka else "warning")

    @property
    def effective_group_id(self) -> str:
        return self.group_id or f"express-{self.machine_name}"

    @property
    def logging(self) -> LoggingConfiguration:
        """The execution logs' configuration (raises ``UsageError`` on a bad level or group)."""
        level = (self.execution_log_level or LogLevel.OFF).upper()
        if level not in LogLevel.__members__:
            raise UsageError(f"--execution-log-level must be ALL, ERROR, FATAL or OFF, not {level!r}")
        return LoggingConfiguration(
            LogLevel(level),
            include_execution_data=bool(self.include_execution_data),
            log_group=self.log_group or default_log_group(self.machine_name),
        )

    @property
    def effective_log_destination(self) -> str:
        return self.log_destination or DEFAULT_LOG_STORE

    def validate(self) -> None:
        """Raise ``UsageError`` saying how to fix the first problem found."""
        if not self.definition:
            raise UsageError("no definition: pass the state machine file (express run DEFINITION ...)")
        if self.ordering not in ORDERINGS:
            raise UsageError(f"--ordering must be one of {', '.join(ORDERINGS)}, not {self.ordering!r}")
        if self.loop not in LOOPS:
            raise UsageError(f"--loop must be one of {', '.join(LOOPS)}, not {self.loop!r}")
        for name in ("max_in_flight", "fetch_max_records", "processes", "max_batch_size"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
        if self.commit_interval <= 0 or self.drain_timeout < 0:
            raise UsageError("--commit-interval must be positive and --drain-timeout not negative")
        if self.stall_timeout <= 0:
            raise UsageError("--stall-timeout must be positive")
        self._validate_execution_logs()
        if self.kafka:
            if not self.input_topic or not self.output_topic:
                raise UsageError("with --bootstrap-servers, set --input-topic and --output-topic")
            if self.input_file or self.output_file or self.dlq_file:
                raise UsageError(
                    "--input-file/--output-file/--dlq-file are for JSON lines; drop them with Kafka"
                )
            if self.exactly_once and self.acks != "all":
                raise UsageError("--exactly-once needs --acks all")
        else:
            if self.input_topic or self.output_topic or self.dlq_topic:
                raise UsageError("--input-topic/--output-topic/--dlq-topic need --bootstrap-servers")
            if self.processes != 1:
                raise UsageError("--processes applies to Kafka only: a file stream runs in one process")
            if self.exactly_once:
                raise UsageError("--exactly-once applies to Kafka only")

    def _validate_execution_logs(self) -> None:
        settings = self.logging
        shaping = {
            "--include-execution-data": self.include_execution_data or None,
            "--log-destination": self.log_destination,
            "--log-group": self.log_group,
            "--log-retention-days": self.log_retention_days,
        }
        given = [option for option, value in shaping.items() if value is not None]
        if self.execution_log_level is None and given:
            # AWS reads such a configuration as OFF and logs nothing; say so instead.
            raise UsageError(
                f"{given[0]} is set but --execution-log-level is not, so nothing would be logged "
                "(the default level is OFF); set --execution-log-level ALL, ERROR or FATAL "
                "(or OFF explicitly)"
            )
        if not settings.enabled:
            return
        destination = self.effective_log_destination.strip()
        if destination.startswith("kafka:"):
            if not destination.removeprefix("kafka:"):
                raise UsageError("--log-destination kafka: needs a topic, e.g. kafka:express-logs")
            if not self.kafka:
                raise UsageError(f"--log-destination {destination} needs Kafka: set --bootstrap-servers")
        elif destination in {"stdout", "-"} and not self.kafka and self.output_file in {None, "-"}:
            raise UsageError(
                "--log-destination stdout would mix log records with the outputs on stdout; "
                "set --output-file, or log to a folder"
            )
        if self.log_retention_days is not None:
            if destination in {"stdout", "-"} or destination.startswith("kafka:"):
                raise UsageError("--log-retention-days applies to a folder --log-destination only")
            if self.log_retention_days <= 0:
                raise UsageError("--log-retention-days must be positive")


_FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}
_TYPES = typing.get_type_hints(RunConfig)


def _convert(name: str, value: Any, origin: str) -> Any:
    """Coerce a file or environment value to the field's type."""
    kind = _TYPES[name]
    optional = type(None) in typing.get_args(kind)
    base = next((t for t in typing.get_args(kind) if t is not type(None)), kind)
    if value is None or (optional and isinstance(value, str) and value == ""):
        if optional:
            return None
        raise UsageError(f"{origin}: {name} needs a value")
    try:
        if base is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(value)
        if base is int:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if base is float:
            return float(value)
        return str(value)
    except ValueError:
        raise UsageError(f"{origin}: {name} must be {base.__name__}, not {value!r}") from None


def _read_file(path: str) -> dict[str, Any]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from None
    is_json = path.endswith(".json")
    try:
        parsed = orjson.loads(data) if is_json else tomllib.loads(data.decode())
    except (orjson.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"config file {path} is not valid {'JSON' if is_json else 'TOML'}: {exc}") from None
    if not isinstance(parsed, dict):
        raise UsageError(f"config file {path} must hold a table of settings")
    values = {}
    for key, value in parsed.items():
        name = key.replace("-", "_")
        if name not in _FIELDS:
            raise UsageError(f"config file {path}: unknown setting {key!r}")
        values[name] = _convert(name, value, f"config file {path}")
    return values


def load_config(
    cli: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: str | None = None,
) -> RunConfig:
    """Merge defaults, config file, ``EXPRESS_*`` variables and CLI values; validate."""
    environ = os.environ if environ is None else environ
    cli = {k: v for k, v in (cli or {}).items() if k in _FIELDS and v is not None}
    values: dict[str, Any] = {}
    path = config_file or environ.get("EXPRESS_CONFIG")
    if path:
        values.update(_read_file(path))
    for name in _FIELDS:
        raw = environ.get(f"EXPRESS_{name.upper()}")
        if raw is not None:
            values[name] = _convert(name, raw, f"EXPRESS_{name.upper()}")
    values.update(cli)
    if values.get("logging_configuration"):
        values.update(_read_logging_configuration(values))
    config = RunConfig(**values)
    config.validate()
    return config


def _read_logging_configuration(values: Mapping[str, Any]) -> dict[str, Any]:
    """The level, data flag and log group of AWS's LoggingConfiguration document in a file."""
    path = values["logging_configuration"]
    clashing = [
        name for name in ("execution_log_level", "include_execution_data", "log_group") if name in values
    ]
    if clashing:
        option = "--" + clashing[0].replace("_", "-")
        raise UsageError(f"{option} and --logging-configuration both set the execution logs; keep one")
    try:
        document = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read logging configuration {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"logging configuration {path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise UsageError(f"logging configuration {path} must hold a JSON object (AWS's LoggingConfiguration)")
    config = LoggingConfiguration.from_aws(document)
    return {
        "execution_log_level": config.level.value,
        "include_execution_data": config.include_execution_data,
        "log_group": config.log_group,
    }
