"""Prometheus exposition of a pipeline's ``Stats``, read at scrape time.

The hot path only bumps plain integers on ``Stats``; this collector turns them into
metric families when Prometheus asks, so metrics cost nothing per record. Every bounded
buffer is visible: ``express_in_flight`` against ``express_in_flight_limit``.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from express.runtime.stats import Stats

__all__ = ["StatsCollector", "serve_metrics"]

_COUNTERS = {
    "records": "Records fetched from the source",
    "transitions": "State transitions of finished executions",
    "pauses": "Times fetching paused because the in-flight limit was reached",
    "commits": "Offset commits accepted",
    "commits_rejected": "Offset commits refused after a rebalance",
}
_GAUGES = {
    "in_flight": "Records fetched and not yet committable",
    "in_flight_peak": "Highest in-flight count seen",
    "running": "Executions waiting on something (one task each)",
    "partitions": "Partitions assigned",
}


class StatsCollector:
    def __init__(self, stats: Stats, max_in_flight: int, worker: str) -> None:
        self._stats = stats
        self._limit = max_in_flight
        self._worker = worker

    def collect(self) -> Iterator[Metric]:
        s, labels = self._stats, [self._worker]
        for name, doc in _COUNTERS.items():
            counter = CounterMetricFamily(f"express_{name}", doc, labels=["worker"])
            counter.add_metric(labels, getattr(s, name))
            yield counter
        outcomes = CounterMetricFamily(
            "express_executions", "Records finished, by outcome", labels=["worker", "status"]
        )
        for status, value in (
            ("SUCCEEDED", s.succeeded),
            ("FAILED", s.failed),
            ("TIMED_OUT", s.timed_out),
            ("NOT_STARTED", s.not_started),
        ):
            outcomes.add_metric([self._worker, status], value)
        yield outcomes
        for name, doc in _GAUGES.items():
            gauge = GaugeMetricFamily(f"express_{name}", doc, labels=["worker"])
            gauge.add_metric(labels, getattr(s, name))
            yield gauge
        limit = GaugeMetricFamily("express_in_flight_limit", "The in-flight bound", labels=["worker"])
        limit.add_metric(labels, self._limit)
        yield limit
        paused = GaugeMetricFamily("express_paused", "1 while fetching is paused", labels=["worker"])
        paused.add_metric(labels, 1 if s.paused else 0)
        yield paused


def serve_metrics(stats: Stats, max_in_flight: int, port: int, worker: str = "0") -> CollectorRegistry:
    """Serve ``/metrics`` on 127.0.0.1-or-all ``port`` from a daemon thread."""
    registry = CollectorRegistry()
    registry.register(StatsCollector(stats, max_in_flight, worker))
    start_http_server(port, registry=registry)
    return registry
