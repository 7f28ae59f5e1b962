"""Liveness of the stream worker, and the HTTP endpoint serving ``/metrics`` and ``/healthz``.

``ConsumerHealth`` is given a callable that reports, per assigned partition, the seconds
since the consumer last fetched from it. It is healthy while every age is below
``stall_after``; one stale partition means the consumer has stalled (a stuck event loop,
a hung broker connection, an execution that never yields), and the check fails, naming
the partition. A consumer with no partition assigned is alive (a group may have more
members than partitions); a callable that raises is not.

``serve_http`` is an anyio task: start it in the root task group with
``port = await task_group.start(functools.partial(serve_http, registry, health, port=...))``. It binds to
``127.0.0.1`` unless told otherwise, so metrics are not exposed beyond the host by
accident. Routes: ``GET /metrics`` (Prometheus text or OpenMetrics, as negotiated),
``GET /healthz`` (200 or 503 with a JSON report), anything else 404.

Invariants: a request is read within ``REQUEST_TIMEOUT`` seconds and at most
``MAX_REQUEST_BYTES`` long, or the connection is dropped; a failing handler never stops
the server.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import orjson
from anyio.abc import SocketAttribute, SocketStream, TaskStatus
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

__all__ = [
    "DEFAULT_METRICS_HOST",
    "DEFAULT_METRICS_PORT",
    "ConsumerHealth",
    "HealthReport",
    "serve_http",
]

DEFAULT_METRICS_HOST = "127.0.0.1"
DEFAULT_METRICS_PORT = 9358
REQUEST_TIMEOUT = 5.0
MAX_REQUEST_BYTES = 16 * 1024

FetchAges = Callable[[], Mapping[tuple[str, int], float]]
_log = logging.getLogger("express.health")


@dataclass(frozen=True, slots=True)
class HealthReport:
    healthy: bool
    reason: str
    partitions: dict[str, float] = field(default_factory=dict)  # "topic/partition" -> seconds since fetch

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "stalled",
            "reason": self.reason,
            "partitions": self.partitions,
        }


class ConsumerHealth:
    """Fails when any assigned partition has gone ``stall_after`` seconds without a fetch."""

    def __init__(self, fetch_ages: FetchAges, *, stall_after: float = 60.0) -> None:
        if not stall_after > 0:
            raise ValueError("stall_after must be positive")
        self._fetch_ages = fetch_ages
        self.stall_after = stall_after

    def check(self) -> HealthReport:
        try:
            ages = dict(self._fetch_ages())
        except Exception as exc:
            return HealthReport(False, f"cannot read the consumer's fetch times: {type(exc).__name__}: {exc}")
        partitions = {
            f"{topic}/{partition}": round(age, 3) for (topic, partition), age in sorted(ages.items())
        }
        stalled = [
            (name, age) for name, age in partitions.items() if not age < self.stall_after or math.isnan(age)
        ]
        if stalled:
            name, age = max(stalled, key=lambda item: item[1])
            return HealthReport(
                False,
                f"partition {name} not fetched for {age:.1f}s (limit {self.stall_after:g}s); "
                f"{len(stalled)} of {len(partitions)} partitions stalled",
                partitions,
            )
        if not partitions:
            return HealthReport(True, "no partitions assigned", partitions)
        return HealthReport(
            True, f"{len(partitions)} partitions fetched within {self.stall_after:g}s", partitions
        )


async def serve_http(
    registry: CollectorRegistry,
    health: ConsumerHealth | None = None,
    *,
    host: str = DEFAULT_METRICS_HOST,
    port: int = DEFAULT_METRICS_PORT,
    task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``/metrics`` and ``/healthz`` until cancelled; reports the bound port when started."""
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port, reuse_port=False)
    async with listener:
        bound = listener.listeners[0].extra(SocketAttribute.local_port)
        _log.info("serving /metrics and /healthz on http://%s:%s", host, bound)
        task_status.started(bound)

        async def handle(stream: SocketStream) -> None:
            async with stream:
                try:
                    await _handle(stream, registry, health)
                except (
                    anyio.EndOfStream,
                    anyio.BrokenResourceError,
                    anyio.ClosedResourceError,
                    TimeoutError,
                ):
                    pass
                except Exception:
                    _log.exception("metrics endpoint: request failed")

        await listener.serve(handle)


async def _handle(stream: SocketStream, registry: CollectorRegistry, health: ConsumerHealth | None) -> None:
    with anyio.fail_after(REQUEST_TIMEOUT):
        request = b""
        while b"\r\n\r\n" not in request:
            request += await stream.receive(4096)
            if len(request) > MAX_REQUEST_BYTES:
                await _respond(stream, 431, "text/plain", b"request header too large\n")
                return
    head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    parts = head[0].split(" ")
    if len(parts) != 3:
        await _respond(stream, 400, "text/plain", b"bad request\n")
        return
    method, target, _version = parts
    headers = {
        name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in head[1:])
    }
    path = target.split("?", 1)[0]
    if method not in {"GET", "HEAD"}:
        await _respond(stream, 405, "text/plain", b"only GET and HEAD\n", head_only=False, allow="GET, HEAD")
        return
    head_only = method == "HEAD"
    if path == "/metrics":
        encoder, content_type = choose_encoder(headers.get("accept", ""))
        await _respond(stream, 200, content_type, encoder(registry), head_only=head_only)
    elif path in {"/healthz", "/health"}:
        if health is None:
            body = b'{"status":"ok","reason":"no consumer to watch"}'
            await _respond(stream, 200, "application/json", body, head_only=head_only)
            return
        report = health.check()
        body = orjson.dumps(report.to_json())
        await _respond(stream, 200 if report.healthy else 503, "application/json", body, head_only=head_only)
    elif path == "/":
        body = b"express worker: /metrics (Prometheus), /healthz (liveness)\n"
        await _respond(stream, 200, "text/plain", body, head_only=head_only)
    else:
        await _respond(
            stream, 404, "text/plain", b"not found: try /metrics or /healthz\n", head_only=head_only
        )


_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Too Large",
    503: "Service Unavailable",
}


async def _respond(
    stream: SocketStream,
    status: int,
    content_type: str,
    body: bytes,
    *,
    head_only: bool = False,
    allow: str | None = None,
) -> None:
    lines = [
        f"HTTP/1.1 {status} {_REASONS[status]}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if allow:
        lines.append(f"Allow: {allow}")
    await stream.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body))
