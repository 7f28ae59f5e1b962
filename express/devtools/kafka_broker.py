"""A single-node Apache Kafka broker (KRaft) on loopback, for development, tests and benchmarks.

The broker's jars come from Maven Central (``org.apache.kafka:kafka_2.13``), resolved once
with Maven into a cache directory (``$EXPRESS_KAFKA_CACHE`` or
``~/.cache/express/kafka-<version>``); later starts never call Maven. Each broker gets a
fresh temporary directory holding its configuration, its formatted KRaft log directory and
its log file; stopping the broker removes that directory.

Invariants:
  * the broker listens on 127.0.0.1 only, on ports chosen free at start-up;
  * ``start_broker`` returns only once the broker answers a metadata request with itself
    as a live broker, or raises ``BrokerError`` with the tail of the broker's log;
  * a broker started with ``die_with_parent`` is killed by the kernel if the starting
    process dies, so an interrupted test run leaves no JVM behind (Linux).

Command line (``scripts/kafka-broker`` wraps it)::

    python -m express.devtools.kafka_broker start   # prints the bootstrap address, leaves it running
    python -m express.devtools.kafka_broker status  # prints the address if one is running
    python -m express.devtools.kafka_broker stop    # stops it and removes its data
    python -m express.devtools.kafka_broker jars    # resolves the jars only (CI cache warm-up)

The pytest fixtures (``tests/conftest.py``) start one broker per test run with this
module, unless ``EXPRESS_TEST_BOOTSTRAP=HOST:PORT`` points them at a running broker
(the docker-compose one, say).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "KAFKA_VERSION",
    "BrokerError",
    "RunningBroker",
    "cache_dir",
    "resolve_jars",
    "start_broker",
]

# 3.9 is the last line that keeps the older protocol versions aiokafka 0.14 still speaks
# for some requests; 4.x removed them.
KAFKA_VERSION = "3.9.2"
SCALA_VERSION = "2.13"
_JARS_COMPLETE = ".complete"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.express</groupId>
  <artifactId>kafka-broker-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_{scala}</artifactId>
      <version>{version}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
</project>
"""

_LOG4J = """log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={log}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
"""

# Settings a single-node development broker needs; the small internal topics make the
# first consumer group and the first transaction ready in well under a second.
_SERVER_DEFAULTS = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "num.partitions": "1",
    "num.network.threads": "2",
    "num.io.threads": "2",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "4",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "4",
    "group.initial.rebalance.delay.ms": "0",
    "group.min.session.timeout.ms": "500",
    "auto.create.topics.enable": "true",
}


class BrokerError(RuntimeError):
    """The broker could not be resolved, formatted or started; the message says why."""


def cache_dir(version: str = KAFKA_VERSION) -> Path:
    """Where the broker's jars for ``version`` are kept."""
    root = os.environ.get("EXPRESS_KAFKA_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "express"
    return base / f"kafka-{version}"


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise BrokerError(
            f"`{tool}` is not on PATH: the local Kafka broker needs Java 17+ and Maven "
            "(or set EXPRESS_TEST_BOOTSTRAP to use a broker that is already running)"
        )
    return found


def resolve_jars(version: str = KAFKA_VERSION, cache: Path | None = None) -> Path:
    """Return a directory holding the broker's classpath, resolving it with Maven if needed."""
    target = (cache or cache_dir(version)) / "lib"
    if (target / _JARS_COMPLETE).exists():
        return target
    mvn = _require("mvn")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="express-kafka-pom-", dir=target.parent) as work:
        pom = Path(work) / "pom.xml"
        pom.write_text(_POM.format(scala=SCALA_VERSION, version=version))
        staging = Path(work) / "lib"
        command = [
            mvn, "-q", "-B", "-f", str(pom),
            "dependency:copy-dependencies", f"-DoutputDirectory={staging}",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BrokerError(
                f"Maven could not resolve org.apache.kafka:kafka_{SCALA_VERSION}:{version}:\n"
                + (done.stdout + done.stderr)[-4000:]
            )
        (staging / _JARS_COMPLETE).write_text(version)
        # Renaming makes the cache appear complete or not at all, even if two resolve at once.
        with contextlib.suppress(OSError):
            staging.rename(target)
    if not (target / _JARS_COMPLETE).exists():
        raise BrokerError(f"the Kafka jars did not land in {target}")
    return target


def _free_ports(count: int) -> list[int]:
    # All sockets stay open until every port is chosen, so the ports differ.
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _cluster_id() -> str:
    # Kafka's Uuid.toString(): URL-safe base64 of 16 random bytes, without padding. Like
    # Kafka's Uuid.randomUuid(), skip ids starting with "-": a command line would take
    # them for an option.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def _die_with_parent_prefix() -> list[str]:
    # util-linux's setpriv sets the parent-death signal, which survives the exec of java.
    setpriv = shutil.which("setpriv") if sys.platform == "linux" else None
    return [setpriv, "--pdeathsig", "KILL"] if setpriv else []


@dataclass
class RunningBroker:
    """A broker this process (or an earlier ``start`` command) started."""

    bootstrap: str
    pid: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    command: tuple[str, ...] = ()  # how the JVM was started, for ``restart``

    @property
    def log_file(self) -> Path:
        return self.workdir / "server.log"

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        cmdline = Path(f"/proc/{self.pid}/cmdline")
        try:
            # Guards against a recycled pid: the process must be this broker's JVM.
            return str(self.workdir).encode() in cmdline.read_bytes()
        except OSError:
            return False

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the JVM (SIGTERM, then SIGKILL after ``timeout``) and remove its data."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def restart(self, *, crash: bool = True, timeout: float = 90.0) -> None:
        """Stop the JVM (SIGKILL when ``crash``, else SIGTERM) and start it again on the same
        ports and data, returning once it answers: for tests of a broker that goes away."""
        if not self.command:
            raise BrokerError("this broker was not started here: it cannot be restarted")
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL if crash else signal.SIGTERM)
        if self.process is not None:
            self.process.wait(timeout)
        else:
            deadline = time.monotonic() + timeout
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
        with open(self.workdir / "console.log", "ab") as console:
            self.process = subprocess.Popen(
                list(self.command),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.process.pid
        wait_until_answers(self, timeout)

    def to_json(self) -> dict[str, object]:
        return {"bootstrap": self.bootstrap, "pid": self.pid, "workdir": str(self.workdir)}

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no broker log)"


