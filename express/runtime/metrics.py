"""The stream runtime's side of ``express.metrics``: what a pipeline reports, bound once.

``RuntimeMeter`` binds the families a pipeline feeds (executions of its state machine,
records per topic, commits, the in-flight buffer, partitions) when the worker starts,
and hands the pipeline objects whose methods only bump integers. The pipeline calls it
only when metrics are on; without ``--metrics-port`` nothing is bound and the hot path
makes no call at all. Per record the pipeline makes at most two calls here
(``machine.execution_started`` and ``finished``); per fetched batch one
(``fetched``); per commit turn one (``refresh``), which is where lag and the group
generation are brought up to date, from the consumer's own bookkeeping
(``ConsumerProbe``), never per record.

Liveness (``fetch_ages``) is per assigned partition: the larger of the time since the
pipeline last asked its source for records (a stuck loop) and the time since the broker
last answered a fetch of that partition (a hung connection, a lost leader). A paused
partition is only expected to be kept alive, not fetched.

Invariants: label values are the state machine's name, topic names, and ASL error names
(capped by ``express.metrics``); every call happens on the event loop thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry

from express.metrics import ExpressMetrics, PartitionMetrics, TopicMetrics
from express.runtime.envelope import NOT_STARTED
from express.runtime.records import ConsumerProbe, Partition
from express.runtime.result import ExecutionResult
from express.runtime.stats import Stats

__all__ = ["RuntimeMeter"]


class RuntimeMeter:
    """A pipeline's metrics, bound to one state machine and one ``ExpressMetrics``."""

    def __init__(
        self,
        metrics: ExpressMetrics,
        *,
        state_machine: str,
        outputs: str,
        dead_letters: str,
        stats: Stats,
        max_in_flight: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metrics = metrics
        self._clock = clock
        self.machine = metrics.bind(state_machine)
        self.consumer = metrics.consumer
        self.outputs = metrics.topic(outputs)
        self.dead_letters = metrics.topic(dead_letters)
        self.probe: ConsumerProbe | None = None
        # Bound once: ``finished`` runs per record.
        self._execution_finished = self.machine.execution_finished
        self._produced = self.outputs.produced
        self._dead_lettered = self.dead_letters.dead_lettered
        self._topics: dict[str, TopicMetrics] = {}
        self._last_fetch = clock()
        self._assigned: dict[Partition, PartitionMetrics] = {}
        metrics.watch_buffer("in_flight", max_in_flight, lambda: stats.in_flight)
        metrics.watch_consumer(self.fetch_ages)

    @property
    def registry(self) -> CollectorRegistry:
        return self.metrics.registry

    def watch(self, probe: ConsumerProbe) -> None:
        """Read lag, fetch times and the generation from ``probe`` (a group consumer)."""
        self.probe = probe

    def topic(self, name: str) -> TopicMetrics:
        bound = self._topics.get(name)
        if bound is None:
            bound = self._topics[name] = self.metrics.topic(name)
        return bound

    def assigned(self, partitions: Iterable[Partition]) -> None:
        """The partitions held now (after an assignment or a revocation)."""
        held = set(partitions)
        for key in [key for key in self._assigned if key not in held]:
            del self._assigned[key]
        for key in sorted(held):
            if key not in self._assigned:
                self._assigned[key] = self.metrics.partition(*key)
        if self.probe is not None:
            self.consumer.generation = self.probe.generation()

    def revoked(self, partitions: Iterable[Partition]) -> None:
        for topic, partition in partitions:
            self._assigned.pop((topic, partition), None)
            self.metrics.forget_partition(topic, partition)

    def fetched(self) -> None:
        self._last_fetch = self._clock()

    def fetch_ages(self) -> Mapping[Partition, float]:
        age = self._clock() - self._last_fetch
        probe = self.probe
        if probe is None:
            return dict.fromkeys(self._assigned, age)
        ages = {}
        for key in list(self._assigned):
            broker = probe.fetch_age(key)
            ages[key] = age if broker is None else max(age, broker)
        return ages

    def refresh(self, undone: Mapping[Partition, int | None]) -> None:
        """Lag per partition: its end offset minus the first offset not yet done.

        ``undone`` maps each assigned partition to the first offset not yet done (None when
        nothing was fetched from it in this assignment: a consumer that fetches and gets
        nothing is at the end). So lag counts the records a restart would run again, like
        the committed lag Kafka's tools show, up to one commit interval fresher.
        """
        probe = self.probe
        if probe is None:
            return
        for key, bound in self._assigned.items():
            end = probe.end_offset(key)
            if end is None:
                continue
            first = undone.get(key)
            bound.lag = 0 if first is None else max(end - first, 0)
        self.consumer.generation = probe.generation()

    def finished(self, result: ExecutionResult, output: bool) -> None:
        """One record's outcome: ``output`` is True for an output, False for a dead letter."""
        status = result.status
        if status != NOT_STARTED:
            seconds = result.stop_time - result.start_time
            self._execution_finished(status, seconds if seconds > 0.0 else 0.0)
        if output:
            self._produced()
        else:
            self._dead_lettered(result.error or status)

    def aborted(self, seconds: float) -> None:
        """An execution abandoned unfinished (its partition was revoked, or the worker stopped)."""
        self.machine.execution_finished("ABORTED", seconds)

    def committed(self, seconds: float, accepted: bool) -> None:
        if accepted:
            self.consumer.commit_succeeded(seconds)
        else:
            self.consumer.commit_failed(seconds)
