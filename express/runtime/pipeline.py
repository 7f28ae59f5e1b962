"""The stream loop: fetch a batch, run one execution per record, emit, reap, commit.

Per record: check and decode the value (``envelope.check_input``), name the execution
after the record's coordinates, ``workflow.start`` it, encode the output (or a dead
letter) and hand it to a sink. An execution that finishes without awaiting is handled
inline, in the loop, with no task; only an execution that awaits gets a task, which then
also runs the records queued behind it in its lane (``ordering``).

Invariants:
  * at-least-once: a partition's committed offset only passes records whose output or
    dead letter the sink acknowledged (``offsets.OffsetTracker``);
  * nothing is dropped: every fetched record ends as an output, a dead letter, or stays
    uncommitted (and is fetched again by whoever owns the partition next);
  * at most ``max_in_flight`` records are fetched and not yet committable; at the bound
    the loop stops taking records until a fetch's worth are done, pauses the source's
    partitions if the bound still holds after ``pause_after``, and resumes them once the
    in-flight count has halved;
  * the bookkeeping of a partition lives for one assignment: it is built on assignment
    and, on revocation, the partition's running executions are finished (within
    ``drain_timeout``), queued ones abandoned, and the done prefix committed;
  * a delivery failure or an unexpected error stops the loop without committing past
    the failed record;
  * exactly-once (with ``transactions``): outputs, dead letters and offsets commit in one
    Kafka transaction, and a transaction commits only once every fetched record is done,
    so its offsets cover exactly its outputs; nothing is abandoned on revocation, and a
    transaction that cannot settle is aborted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from express.runtime.envelope import (
    NOT_STARTED,
    InvalidInputError,
    PartitionEnvelope,
    check_input,
    dead_letter,
)
from express.runtime.offsets import DeliveryError, OffsetTracker, Slot
from express.runtime.ordering import PARTITION, lane_function
from express.runtime.records import (
    CommitRejectedError,
    Delivery,
    Headers,
    Partition,
    RecordLike,
    Sink,
    Source,
    Transactions,
)
from express.runtime.result import SUCCEEDED, TIMED_OUT, ExecutionResult
from express.runtime.stats import Stats

if TYPE_CHECKING:
    from express.metrics import TopicMetrics
    from express.runtime.metrics import RuntimeMeter

__all__ = ["Pipeline", "PipelineSettings", "Workflow"]

log = logging.getLogger("express.run")

INTERNAL_ERROR = "Express.InternalError"


class Workflow(Protocol):
    """What the pipeline runs: ``express.Workflow`` fits."""

    def start(
        self, input: Any, name: str, *, input_size: int | None = None
    ) -> ExecutionResult | Awaitable[ExecutionResult]: ...


@dataclass(frozen=True)
class PipelineSettings:
    ordering: str = PARTITION
    max_in_flight: int = 20_000  # see express.runtime.config
    fetch_max_records: int = 500
    fetch_timeout: float = 0.2  # seconds a fetch waits for records when there are none
    commit_interval: float = 1.0
    drain_timeout: float = 300.0  # on revocation and shutdown; AWS's Express execution limit
    pause_after: float = 0.1  # seconds at the in-flight bound before the partitions pause
    stats: Stats = field(default_factory=Stats, compare=False)

    def __post_init__(self) -> None:
        lane_function(self.ordering)  # raises on an unknown mode
        if self.max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        if self.fetch_max_records < 1:
            raise ValueError("fetch_max_records must be at least 1")


class _Partition:
    """One assigned partition: naming constants, offset tracking, lanes, running tasks."""

    __slots__ = ("abandon", "closing", "envelope", "key", "lanes", "metrics", "tasks", "tracker")

    def __init__(self, key: Partition, metrics: TopicMetrics | None) -> None:
        self.key = key
        self.metrics = metrics
        self.envelope = PartitionEnvelope(key[0], key[1])
        self.tracker = OffsetTracker(key)
        # lane -> records waiting behind the running one; a lane is busy iff present
        self.lanes: dict[Hashable, deque[tuple[RecordLike, Slot]]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.closing = False  # no more records are dispatched
        self.abandon = False  # records queued in lanes are dropped (left uncommitted)


class Pipeline:
    """Runs ``workflow`` once per record of ``source``; see the module docstring."""

    def __init__(
        self,
        workflow: Workflow,
        source: Source,
        output: Sink,
        dead_letters: Sink,
        settings: PipelineSettings | None = None,
        *,
        meter: RuntimeMeter | None = None,
        transactions: Transactions | None = None,
    ) -> None:
        self._settings = settings = settings or PipelineSettings()
        self._meter = meter
        # Bound once: the one metrics call ``_begin`` makes per record.
        self._execution_started = meter.machine.execution_started if meter is not None else None
        self._transactions = transactions
        self._transaction_lock = asyncio.Lock()
        self.stats = settings.stats
        self._start = workflow.start
        self._source = source
        self._send_output = output.send
        self._send_dead = dead_letters.send
        self._hand_output = output.send_nowait
        self._hand_dead = dead_letters.send_nowait
        self._sinks = (output, dead_letters) if output is not dead_letters else (output,)
        self._lane_of = lane_function(settings.ordering)
        self._max_in_flight = settings.max_in_flight
        self._resume_at = settings.max_in_flight // 2
        # Below the bound by a fetch's worth, the loop takes records again at once: most
        # of what is in flight is outputs awaiting the broker's acknowledgement, and the
        # executions themselves need the CPU now, not once half the outputs are through.
        self._refill_at = settings.max_in_flight - max(
            1, min(settings.fetch_max_records, settings.max_in_flight // 2)
        )
        self._partitions: dict[Partition, _Partition] = {}
        self._paused = False
        self._stopping = False
        self._failure: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    # -- control ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to stop fetching, finish what runs, commit and return."""
        self._stopping = True
        self._wake()

    async def run(self) -> None:
        """Process records until ``stop()`` or the end of a finite source."""
        if self._stopping:
            return  # stopped before it started: nothing fetched, nothing to commit
        if self._transactions is not None:
            await self._transactions.begin()
        await self._source.start(self)
        try:
            await self._loop()
        except BaseException:
            # Commit nothing more: the failed record and those after it run again later.
            for part in list(self._partitions.values()):
                self._forget(part)
            if self._transactions is not None:
                with contextlib.suppress(Exception):
                    await self._transactions.abort()
            await self._source.stop()
            raise
        await self._shutdown()

    # -- rebalance listener ----------------------------------------------------------------

    async def on_assigned(self, partitions: Iterable[Partition]) -> None:
        fresh = []
        for partition in partitions:
            key = (partition[0], partition[1])
            old = self._partitions.pop(key, None)
            if old is not None:
                self._forget(old)
            self._partitions[key] = _Partition(key, self._meter.topic(key[0]) if self._meter else None)
            fresh.append(key)
        self.stats.partitions = len(self._partitions)
        if self._meter is not None:
            self._meter.assigned(self._partitions)
        if self._paused and fresh:
            self._source.pause(fresh)
        log.info("assigned %s", _describe(fresh))

    async def on_revoked(self, partitions: Iterable[Partition]) -> None:
        found = (self._partitions.get((key[0], key[1])) for key in partitions)
        parts = [part for part in found if part is not None]
        if not parts:
            return
        await self._close(parts)
        if self._meter is not None:
            self._meter.revoked(part.key for part in parts)
            self._meter.assigned(self._partitions)
        log.info("revoked %s", _describe(p.key for p in parts))

    # -- the loop --------------------------------------------------------------------------

    async def _loop(self) -> None:
        source = self._source
        settings = self._settings
        stats = self.stats
        next_commit = time.monotonic() + settings.commit_interval
        saturated_since: float | None = None
        while not self._stopping:
            if self._failure is not None:
                raise self._failure
            if self._paused:
                if stats.in_flight <= self._resume_at:
                    self._set_paused(False)
                else:
                    await self._wait_progress(settings.commit_interval)
                    await source.keep_alive()
                    if self._meter is not None:
                        self._meter.fetched()
            elif stats.in_flight >= self._max_in_flight or saturated_since is not None:
                # At the bound the loop takes no more records until a fetch's worth
                # of them are done; aiokafka meanwhile holds at most one unconsumed
                # fetch per partition. Pausing would also drop those fetches, to be read
                # again on resume, so the partitions pause only when the bound holds for
                # longer than ``pause_after``: outputs waiting a few milliseconds for
                # their acknowledgement cost no fetch.
                now = time.monotonic()
                if saturated_since is None:
                    saturated_since = now
                if stats.in_flight <= self._refill_at:
                    saturated_since = None
                    continue
                if now - saturated_since >= settings.pause_after:
                    self._set_paused(True)
                    saturated_since = None
                else:
                    await self._wait_progress(settings.pause_after - (now - saturated_since))
            else:
                room = self._max_in_flight - stats.in_flight
                batch = await source.fetch(settings.fetch_timeout, min(settings.fetch_max_records, room))
                if self._meter is not None:
                    self._meter.fetched()
                if batch:
                    await self._dispatch(batch)
                elif source.finished:
                    if stats.in_flight == 0:
                        break
                    await self._wait_progress(settings.commit_interval)
            self._reap()
            if time.monotonic() >= next_commit:
                if self._meter is not None:
                    self._meter.refresh(self._undone())
                if self._transactions is None:
                    await self._commit(self._partitions.values())
                elif not await self._commit_transaction(final=False):
                    # Outputs since the last commit were aborted while the consumer's
                    # positions are past them: only a restart from the committed
                    # offsets runs those records again.
                    raise self._failure or RuntimeError("a transaction could not settle and was aborted")
                next_commit = time.monotonic() + settings.commit_interval

    async def _dispatch(self, batch: Mapping[Partition, Sequence[RecordLike]]) -> None:
        stats = self.stats
        lane_of = self._lane_of
        begin = self._begin
        emit = self._emit
        for key, records in batch.items():
            part = self._partitions.get(key)
            if part is None:
                continue  # revoked since the fetch: the records belong to the next owner
            track = part.tracker.pending.append
            lanes = part.lanes
            # Counted up front, once per batch; records left out when the partition
            # closes mid-batch are taken off again below.
            stats.records += len(records)
            stats.in_flight += len(records)
            stats.in_flight_peak = max(stats.in_flight_peak, stats.in_flight)
            if part.metrics is not None:
                part.metrics.consumed(len(records))
            taken = 0
            for record in records:
                if part.closing:
                    break
                slot: Slot = [record.offset, None]
                track(slot)
                taken += 1
                if lanes:  # some lane of this partition is busy: the record may belong to it
                    lane = lane_of(record) if lane_of is not None else None
                    queue = lanes.get(lane) if lane is not None else None
                    if queue is not None:
                        queue.append((record, slot))
                        continue
                outcome = begin(part, record)
                if isinstance(outcome, ExecutionResult):
                    delivery = emit(part, record, outcome)
                    if type(delivery) is _Full:
                        delivery = await delivery.wait()
                    slot[1] = delivery
                else:
                    lane = lane_of(record) if lane_of is not None else None
                    if lane is not None:
                        lanes[lane] = deque()
                    self._spawn(part, lane, record, slot, outcome)
            if taken < len(records):
                stats.records -= len(records) - taken
                stats.in_flight -= len(records) - taken

    def _begin(self, part: _Partition, record: RecordLike) -> ExecutionResult | Awaitable[ExecutionResult]:
        name = part.envelope.prefix + str(record.offset)
        value = record.value
        try:
            data = check_input(value)
        except InvalidInputError as rejected:
            return _not_started(name, rejected.error, rejected.cause)
        if self._execution_started is not None:
            self._execution_started()
        try:
            # The size is known here; the engine need not measure the input again.
            return self._start(data, name, input_size=len(value))  # type: ignore[arg-type]
        except Exception as exc:
            return _internal_failure(name, exc)

    def _emit(self, part: _Partition, record: RecordLike, result: ExecutionResult) -> Delivery | _Full:
        """Encode ``result`` and hand it to its sink without waiting: its delivery, or, when
        the sink has no room at once, the record to ``await _Full.send`` with."""
        stats = self.stats
        if result.status == SUCCEEDED:
            try:
                value = orjson.dumps(result.output)
            except orjson.JSONEncodeError as exc:
                result = _internal_failure(result.name, exc, arn=result.execution_arn)
            else:
                stats.succeeded += 1
                stats.transitions += result.transitions
                if self._meter is not None:
                    self._meter.finished(result, True)
                headers = part.envelope.headers(result.name, result.execution_arn, record.offset)
                return self._hand_output(value, record.key, headers) or _Full(
                    self._send_output, value, record.key, headers
                )
        if self._meter is not None:
            self._meter.finished(result, False)
        if result.status == NOT_STARTED:
            stats.not_started += 1
        else:
            stats.transitions += result.transitions
            if result.status == TIMED_OUT:
                stats.timed_out += 1
            else:
                stats.failed += 1
        document = dead_letter(
            record,
            status=result.status,
            error=result.error,
            cause=result.cause,
            name=result.name,
            arn=result.execution_arn or None,
        )
        headers = part.envelope.headers(result.name, result.execution_arn, record.offset)
        return self._hand_dead(document, record.key, headers) or _Full(
            self._send_dead, document, record.key, headers
        )

    # -- executions that await ---------------------------------------------------------------

    def _spawn(
        self,
        part: _Partition,
        lane: Hashable | None,
        record: RecordLike,
        slot: Slot,
        running: Awaitable[ExecutionResult],
    ) -> None:
        task = asyncio.ensure_future(self._run_lane(part, lane, record, slot, running))
        part.tasks.add(task)
        self.stats.running += 1
        self.stats.spawned += 1
        task.add_done_callback(lambda done: self._task_done(part, done))

    def _task_done(self, part: _Partition, task: asyncio.Task[None]) -> None:
        part.tasks.discard(task)
        self.stats.running -= 1
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()
        self._wake()

    async def _run_lane(
        self,
        part: _Partition,
        lane: Hashable | None,
        record: RecordLike,
        slot: Slot,
        running: Awaitable[ExecutionResult],
    ) -> None:
        """Finish ``record``, then run the records queued behind it in its lane."""
        while True:
            began = time.monotonic()
            try:
                result = await running
            except Exception as exc:
                result = _internal_failure(part.envelope.prefix + str(record.offset), exc)
            except asyncio.CancelledError:
                # Abandoned unfinished (revocation, drain timeout, a second interrupt).
                if self._meter is not None:
                    self._meter.aborted(time.monotonic() - began)
                raise
            delivery = self._emit(part, record, result)
            slot[1] = await delivery.wait() if type(delivery) is _Full else delivery
            self._wake()
            if lane is None:
                return
            queue = part.lanes[lane]
            while True:
                if not queue or part.abandon:
                    # A closing partition abandons its queued records: they stay
                    # uncommitted and run again wherever the partition goes next.
                    del part.lanes[lane]
                    return
                record, slot = queue.popleft()
                outcome = self._begin(part, record)
                if not isinstance(outcome, ExecutionResult):
                    running = outcome
                    break
                delivery = self._emit(part, record, outcome)
                slot[1] = await delivery.wait() if type(delivery) is _Full else delivery

    # -- back-pressure and progress ---------------------------------------------------------

    def _set_paused(self, paused: bool) -> None:
        self._paused = paused
        self.stats.paused = paused
        if paused:
            self.stats.pauses += 1
            self._source.pause(list(self._partitions))
        else:
            self._source.resume(list(self._partitions))

    def _wake(self, _: object = None) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait_progress(self, timeout: float) -> None:
        """Wait until a partition's oldest record may be done, a task ends, or ``timeout``."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        for part in self._partitions.values():
            delivery = part.tracker.head_delivery()
            if delivery is not None:
                if delivery.done():
                    return
                delivery.add_done_callback(self._wake)
        try:
            await asyncio.wait([waiter], timeout=timeout)
        finally:
            if self._waiter is waiter:
                self._waiter = None

    def _reap(self, parts: Iterable[_Partition] | None = None) -> None:
        stats = self.stats
        try:
            for part in self._partitions.values() if parts is None else parts:
                if part.tracker.pending:
                    stats.in_flight -= part.tracker.reap()
        except DeliveryError as exc:
            # Raised in the loop at its next turn, also when found by a rebalance callback.
            if self._failure is None:
                self._failure = exc

    async def _commit(self, parts: Iterable[_Partition]) -> None:
        due = [(part, offset) for part in parts if (offset := part.tracker.due()) is not None]
        if not due:
            return
        started = time.monotonic()
        try:
            await self._source.commit({part.key: offset for part, offset in due})
        except CommitRejectedError as exc:
            self.stats.commits_rejected += 1
            if self._meter is not None:
                self._meter.committed(time.monotonic() - started, False)
            log.warning("commit rejected, the partitions moved: %s", exc)
            return
        except Exception:
            if self._meter is not None:
                self._meter.committed(time.monotonic() - started, False)
            raise
        self.stats.commits += 1
        if self._meter is not None:
            self._meter.committed(time.monotonic() - started, True)
        for part, offset in due:
            part.tracker.committed = offset

    # -- closing partitions ------------------------------------------------------------------

    async def _close(self, parts: list[_Partition], *, final: bool = False) -> None:
        """Finish (or, past the drain timeout, abandon) the partitions' work; commit; forget."""
        if self._transactions is not None:
            await self._close_transactional(parts, final=final)
            return
        for part in parts:
            part.closing = part.abandon = True
        deadline = time.monotonic() + self._settings.drain_timeout
        while True:
            self._reap(parts)
            if self._failure is not None or not any(_can_progress(part) for part in parts):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning("drain timeout: abandoning the executions still running")
                break
            await self._wait_progress(min(remaining, 1.0))
        if self._failure is None:
            await self._commit(parts)
        for part in parts:
            self._forget(part)

    # -- exactly-once ------------------------------------------------------------------------

    async def _close_transactional(self, parts: list[_Partition], *, final: bool) -> None:
        # Nothing may be abandoned here: a record skipped while later records of its
        # partition committed their outputs would run again, and its later neighbours'
        # outputs would then appear twice. So every queued record is finished too.
        for part in parts:
            part.closing = True
        if not await self._commit_transaction(final=final):
            log.warning("the open transaction was aborted: its records run again from the committed offsets")
        for part in parts:
            self._forget(part)

    async def _commit_transaction(self, *, final: bool) -> bool:
        """Settle every record, commit outputs and offsets together, open the next transaction.

        Returns False when the records could not settle within the drain timeout (or a
        delivery failed): the transaction is then aborted, and no output of it is ever
        visible to ``read_committed`` consumers.
        """
        assert self._transactions is not None
        async with self._transaction_lock:
            settled = await self._settle(time.monotonic() + self._settings.drain_timeout)
            if settled:
                due = [
                    (part, offset)
                    for part in self._partitions.values()
                    if (offset := part.tracker.due()) is not None
                ]
                if due:
                    started = time.monotonic()
                    try:
                        await self._transactions.commit({part.key: offset for part, offset in due})
                    except Exception:
                        if self._meter is not None:
                            self._meter.committed(time.monotonic() - started, False)
                        raise
                    self.stats.commits += 1
                    if self._meter is not None:
                        self._meter.committed(time.monotonic() - started, True)
                    for part, offset in due:
                        part.tracker.committed = offset
                    if not final:
                        await self._transactions.begin()
                elif final:
                    await self._transactions.abort()  # close the open, empty transaction
                return True
            await self._transactions.abort()
            if not final:
                await self._transactions.begin()
            return False

    async def _settle(self, deadline: float) -> bool:
        """Wait until every fetched record of every partition is done (or fail/time out)."""
        while True:
            for sink in self._sinks:
                await sink.flush()
            self._reap()
            if self._failure is not None:
                return False
            if not any(part.tracker.pending for part in self._partitions.values()):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await self._wait_progress(min(remaining, 1.0))

    def _undone(self) -> dict[Partition, int | None]:
        """Per partition, the first offset not done: its oldest pending record's, or one past the
        last record done; None when nothing was fetched from it in this assignment."""
        return {
            key: part.tracker.pending[0][0] if part.tracker.pending else part.tracker.committable
            for key, part in self._partitions.items()
        }

    def _forget(self, part: _Partition) -> None:
        for task in part.tasks:
            task.cancel()
        self.stats.in_flight -= len(part.tracker.pending)
        part.tracker.pending.clear()
        part.lanes.clear()
        if self._partitions.get(part.key) is part:
            del self._partitions[part.key]
        self.stats.partitions = len(self._partitions)

    async def _shutdown(self) -> None:
        await self._close(list(self._partitions.values()), final=True)
        for sink in self._sinks:
            await sink.flush()
        await self._source.stop()
        if self._failure is not None:
            raise self._failure


