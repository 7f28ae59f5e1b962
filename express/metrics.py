"""Prometheus metrics of the engine and the Kafka runtime, defined once on an injected registry.

``ExpressMetrics(registry)`` registers one collector that owns every family in
``FAMILIES``. Code on the hot path never touches a prometheus-client object: it binds
once (``bind(state_machine)``, ``task(...)``, ``topic(...)``, ``partition(...)``) and then
bumps plain attributes of the bound object through plain method calls. A bump costs a
few tens of nanoseconds where a client ``Counter.inc`` costs a lock (half a
microsecond); the collector turns the attributes into samples at scrape time. Values
that live elsewhere (sink counters, time since the last fetch) come from callables
registered once and are read at scrape time too.

Invariants:
  * bound objects are bumped from one thread (the event loop); the scrape reads them
    from another, and reading an int or copying a list is atomic under the GIL;
  * counters only grow; ``in_flight`` is derived (started minus ended), never bumped;
  * label values come from the definition (state machine, state, resource names, state
    types) or from small fixed sets (status, outcome, drop reason). Names that arrive at
    run time (error names, dynamic resources, dead-letter reasons) are capped at
    ``MAX_DYNAMIC_LABELS`` values per family and state machine or topic; the rest count
    under ``"other"``, so no input can grow the number of series without bound.

``docs/metrics.md`` maps each family to its AWS/States CloudWatch counterpart.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from express.logs.sink import SinkStats

__all__ = [
    "COMMIT_BUCKETS",
    "EXECUTION_BUCKETS",
    "FAMILIES",
    "MAX_DYNAMIC_LABELS",
    "STATE_TYPES",
    "ConsumerMetrics",
    "ExpressMetrics",
    "PartitionMetrics",
    "StateMachineMetrics",
    "TaskMetrics",
    "TopicMetrics",
]

MAX_DYNAMIC_LABELS = 100
STATE_TYPES = ("Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
# Express executions last at most five minutes; most take milliseconds.
EXECUTION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

FetchAges = Callable[[], Mapping[tuple[str, int], float]]

# name -> (type, help, label names). Counter names are given without ``_total``.
FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "express_executions_started": ("counter", "Executions started.", ("state_machine",)),
    "express_executions_completed": (
        "counter",
        "Executions ended, by status: succeeded, failed, timed_out, aborted.",
        ("state_machine", "status"),
    ),
    "express_executions_in_flight": ("gauge", "Executions started and not yet ended.", ("state_machine",)),
    "express_execution_duration_seconds": (
        "histogram",
        "Time from an execution's start to its end.",
        ("state_machine",),
    ),
    "express_state_transitions": (
        "counter",
        "States entered, retries included, by state type.",
        ("state_machine", "state_type"),
    ),
    "express_tasks_started": (
        "counter",
        "Task handler calls started.",
        ("state_machine", "kind", "resource"),
    ),
    "express_tasks_completed": (
        "counter",
        "Task handler calls ended, by outcome: succeeded, failed, timed_out.",
        ("state_machine", "kind", "resource", "outcome"),
    ),
    "express_task_duration_seconds": (
        "histogram",
        "Time a task handler call took.",
        ("state_machine", "kind", "resource"),
    ),
    "express_errors": (
        "counter",
        "Errors raised by states, by ASL error name, whether then retried, caught or fatal.",
        ("state_machine", "error"),
    ),
    "express_retries": ("counter", "Retry attempts, by state.", ("state_machine", "state")),
    "express_records_consumed": ("counter", "Records fetched from an input topic.", ("topic",)),
    "express_records_produced": ("counter", "Records delivered to an output topic.", ("topic",)),
    "express_records_dead_lettered": (
        "counter",
        "Records delivered to the dead-letter topic, by reason.",
        ("topic", "reason"),
    ),
    "express_consumer_lag_records": (
        "gauge",
        "Records between the consumer's position and the end of a partition.",
        ("topic", "partition"),
    ),
    "express_consumer_last_fetch_age_seconds": (
        "gauge",
        "Seconds since the consumer last fetched from an assigned partition.",
        ("topic", "partition"),
    ),
    "express_consumer_assigned_partitions": ("gauge", "Partitions assigned to the consumer.", ()),
    "express_consumer_group_generation": (
        "gauge",
        "Generation of the consumer group at the last assignment.",
        (),
    ),
    "express_commit_duration_seconds": ("histogram", "Time an offset commit took.", ()),
    "express_commit_failures": ("counter", "Offset commits that failed.", ()),
    "express_buffer_usage": ("gauge", "Entries held in a bounded buffer.", ("buffer",)),
    "express_buffer_capacity": ("gauge", "The bound of a bounded buffer.", ("buffer",)),
    "express_log_events_written": ("counter", "Log lines a sink delivered.", ("sink",)),
    "express_log_events_dropped": (
        "counter",
        "Log lines a sink lost, by reason: full, failed, closed.",
        ("sink", "reason"),
    ),
    "express_log_sink_queue_length": ("gauge", "Log lines waiting in a sink's buffer.", ("sink",)),
    "express_log_sink_queue_capacity": ("gauge", "The bound of a sink's buffer.", ("sink",)),
}


class _Histogram:
    """Bucket counts as Prometheus defines them (``le``), bumped without a lock."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def buckets(self) -> tuple[list[tuple[str, float]], float]:
        counts = list(self.counts)  # one atomic copy, so buckets and count agree
        cumulative, out = 0, []
        for bound, count in zip((*self.bounds, float("inf")), counts, strict=True):
            cumulative += count
            out.append(("+Inf" if bound == float("inf") else repr(float(bound)), float(cumulative)))
        return out, self.sum


