"""The stream runtime's side of ``express.metrics``: what a pipeline reports, bound once.

``RuntimeMeter`` binds the families a pipeline feeds (executions of its state machine,
records per topic, commits, the in-flight buffer, fetch ages) when the worker starts,
and hands the pipeline objects whose methods only bump integers. The pipeline calls it
only when metrics are on; without ``--metrics-port`` nothing is bound and the hot path
makes no call at all. ``serve`` runs the ``/metrics`` and ``/healthz`` endpoint of
``express.health`` beside the pipeline.

Invariants: label values are the state machine's name, topic names, and ASL error names
(capped by ``express.metrics``); every call happens on the event loop thread.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry

from express.metrics import ExpressMetrics, TopicMetrics
from express.runtime.envelope import NOT_STARTED
from express.runtime.records import Partition
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
    ) -> None:
        self.metrics = metrics
        self.machine = metrics.bind(state_machine)
        self.consumer = metrics.consumer
        self.outputs = metrics.topic(outputs)
        self.dead_letters = metrics.topic(dead_letters)
        self._topics: dict[str, TopicMetrics] = {}
        self._last_fetch = time.monotonic()
        self._assigned: list[Partition] = []
        metrics.watch_buffer("in_flight", max_in_flight, lambda: stats.in_flight)
        metrics.watch_consumer(self.fetch_ages)

    @property
    def registry(self) -> CollectorRegistry:
        return self.metrics.registry

    def topic(self, name: str) -> TopicMetrics:
        bound = self._topics.get(name)
        if bound is None:
            bound = self._topics[name] = self.metrics.topic(name)
        return bound

    def assigned(self, partitions: Iterable[Partition]) -> None:
        self._assigned = sorted(partitions)
        for topic, partition in self._assigned:
            self.metrics.partition(topic, partition)

    def revoked(self, partitions: Iterable[Partition]) -> None:
        for topic, partition in partitions:
            self.metrics.forget_partition(topic, partition)

    def fetched(self) -> None:
        self._last_fetch = time.monotonic()

    def fetch_ages(self) -> Mapping[Partition, float]:
        age = time.monotonic() - self._last_fetch
        return dict.fromkeys(self._assigned, age)

    def finished(self, result: ExecutionResult, output: bool) -> None:
        """One record's outcome: ``output`` is True for an output, False for a dead letter."""
        if result.status != NOT_STARTED:
            self.machine.execution_finished(result.status, max(result.stop_time - result.start_time, 0.0))
        if output:
            self.outputs.produced()
        else:
            self.dead_letters.dead_lettered(result.error or result.status)

    def committed(self, seconds: float, accepted: bool) -> None:
        if accepted:
            self.consumer.commit_succeeded(seconds)
        else:
            self.consumer.commit_failed(seconds)