class _Full:
    """A record its sink had no room for at once: ``wait()`` sends it, waiting for room."""

    __slots__ = ("headers", "key", "send", "value")

    def __init__(
        self,
        send: Callable[[bytes, bytes | None, Headers], Awaitable[Delivery]],
        value: bytes,
        key: bytes | None,
        headers: Headers,
    ) -> None:
        self.send = send
        self.value = value
        self.key = key
        self.headers = headers

    async def wait(self) -> Delivery:
        return await self.send(self.value, self.key, self.headers)


def _can_progress(part: _Partition) -> bool:
    """Whether the partition's oldest unfinished record may still become done."""
    pending = part.tracker.pending
    return bool(pending) and (pending[0][1] is not None or bool(part.tasks))


def _not_started(name: str, error: str, cause: str) -> ExecutionResult:
    return ExecutionResult(NOT_STARTED, None, error, cause, name, "", "", None, 0.0, 0.0, 0)


def _internal_failure(name: str, exc: BaseException, arn: str = "") -> ExecutionResult:
    log.error("execution %s raised instead of failing", name, exc_info=exc)
    cause = f"{type(exc).__name__}: {exc}"
    return ExecutionResult("FAILED", None, INTERNAL_ERROR, cause, name, arn, "", None, 0.0, 0.0, 0)


def _describe(keys: Iterable[Partition]) -> str:
    return ", ".join(f"{topic}[{partition}]" for topic, partition in sorted(keys)) or "nothing"