def _capped(counts: dict[str, int], value: str) -> str:
    """The label value to count ``value`` under, keeping at most MAX_DYNAMIC_LABELS of them."""
    if value in counts:
        return value
    if len(counts) >= MAX_DYNAMIC_LABELS:
        return "other"
    return value


class TaskMetrics:
    """One task resource of one state machine. ``kind`` is ``lambda`` (a Lambda function
    ARN, AWS's LambdaFunction* metrics) or ``service`` (an integration, ServiceIntegration*)."""

    __slots__ = (
        "duration",
        "failed_count",
        "kind",
        "resource",
        "started_count",
        "succeeded_count",
        "timed_out_count",
    )

    def __init__(self, kind: str, resource: str) -> None:
        self.kind = kind
        self.resource = resource
        self.started_count = 0
        self.succeeded_count = 0
        self.failed_count = 0
        self.timed_out_count = 0
        self.duration = _Histogram(EXECUTION_BUCKETS)

    def started(self) -> None:
        self.started_count += 1

    def succeeded(self, seconds: float) -> None:
        self.succeeded_count += 1
        self.duration.observe(seconds)

    def failed(self, seconds: float) -> None:
        self.failed_count += 1
        self.duration.observe(seconds)

    def timed_out(self, seconds: float) -> None:
        self.timed_out_count += 1
        self.duration.observe(seconds)


class StateMachineMetrics:
    """Every per-execution metric of one state machine, bound once.

    The runtime calls ``execution_started()`` when it starts an execution and
    ``execution_finished(result.status, seconds)`` when it ends; the engine calls
    ``transition(state_type)`` per state entered (retries included, as AWS counts),
    ``error(name)`` per error a state raises, ``retry(state)`` per retry attempt, and
    the methods of ``task(resource, kind)`` around each handler call.
    """

    __slots__ = (
        "aborted",
        "duration",
        "errors",
        "failed",
        "name",
        "nodes",
        "retries",
        "started",
        "succeeded",
        "tasks",
        "timed_out",
        "transitions",
    )

    def __init__(self, state_machine: str) -> None:
        self.name = state_machine
        self.started = 0
        self.succeeded = 0
        self.failed = 0
        self.timed_out = 0
        self.aborted = 0
        self.duration = _Histogram(EXECUTION_BUCKETS)
        self.transitions = dict.fromkeys(STATE_TYPES, 0)
        self.errors: dict[str, int] = {}
        self.retries: dict[str, int] = {}
        self.tasks: dict[tuple[str, str], TaskMetrics] = {}
        self.nodes: list[Any] = []

    def execution_started(self) -> None:
        self.started += 1

    def execution_finished(self, status: str, seconds: float) -> None:
        """``status`` is ``ExecutionResult.status``: SUCCEEDED, FAILED, TIMED_OUT or ABORTED."""
        if status == "SUCCEEDED":
            self.succeeded += 1
        elif status == "FAILED":
            self.failed += 1
        elif status == "TIMED_OUT":
            self.timed_out += 1
        else:
            self.aborted += 1
        self.duration.observe(seconds)

    def transition(self, state_type: str) -> None:
        self.transitions[state_type] = self.transitions.get(state_type, 0) + 1

    def watch_nodes(self, nodes: Iterable[Any]) -> None:
        """Count transitions from compiled states' visit counters, read at scrape time.

        The engine's metering driver bumps ``node.visits`` (an int on the node it already
        holds), which costs less per transition than a call into this object.
        """
        self.nodes.extend(nodes)

    def transition_counts(self) -> dict[str, int]:
        counts = dict(self.transitions)
        for node in self.nodes:
            if node.visits:
                counts[node.type] = counts.get(node.type, 0) + node.visits
        return counts

    def error(self, name: str) -> None:
        key = _capped(self.errors, name)
        self.errors[key] = self.errors.get(key, 0) + 1

    def retry(self, state: str) -> None:
        key = _capped(self.retries, state)
        self.retries[key] = self.retries.get(key, 0) + 1

    def task(self, resource: str, kind: str = "lambda") -> TaskMetrics:
        """The metrics of one task resource; bind at compile time when the resource is static."""
        key = (kind, resource)
        task = self.tasks.get(key)
        if task is None:
            if len(self.tasks) >= MAX_DYNAMIC_LABELS:
                key = (kind, "other")
                task = self.tasks.get(key)
            if task is None:
                task = self.tasks[key] = TaskMetrics(*key)
        return task

    @property
    def in_flight(self) -> int:
        return self.started - self.succeeded - self.failed - self.timed_out - self.aborted


