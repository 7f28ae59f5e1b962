"""The development broker: jar cache, start-up, the command-line wrapper."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from express.devtools import kafka_broker
from express.devtools.kafka_broker import _cluster_id, _free_ports, cache_dir, resolve_jars

ROOT = Path(__file__).resolve().parents[2]


def test_cluster_ids_look_like_kafkas_and_never_read_as_an_option() -> None:
    ids = {_cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_free_ports_are_distinct() -> None:
    first, second = _free_ports(2)
    assert first != second and first > 0 and second > 0


def test_the_cache_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EXPRESS_KAFKA_CACHE", str(tmp_path))
    assert cache_dir("3.9.2") == tmp_path / "kafka-3.9.2"


def test_cached_jars_are_used_without_calling_maven(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lib = tmp_path / "kafka-9.9.9" / "lib"
    lib.mkdir(parents=True)
    (lib / ".complete").write_text("9.9.9")
    monkeypatch.setenv("EXPRESS_KAFKA_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", "")  # no mvn to call
    assert resolve_jars("9.9.9") == lib


def test_a_missing_tool_is_reported_with_the_way_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EXPRESS_KAFKA_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", "")
    with pytest.raises(kafka_broker.BrokerError, match="EXPRESS_TEST_BOOTSTRAP"):
        resolve_jars("9.9.9")


@pytest.mark.kafka
@pytest.mark.skipif(bool(os.environ.get("EXPRESS_TEST_BOOTSTRAP")), reason="uses an external broker")
def test_the_script_starts_reports_and_stops_a_broker(tmp_path: Path) -> None:
    # A cache root of this test's own keeps the state file apart from a developer's broker;
    # the jars come from the shared cache through a link.
    shared = cache_dir()
    resolve_jars()
    root = tmp_path / "cache"
    root.mkdir()
    (root / shared.name).symlink_to(shared)
    env = {**os.environ, "EXPRESS_KAFKA_CACHE": str(root)}
    script = str(ROOT / "scripts" / "kafka-broker")

    def run(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script, command], env=env, capture_output=True, text=True, timeout=180, check=False
        )

    started = run("start")
    try:
        assert started.returncode == 0, started.stderr
        address = started.stdout.strip()
        host, _, port = address.rpartition(":")
        assert host == "127.0.0.1" and int(port) > 0
        assert run("status").stdout.strip() == address
        assert run("start").stdout.strip() == address  # already running: the same broker
        workdir = Path(json.loads((root / "kafka-broker.json").read_text())["workdir"])
        assert workdir.is_dir()
    finally:
        stopped = run("stop")
    assert stopped.returncode == 0
    assert not workdir.exists()
    assert run("status").returncode == 1