def _accepts(bootstrap: str) -> bool:
    host, _, port = bootstrap.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except OSError:
        return False


async def _answers(bootstrap: str) -> bool:
    from aiokafka.client import AIOKafkaClient
    from aiokafka.errors import KafkaError

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    try:
        await client.bootstrap()
        return bool(client.cluster.brokers())
    except KafkaError:
        return False
    finally:
        await client.close()


def wait_until_answers(broker: RunningBroker, timeout: float) -> None:
    """Block until the broker serves metadata, or raise ``BrokerError``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not broker.alive():
            raise BrokerError(f"the Kafka broker exited during start-up:\n{broker.log_tail()}")
        # The TCP check keeps aiokafka from logging a connection error per attempt.
        if _accepts(broker.bootstrap) and asyncio.run(_answers(broker.bootstrap)):
            return
        time.sleep(0.2)
    raise BrokerError(f"the Kafka broker did not answer within {timeout:.0f} s:\n{broker.log_tail()}")


def start_broker(
    *,
    version: str = KAFKA_VERSION,
    heap: str = "512m",
    timeout: float = 90.0,
    properties: dict[str, str] | None = None,
    die_with_parent: bool = False,
) -> RunningBroker:
    """Resolve, format and start a broker; return once it answers."""
    java = _require("java")
    lib = resolve_jars(version)
    broker_port, controller_port = _free_ports(2)
    workdir = Path(tempfile.mkdtemp(prefix="express-kafka-"))
    config = dict(_SERVER_DEFAULTS)
    config.update(
        {
            "listeners": f"PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker_port}",
            "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
            "log.dirs": str(workdir / "data"),
        }
    )
    config.update(properties or {})
    server_properties = workdir / "server.properties"
    server_properties.write_text("".join(f"{key}={value}\n" for key, value in config.items()))
    log4j = workdir / "log4j.properties"
    log4j.write_text(_LOG4J.format(log=workdir / "server.log"))
    jvm = [
        java, f"-Xmx{heap}", "-Xms128m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true", f"-Dlog4j.configuration=file:{log4j}",
        "-cp", f"{lib}/*",
    ]  # fmt: skip
    try:
        formatted = subprocess.run(
            [*jvm, "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(server_properties)],
            capture_output=True,
            text=True,
            check=False,
        )
        if formatted.returncode != 0:
            output = formatted.stdout + formatted.stderr
            raise BrokerError(f"formatting the KRaft log directory failed:\n{output}")
        prefix = _die_with_parent_prefix() if die_with_parent else []
        command = (*prefix, *jvm, "kafka.Kafka", str(server_properties))
        with open(workdir / "console.log", "wb") as console:
            process = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        broker = RunningBroker(f"127.0.0.1:{broker_port}", process.pid, workdir, process, command)
        try:
            wait_until_answers(broker, timeout)
        except BaseException:
            broker.stop()
            raise
        return broker
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def _state_file() -> Path:
    return cache_dir().parent / "kafka-broker.json"


def _read_state() -> RunningBroker | None:
    try:
        state = json.loads(_state_file().read_text())
        return RunningBroker(str(state["bootstrap"]), int(state["pid"]), Path(state["workdir"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kafka-broker", description="A local single-node Kafka broker for development and tests."
    )
    parser.add_argument("command", choices=["start", "stop", "status", "jars"])
    parser.add_argument("--version", default=KAFKA_VERSION, help="Apache Kafka release (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        if args.command == "jars":
            print(resolve_jars(args.version))
            return 0
        running = _read_state()
        if args.command == "status":
            if running is not None and running.alive():
                print(running.bootstrap)
                return 0
            print("no broker running", file=sys.stderr)
            return 1
        if args.command == "stop":
            if running is not None:
                running.stop()
            _state_file().unlink(missing_ok=True)
            return 0
        if running is not None and running.alive():
            print(running.bootstrap)
            return 0
        broker = start_broker(version=args.version)
        _state_file().parent.mkdir(parents=True, exist_ok=True)
        _state_file().write_text(json.dumps(broker.to_json()))
        print(broker.bootstrap)
        return 0
    except BrokerError as exc:
        print(f"kafka-broker: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