class TopicMetrics:
    """Records through one topic: ``consumed(n)``, ``produced(n)``, ``dead_lettered(reason)``."""

    __slots__ = ("consumed_count", "dead_letters", "name", "produced_count")

    def __init__(self, topic: str) -> None:
        self.name = topic
        self.consumed_count = 0
        self.produced_count = 0
        self.dead_letters: dict[str, int] = {}

    def consumed(self, count: int = 1) -> None:
        self.consumed_count += count

    def produced(self, count: int = 1) -> None:
        self.produced_count += count

    def dead_lettered(self, reason: str, count: int = 1) -> None:
        key = _capped(self.dead_letters, reason)
        self.dead_letters[key] = self.dead_letters.get(key, 0) + count


class PartitionMetrics:
    """One assigned partition: the runtime refreshes ``lag`` (None until it is known) on a timer."""

    __slots__ = ("lag",)

    def __init__(self) -> None:
        self.lag: int | None = None


class ConsumerMetrics:
    """The consumer group member: commits and the group generation."""

    __slots__ = ("commit_duration", "commit_failures", "generation")

    def __init__(self) -> None:
        self.commit_duration = _Histogram(COMMIT_BUCKETS)
        self.commit_failures = 0
        self.generation: int | None = None

    def commit_succeeded(self, seconds: float) -> None:
        self.commit_duration.observe(seconds)

    def commit_failed(self, seconds: float) -> None:
        self.commit_failures += 1
        self.commit_duration.observe(seconds)


class _Buffer:
    __slots__ = ("capacity", "usage")

    def __init__(self, capacity: int, usage: Callable[[], int]) -> None:
        self.capacity = capacity
        self.usage = usage


