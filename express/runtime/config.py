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
    max_batch_size: int = 65_536
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
    max_in_flight: int = 1000
    fetch_max_records: int = 500
    commit_interval: float = 1.0
    drain_timeout: float = 300.0
    processes: int = 1
    loop: str = "uvloop"
    log_level: str | None = None  # default: info with Kafka, warning for JSON lines
    metrics_port: int | None = None  # /metrics and /healthz; worker i of --processes serves port + i
    metrics_host: str = "127.0.0.1"

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
    config = RunConfig(**values)
    config.validate()
    return config
