"""A broker that crashes and comes back loses no record of a running worker.

This test starts a broker of its own (it kills it), so it needs the local broker tooling
even when the other tests use an external broker.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from kafka_streams import (
    Worker,
    count,
    duplicates,
    produce,
    read_all,
    wait_all_committed,
    wait_until,
)

from express.devtools.kafka_broker import RunningBroker, start_broker

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.anyio,
    pytest.mark.skipif(
        bool(os.environ.get("EXPRESS_TEST_BOOTSTRAP")),
        reason="runs only with the local broker tooling (it crashes a broker of its own)",
    ),
]

HERE = Path(__file__).resolve().parent
DEFINITION = HERE / "workflows" / "stream.asl.json"
HANDLERS = HERE / "workflows" / "stream_handlers.py"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def own_broker() -> Iterator[RunningBroker]:
    broker = start_broker(die_with_parent=True)
    try:
        yield broker
    finally:
        broker.stop()


async def _create(bootstrap: str, *topics: tuple[str, int]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name, partitions in topics])
    finally:
        await admin.close()


async def test_a_broker_crash_mid_stream_loses_nothing(own_broker: RunningBroker, tmp_path: Path) -> None:
    bootstrap = own_broker.bootstrap
    await _create(bootstrap, ("in", 3), ("out", 3), ("dlq", 1))
    n = 300

    def records(start: int) -> Iterator[tuple[bytes, bytes]]:
        return ((b"k%d" % (i % 7), orjson.dumps({"seq": i, "delay": 0.005})) for i in range(start, start + n))

    await produce(bootstrap, "in", records(0))
    args: list[Any] = [
        str(DEFINITION),
        "--handlers", str(HANDLERS),
        "--bootstrap-servers", bootstrap,
        "--input-topic", "in",
        "--output-topic", "out",
        "--dlq-topic", "dlq",
        "--group-id", "g-crash",
        "--commit-interval", "0.2",
        "--session-timeout-ms", "6000",
        "--heartbeat-interval-ms", "500",
        "--max-in-flight", "20",
    ]  # fmt: skip
    worker = Worker(args, tmp_path / "worker.log").start()
    try:

        async def some_out() -> bool:
            return await count(bootstrap, "out") >= 50

        await wait_until(some_out, "the first outputs")
        await anyio.to_thread.run_sync(own_broker.restart)  # SIGKILL, then the same ports and data
        await produce(bootstrap, "in", records(n))  # records that arrive after the crash too
        await wait_all_committed(bootstrap, "g-crash", "in", timeout=120)
        worker.signal(signal.SIGTERM)
        assert await worker.wait() == 0, worker.log()[-3000:]
    finally:
        worker.kill_if_running()

    outputs = await read_all(bootstrap, "out")
    assert sorted({orjson.loads(r.value)["seq"] for r in outputs}) == list(range(2 * n)), worker.log()[-3000:]
    print(f"broker crash: {len(outputs)} outputs for {2 * n} records, {duplicates(outputs)} duplicates")
