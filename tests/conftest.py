"""Fixtures shared by every test directory.

Kafka. Tests marked ``kafka`` (any test that uses a Kafka fixture is marked
automatically) share one broker per test run, started on first use by
``express.devtools.kafka_broker`` (needs Java 17+ and Maven; the jars are cached in
``~/.cache/express``), and stopped at the end of the run. To use a broker that is
already running instead, such as the docker-compose one, set

    EXPRESS_TEST_BOOTSTRAP=127.0.0.1:9092

Each test gets its own topics from ``kafka_topic``; deselect these tests with
``-m "not kafka"``.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

KafkaTopic = Callable[..., str]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "kafka_bootstrap" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kafka)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The bootstrap address of the test run's broker."""
    external = os.environ.get("EXPRESS_TEST_BOOTSTRAP")
    if external:
        yield external
        return
    from express.devtools.kafka_broker import start_broker

    broker = start_broker(die_with_parent=True)
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def _run_in_thread(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to the end from sync code, even when an event loop is running here."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


async def _create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        await admin.close()


async def _delete_topics(bootstrap: str, names: list[str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


@pytest.fixture
def kafka_topic(kafka_bootstrap: str, request: pytest.FixtureRequest) -> Iterator[KafkaTopic]:
    """Create a topic of this test's own: ``kafka_topic("in", partitions=4)`` returns its name."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name.removeprefix("test_"))[:40].strip("-")
    run = uuid.uuid4().hex[:8]
    created: list[str] = []

    def create(role: str, partitions: int = 1) -> str:
        name = f"{stem}-{run}-{role}"
        _run_in_thread(_create_topics(kafka_bootstrap, [name], partitions))
        created.append(name)
        return name

    yield create
    if created and os.environ.get("EXPRESS_TEST_BOOTSTRAP"):
        # A shared broker outlives the test run: leave it as it was found.
        _run_in_thread(_delete_topics(kafka_bootstrap, created))
