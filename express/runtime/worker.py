"""Worker processes: wire a ``RunConfig`` into a pipeline and run it until told to stop.

``run`` runs one worker in this process, or, with ``processes > 1``, supervises that many
worker processes (spawned, each a member of the same consumer group, so Kafka splits
the partitions between them). The supervisor forwards SIGTERM and SIGINT to its workers
as SIGTERM, and exits non-zero if any worker failed; when one worker fails the others
are stopped too, so a process manager can restart the whole set.

In a worker, the first SIGTERM or SIGINT asks the pipeline to stop gracefully (stop
fetching, finish in-flight executions within the drain timeout, flush, commit, exit 0);
a second SIGINT abandons in-flight work without committing it (exit 130).

Each worker builds its ``Telemetry`` (execution logs, metrics) before compiling the
workflow, which writes into both; the log sink is flushed when the worker stops, and
the summary printed on exit says what it wrote and dropped.

This module is wiring: with ``telemetry``, it is where ``express.runtime`` knows the
connectors, and it imports them only inside the functions that build them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from express.errors import UsageError
from express.runtime.config import RunConfig
from express.runtime.pipeline import Pipeline, PipelineSettings, Workflow
from express.runtime.records import ConsumerProbe, Sink, Source, Transactions
from express.runtime.stats import Stats
from express.runtime.telemetry import Telemetry

__all__ = ["build_workflow", "run", "run_worker"]

log = logging.getLogger("express.run")

# aiokafka reports these (some at ERROR level) while a group rebalances or a fresh topic
# settles; they are retried and resolve on their own within a second.
_TRANSIENT = (
    "GroupCoordinatorNotAvailable",
    "Marking the coordinator dead",
    "NotLeaderForPartition",
    "because it is rebalancing",
)


class _DropTransient(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in _TRANSIENT)


def configure_logging(config: RunConfig, index: int | None = None) -> None:
    name = config.effective_log_level
    level = getattr(logging, name.upper(), None)
    if not isinstance(level, int):
        raise UsageError(f"--log-level must be debug, info, warning or error, not {name!r}")
    worker = f" worker-{index}" if index is not None else ""
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s %(name)s{worker}: %(message)s",
        force=True,
    )
    kafka = logging.getLogger("aiokafka")
    kafka.setLevel(max(level, logging.WARNING))
    kafka.addFilter(_DropTransient())


def build_workflow(config: RunConfig, telemetry: Telemetry | None = None) -> Workflow:
    """Compile the configured definition with its handlers (raises the engine's errors).

    With ``telemetry``, the workflow writes its execution logs and engine metrics there.
    """
    from express.handlers import load_handlers
    from express.workflow import compile_workflow

    assert config.definition is not None
    try:
        definition = Path(config.definition).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read definition {config.definition}: {exc.strerror}") from None
    handlers = load_handlers(config.handlers) if config.handlers else None
    return compile_workflow(
        definition,
        handlers=handlers,
        name=config.machine_name,
        recorder_factory=telemetry.recorder_factory if telemetry is not None else None,
        metrics=telemetry.machine_metrics if telemetry is not None else None,
    )


def run(config: RunConfig) -> int:
    """Run ``express run`` as configured; the exit status."""
    if config.processes > 1:
        return _supervise(config)
    return run_worker(config)


def run_worker(config: RunConfig, index: int | None = None) -> int:
    early: list[int] = []
    # Until the event loop takes over, a signal is only noted: start-up is not cut short.
    previous = {sig: signal.signal(sig, lambda number, _: early.append(number)) for sig in _STOP_SIGNALS}
    try:
        return _run_worker(config, index, early)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _run_worker(config: RunConfig, index: int | None, early: list[int]) -> int:
    configure_logging(config, index)
    stats = Stats()
    telemetry = Telemetry(config, stats)
    try:
        workflow = build_workflow(config, telemetry)
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
        if config.loop == "uvloop":
            import uvloop

            loop_factory = uvloop.new_event_loop
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            status = runner.run(_serve(config, workflow, telemetry, stats, index=index or 0, early=early))
    finally:
        telemetry.close()  # a no-op once the loop stopped it; here for a start that failed
    _summary(stats, telemetry)
    return status


async def _serve(
    config: RunConfig, workflow: Workflow, telemetry: Telemetry, stats: Stats, *, index: int, early: list[int]
) -> int:
    signals = _Signals(stop_requested=bool(early))
    settings = PipelineSettings(
        ordering=config.ordering,
        max_in_flight=config.max_in_flight,
        fetch_max_records=config.fetch_max_records,
        commit_interval=config.commit_interval,
        drain_timeout=config.drain_timeout,
        stats=stats,
    )
    async with contextlib.AsyncExitStack() as stack:
        if config.kafka:
            source, output, dead_letters, transactions = await _kafka(config, index, stack)
            probe: ConsumerProbe | None = typing.cast(ConsumerProbe, source)
        else:
            source, output, dead_letters, transactions = _files(config, stack)
            probe = None
        # Pushed last, so it unwinds first: the log sink is flushed once the pipeline is done.
        stack.push_async_callback(telemetry.stop)
        await telemetry.start(index, probe)
        pipeline = Pipeline(
            workflow, source, output, dead_letters, settings, meter=telemetry.meter, transactions=transactions
        )
        signals.attach(pipeline)
        try:
            await pipeline.run()
        except asyncio.CancelledError:
            log.warning("interrupted: in-flight work abandoned, not committed")
            return 130
        except Exception as exc:
            log.error("stopped on an error; nothing past it was committed: %s", exc)
            return 1
    return 0


# What a stream needs: source, output sink, dead-letter sink, and transactions if exactly-once.
Wiring = tuple[Source, Sink, Sink, Transactions | None]


class _Signals:
    """SIGTERM/SIGINT handling, installed before connecting so an early signal is not lost.

    A stop asked for before the pipeline exists is handed to it as soon as it does.
    """

    def __init__(self, *, stop_requested: bool) -> None:
        self.pipeline: Pipeline | None = None
        self.stop_requested = stop_requested
        self._interrupts = 0
        self._main = asyncio.current_task()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self._on_interrupt)
        loop.add_signal_handler(signal.SIGTERM, self._on_terminate)

    def attach(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        if self.stop_requested:
            pipeline.stop()

    def _stop(self) -> None:
        self.stop_requested = True
        if self.pipeline is not None:
            self.pipeline.stop()

    def _on_interrupt(self) -> None:
        self._interrupts += 1
        if self._interrupts == 1:
            log.info("stopping: finishing in-flight executions (interrupt again to abandon them)")
            self._stop()
        elif self._main is not None:
            self._main.cancel()

    def _on_terminate(self) -> None:
        log.info("stopping: finishing in-flight executions")
        self._stop()


def _summary(stats: Stats, telemetry: Telemetry) -> None:
    s = stats
    print(
        f"express run: {s.records} records, {s.succeeded} succeeded, {s.dead_letters} dead letters "
        f"({s.failed} failed, {s.timed_out} timed out, {s.not_started} not started), "
        f"{s.transitions} state transitions; paused {s.pauses} times, peak {s.in_flight_peak} in flight",
        file=sys.stderr,
    )
    logs = telemetry.summary()
    if logs is not None:
        print(f"express run: {logs}", file=sys.stderr)


async def _kafka(config: RunConfig, index: int, stack: contextlib.AsyncExitStack) -> Wiring:
    from connectors.files import LinesSink
    from connectors.kafka import (
        KafkaProducer,
        KafkaProducerSettings,
        KafkaSecurity,
        KafkaSource,
        KafkaSourceSettings,
    )

    assert config.bootstrap_servers and config.input_topic and config.output_topic
    try:
        security = KafkaSecurity.from_settings(config)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    group_id = config.effective_group_id
    client_id = f"{config.client_id}-{os.getpid()}"
    transactional_id = None
    if config.exactly_once:
        # Unique per process of the group, and the same again when this process
        # restarts here, so the restarted process fences its own predecessor.
        transactional_id = f"{config.transactional_id or group_id}-{socket.gethostname()}-{index}"
    producer = KafkaProducer(
        KafkaProducerSettings(
            bootstrap_servers=config.bootstrap_servers,
            security=security,
            client_id=client_id,
            acks=config.acks,
            linger_ms=config.linger_ms,
            max_batch_size=config.max_batch_size,
            compression_type=config.compression_type,
            transactional_id=transactional_id,
        )
    )
    await producer.start()
    stack.push_async_callback(producer.stop)
    output: Sink = await producer.sink(config.output_topic)
    dead_letters: Sink
    if config.dlq_topic:
        dead_letters = await producer.sink(config.dlq_topic)
    else:
        log.warning("no --dlq-topic: dead letters go to stderr as JSON lines")
        dead_letters = LinesSink(stream=sys.stderr.buffer)
    source = KafkaSource(
        KafkaSourceSettings(
            bootstrap_servers=config.bootstrap_servers,
            topics=(config.input_topic,),
            group_id=group_id,
            security=security,
            client_id=client_id,
            auto_offset_reset=config.auto_offset_reset,
            isolation_level=config.isolation_level,
            session_timeout_ms=config.session_timeout_ms,
            heartbeat_interval_ms=config.heartbeat_interval_ms,
        )
    )
    log.info(
        "consuming %s as group %s; outputs to %s, dead letters to %s; ordering %s, at most %d in flight",
        config.input_topic,
        group_id,
        config.output_topic,
        config.dlq_topic or "stderr",
        config.ordering,
        config.max_in_flight,
    )
    transactions = producer.transactions(group_id) if config.exactly_once else None
    return source, output, dead_letters, transactions


def _files(config: RunConfig, stack: contextlib.AsyncExitStack) -> Wiring:
    from connectors.files import LinesSink, LinesSource

    try:
        output = LinesSink(config.output_file)
        dead_letters = LinesSink(config.dlq_file) if config.dlq_file else LinesSink(stream=sys.stderr.buffer)
    except OSError as exc:
        raise UsageError(f"cannot open {exc.filename} for writing: {exc.strerror}") from None
    stack.callback(output.close)
    stack.callback(dead_letters.close)
    if config.input_file and config.input_file != "-" and not Path(config.input_file).is_file():
        raise UsageError(f"cannot read {config.input_file}: no such file")
    return LinesSource(config.input_file), output, dead_letters, None


# -- several processes -------------------------------------------------------------------------


def _worker_main(config: RunConfig, index: int) -> None:
    sys.exit(run_worker(config, index))


def _supervise(config: RunConfig) -> int:
    configure_logging(config)
    build_workflow(config)  # fail fast, once, on a definition that cannot run
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_worker_main, args=(config, index), name=f"express-worker-{index}")
        for index in range(config.processes)
    ]
    stopping = False

    def stop_all(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.pid is not None and worker.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop_all) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for worker in workers:
            worker.start()
        log.info("started %d worker processes", len(workers))
        running = {worker.sentinel: worker for worker in workers}
        status = 0
        while running:
            for sentinel in multiprocessing.connection.wait(list(running)):
                worker = running.pop(typing.cast(int, sentinel))
                worker.join()
                if worker.exitcode != 0:
                    status = status or 1
                    if not stopping:
                        log.error("%s exited with %s; stopping the others", worker.name, worker.exitcode)
                        stop_all()
        return status
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
