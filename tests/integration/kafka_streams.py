"""Helpers for the integration tests: produce, read back, look at offsets, run workers.

Every wait here is on a condition with a deadline; nothing sleeps a fixed time to let
something happen.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

DEADLINE = 60.0
ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


async def wait_until(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


async def produce(
    bootstrap: str, topic: str, records: Iterable[tuple[bytes | None, bytes | None]], **options: Any
) -> int:
    """Send (key, value) pairs and wait until the broker has them all; returns the count."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_request_size=2_000_000, **options
    )
    await producer.start()
    try:
        deliveries = [await producer.send(topic, value, key=key) for key, value in records]
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()
    return len(deliveries)


async def partitions(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for p in described["partitions"])


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(
            [TopicPartition(topic, p) for p in await partitions(bootstrap, topic)]
        )
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def read_all(
    bootstrap: str, topic: str, timeout: float = DEADLINE, isolation_level: str = "read_committed"
) -> list[Any]:
    """Every record now in ``topic`` (committed ones only, unless told otherwise)."""
    ends = await end_offsets(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation_level)
    await consumer.start()
    records: list[Any] = []
    try:
        partitions = [TopicPartition(topic, p) for p in ends]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp.partition]]:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out reading {topic}")
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


async def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    except KafkaError as exc:
        if not exc.retriable:
            raise
        return {}  # the group's coordinator is still starting: nothing committed yet
    finally:
        await admin.close()
    return {
        tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0
    }


async def wait_all_committed(bootstrap: str, group: str, topic: str, timeout: float = DEADLINE) -> None:
    ends = await end_offsets(bootstrap, topic)

    async def done() -> bool:
        return await committed(bootstrap, group, topic) == ends

    await wait_until(done, f"group {group} to commit every record of {topic}", timeout)


async def count(bootstrap: str, topic: str) -> int:
    """Records in a topic written without transactions (each takes one offset)."""
    return sum((await end_offsets(bootstrap, topic)).values())


def header(record: Any, name: str) -> bytes:
    return dict(record.headers)[name]


def source_of(record: Any) -> tuple[int, int]:
    """The (partition, offset) of the input record an output or dead letter came from."""
    return int(header(record, "express-source-partition")), int(header(record, "express-source-offset"))


def duplicates(records: Sequence[Any]) -> int:
    return sum(n - 1 for n in Counter(source_of(r) for r in records).values())


class Worker:
    """``express run`` in a subprocess, its output in a log file."""

    def __init__(self, args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.log_path = log
        self._env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "express.runtime.run_cli", *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=self._env,
            )
        return self

    def signal(self, number: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    async def wait(self, timeout: float = DEADLINE) -> int:
        assert self.process is not None
        process = self.process

        async def exited() -> bool:
            return process.poll() is not None

        await wait_until(exited, f"the worker to exit (log: {self.log()[-2000:]})", timeout)
        assert process.returncode is not None
        return process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill_if_running(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