class ExpressMetrics(Collector):
    """Every metric family, registered once on ``registry`` as one collector."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.consumer = ConsumerMetrics()
        self._machines: dict[str, StateMachineMetrics] = {}
        self._topics: dict[str, TopicMetrics] = {}
        self._partitions: dict[tuple[str, int], PartitionMetrics] = {}
        self._buffers: dict[str, _Buffer] = {}
        self._sinks: dict[str, Callable[[], SinkStats]] = {}
        self._fetch_ages: FetchAges | None = None
        registry.register(self)

    # -- binding (once, off the hot path) ---------------------------------------------

    def bind(self, state_machine: str) -> StateMachineMetrics:
        bound = self._machines.get(state_machine)
        if bound is None:
            bound = self._machines[state_machine] = StateMachineMetrics(state_machine)
        return bound

    def topic(self, topic: str) -> TopicMetrics:
        bound = self._topics.get(topic)
        if bound is None:
            bound = self._topics[topic] = TopicMetrics(topic)
        return bound

    def partition(self, topic: str, partition: int) -> PartitionMetrics:
        """Bind on assignment; ``forget_partition`` on revocation."""
        key = (topic, partition)
        bound = self._partitions.get(key)
        if bound is None:
            bound = self._partitions[key] = PartitionMetrics()
        return bound

    def forget_partition(self, topic: str, partition: int) -> None:
        self._partitions.pop((topic, partition), None)

    def watch_buffer(self, name: str, capacity: int, usage: Callable[[], int]) -> None:
        """Report a bounded buffer: its bound, and ``usage()`` read at scrape time."""
        self._buffers[name] = _Buffer(capacity, usage)

    def watch_consumer(self, fetch_ages: FetchAges) -> None:
        """Report, at scrape time, seconds since the last fetch of each assigned partition."""
        self._fetch_ages = fetch_ages

    def watch_log_sink(self, name: str, stats: Callable[[], SinkStats]) -> None:
        """Report, at scrape time, a log sink's delivered, queued and dropped counts."""
        self._sinks[name] = stats

    # -- scraping ----------------------------------------------------------------------

    def describe(self) -> list[Metric]:
        return [_family(name) for name in FAMILIES]

    def collect(self) -> Iterator[Metric]:
        families = {name: _family(name) for name in FAMILIES}
        self._collect_machines(families)
        self._collect_runtime(families)
        self._collect_sinks(families)
        yield from families.values()

    def _collect_machines(self, f: dict[str, Any]) -> None:
        for name, sm in sorted(self._machines.items()):
            f["express_executions_started"].add_metric((name,), sm.started)
            for status, count in (
                ("succeeded", sm.succeeded),
                ("failed", sm.failed),
                ("timed_out", sm.timed_out),
                ("aborted", sm.aborted),
            ):
                f["express_executions_completed"].add_metric((name, status), count)
            f["express_executions_in_flight"].add_metric((name,), sm.in_flight)
            _add_histogram(f["express_execution_duration_seconds"], (name,), sm.duration)
            for state_type, count in sm.transition_counts().items():
                f["express_state_transitions"].add_metric((name, state_type), count)
            for error, count in dict(sm.errors).items():
                f["express_errors"].add_metric((name, error), count)
            for state, count in dict(sm.retries).items():
                f["express_retries"].add_metric((name, state), count)
            for task in list(sm.tasks.values()):
                labels = (name, task.kind, task.resource)
                f["express_tasks_started"].add_metric(labels, task.started_count)
                for outcome, count in (
                    ("succeeded", task.succeeded_count),
                    ("failed", task.failed_count),
                    ("timed_out", task.timed_out_count),
                ):
                    f["express_tasks_completed"].add_metric((*labels, outcome), count)
                _add_histogram(f["express_task_duration_seconds"], labels, task.duration)

    def _collect_runtime(self, f: dict[str, Any]) -> None:
        for name, topic in sorted(self._topics.items()):
            f["express_records_consumed"].add_metric((name,), topic.consumed_count)
            f["express_records_produced"].add_metric((name,), topic.produced_count)
            for reason, count in dict(topic.dead_letters).items():
                f["express_records_dead_lettered"].add_metric((name, reason), count)
        for (topic_name, partition), bound in sorted(dict(self._partitions).items()):
            lag = bound.lag
            if lag is not None:
                f["express_consumer_lag_records"].add_metric((topic_name, str(partition)), lag)
        if self._fetch_ages is not None:
            ages = dict(self._fetch_ages())
            for (topic_name, partition), age in sorted(ages.items()):
                f["express_consumer_last_fetch_age_seconds"].add_metric((topic_name, str(partition)), age)
            f["express_consumer_assigned_partitions"].add_metric((), len(ages))
        consumer = self.consumer
        if consumer.generation is not None:
            f["express_consumer_group_generation"].add_metric((), consumer.generation)
        _add_histogram(f["express_commit_duration_seconds"], (), consumer.commit_duration)
        f["express_commit_failures"].add_metric((), consumer.commit_failures)
        for name, buffer in sorted(self._buffers.items()):
            f["express_buffer_usage"].add_metric((name,), buffer.usage())
            f["express_buffer_capacity"].add_metric((name,), buffer.capacity)

    def _collect_sinks(self, f: dict[str, Any]) -> None:
        for name, read in sorted(self._sinks.items()):
            stats = read()
            f["express_log_events_written"].add_metric((name,), stats.written)
            for reason, count in stats.dropped.items():
                f["express_log_events_dropped"].add_metric((name, reason), count)
            f["express_log_sink_queue_length"].add_metric((name,), stats.queued)
            f["express_log_sink_queue_capacity"].add_metric((name,), stats.capacity)


def _family(name: str) -> Any:
    kind, documentation, labels = FAMILIES[name]
    if kind == "counter":
        return CounterMetricFamily(name, documentation, labels=labels)
    if kind == "gauge":
        return GaugeMetricFamily(name, documentation, labels=labels)
    return HistogramMetricFamily(name, documentation, labels=labels)


def _add_histogram(family: Any, labels: tuple[str, ...], histogram: _Histogram) -> None:
    buckets, total = histogram.buckets()
    family.add_metric(labels, buckets, total)
