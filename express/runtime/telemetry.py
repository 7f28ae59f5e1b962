"""A worker's execution logs and metrics: built once from its ``RunConfig``, run beside it.

``Telemetry(config, stats)`` is built before the workflow is compiled, because the
workflow takes both: ``recorder_factory`` (the ``ExecutionLogger`` of the configured
level, writing to the configured log sink) and ``machine_metrics`` (the bound
``StateMachineMetrics`` the engine reports transitions, errors, retries and handler calls
into). ``start`` then serves ``/metrics`` and ``/healthz`` and starts a sink that needs
the event loop (Kafka); ``stop`` flushes the log sink and stops serving; ``summary``
reports what the sink wrote and dropped. An execution hands its buffered events to the
log as it ends, also when it is cancelled: ``stop`` first lets executions the pipeline
abandoned finish unwinding, so that what they recorded reaches the sink before it closes.

Invariants: with logging OFF no sink exists and the workflow gets no recorder factory;
without ``--metrics-port`` nothing is registered and the workflow gets no metrics; a log
sink is flushed on every way out once it was opened (``stop``, or ``close`` when the
worker fails before its loop runs); a port that cannot be bound or a Kafka log producer
that cannot start fails the start-up, loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Protocol

from express.errors import UsageError
from express.logs.config import LoggingConfiguration
from express.logs.recorder import ExecutionLogger
from express.logs.sink import LogSink, SinkStats
from express.runtime.config import RunConfig
from express.runtime.records import ConsumerProbe
from express.runtime.stats import Stats

if TYPE_CHECKING:
    from express.metrics import StateMachineMetrics
    from express.runtime.metrics import RuntimeMeter
    from express.workflow import RecorderFactory

__all__ = ["Telemetry"]

log = logging.getLogger("express.run")


class _Sink(LogSink, Protocol):
    def stats(self) -> SinkStats: ...


class Telemetry:
    """The execution logs and metrics of one worker process."""

    def __init__(self, config: RunConfig, stats: Stats) -> None:
        self.config = config
        self.meter: RuntimeMeter | None = _meter(config, stats) if config.metrics_port is not None else None
        self.log_config: LoggingConfiguration = config.logging
        self.destination = config.effective_log_destination.strip()
        self.sink: _Sink | None = None
        self.logger: ExecutionLogger | None = None
        self._closed = False
        self._tasks: list[asyncio.Task[None]] = []
        self.metrics_port: int | None = None  # the port bound, once serving
        if self.log_config.enabled:
            self.sink = _open_sink(config, self.log_config, self.destination)
            self.logger = ExecutionLogger(self.log_config, self.sink, config.machine_name)
            if self.meter is not None:
                self.meter.metrics.watch_log_sink(self.sink_name, self.sink.stats)

    @property
    def sink_name(self) -> str:
        """The sink's label in metrics and the summary."""
        if self.destination in {"stdout", "-"}:
            return "stdout"
        if self.destination.startswith("kafka:"):
            return self.destination
        return "file:" + self.destination.removeprefix("file:")

    @property
    def recorder_factory(self) -> RecorderFactory | None:
        return self.logger.recorder if self.logger is not None else None

    @property
    def machine_metrics(self) -> StateMachineMetrics | None:
        return self.meter.machine if self.meter is not None else None

    async def start(self, index: int, probe: ConsumerProbe | None) -> None:
        """Serve metrics (port + ``index``) and start a sink that runs on the loop."""
        if self.meter is not None:
            if probe is not None:
                self.meter.watch(probe)
            await self._serve_metrics(self.meter, index)
        if self.sink is not None and hasattr(self.sink, "run"):
            # A sink that delivers from the event loop (Kafka's) runs as a task of its own.
            await self._start_task(self.sink.run, f"the log producer for {self.destination}")
        if self.logger is not None:
            log.info(
                "execution logs: level %s%s, log group %s, to %s",
                self.log_config.level,
                " with execution data" if self.log_config.include_execution_data else "",
                self.log_config.log_group,
                self.destination,
            )

    async def stop(self) -> None:
        """Flush the log sink (bounded by its close timeout), then stop serving."""
        sink = self.sink
        if sink is not None and not self._closed:
            await _settle_cancelled_tasks(_UNWIND_TIMEOUT)
            self._closed = True
            close = getattr(sink, "close", None)
            if close is not None:
                await asyncio.to_thread(close)
        for task in reversed(self._tasks):
            task.cancel()
            # A task that failed was reported when it did (``_report_failure``).
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    def close(self) -> None:
        """Flush a sink whose loop never ran (start-up failed); idempotent."""
        close = getattr(self.sink, "close", None)
        if close is not None and not self._closed:
            self._closed = True
            close()

    def summary(self) -> str | None:
        if self.sink is None:
            return None
        stats = self.sink.stats()
        line = f"execution logs: {stats.written} events written to {self.sink_name}"
        if stats.dropped_total:
            reasons = ", ".join(f"{reason} {count}" for reason, count in stats.dropped.items() if count)
            line += f", {stats.dropped_total} DROPPED ({reasons})"
        else:
            line += ", none dropped"
        return line

    async def _serve_metrics(self, meter: RuntimeMeter, index: int) -> None:
        from express.health import ConsumerHealth, serve_http

        assert self.config.metrics_port is not None
        host, port = self.config.metrics_host, self.config.metrics_port + index
        health = ConsumerHealth(meter.fetch_ages, stall_after=self.config.stall_timeout)

        def serve(task_status: _Started) -> Any:
            return serve_http(meter.registry, health, host=host, port=port, task_status=task_status)

        self.metrics_port = await self._start_task(serve, f"/metrics on {host}:{port}")

    async def _start_task(self, run: Any, what: str) -> Any:
        """Run ``run(task_status=...)`` as a task; return what it reports once it started."""
        status = _Started()
        task = asyncio.ensure_future(run(task_status=status))
        await asyncio.wait([status.future, task], return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            error = task.exception()
            raise UsageError(f"cannot start {what}: {error}") from error
        task.add_done_callback(_report_failure)
        self._tasks.append(task)
        return status.future.result()


_UNWIND_TIMEOUT = 2.0  # seconds given to cancelled executions to write their logs


async def _settle_cancelled_tasks(timeout: float) -> None:
    """Wait (a bounded time) for the tasks being cancelled, abandoned executions among them."""
    current = asyncio.current_task()
    unwinding = [task for task in asyncio.all_tasks() if task is not current and task.cancelling()]
    if unwinding:
        await asyncio.wait(unwinding, timeout=timeout)


class _Started:
    """An ``anyio.abc.TaskStatus`` for a task run outside a task group."""

    def __init__(self) -> None:
        self.future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def started(self, value: Any = None) -> None:
        if not self.future.done():
            self.future.set_result(value)


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a telemetry task failed: %s", task.exception(), exc_info=task.exception())


def _meter(config: RunConfig, stats: Stats) -> RuntimeMeter:
    from prometheus_client import CollectorRegistry

    from express.metrics import ExpressMetrics
    from express.runtime.metrics import RuntimeMeter

    return RuntimeMeter(
        ExpressMetrics(CollectorRegistry()),
        state_machine=config.machine_name,
        outputs=config.output_topic or config.output_file or "stdout",
        dead_letters=config.dlq_topic or config.dlq_file or "stderr",
        stats=stats,
        max_in_flight=config.max_in_flight,
    )


def _open_sink(config: RunConfig, logging_config: LoggingConfiguration, destination: str) -> _Sink:
    from connectors.logsinks import open_log_sink

    options: dict[str, Any] = {}
    if config.kafka:
        from connectors.kafka import KafkaSecurity

        try:
            security = KafkaSecurity.from_settings(config)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        options = {"client_id": f"{config.client_id}-logs", **security.client_options()}
    assert logging_config.log_group is not None
    try:
        sink: _Sink = open_log_sink(
            destination,
            log_group=logging_config.log_group,
            bootstrap_servers=config.bootstrap_servers,
            retention_days=config.log_retention_days,
            producer_options=options,
        )
    except OSError as exc:
        raise UsageError(f"cannot write execution logs to {destination}: {exc.strerror}") from None
    return sink
