"""JSON-lines files and stdio: each input line is one record, each result one output line.

The input (a file or stdin) is one partition of a topic named after it (``stdin`` or the
file's name); a record's offset is its line number from 0, so execution names read
``<file>-0-<line>``. A regular file is read in the loop, a chunk at a time; a pipe or a
terminal is read in a daemon thread, so a slow writer never blocks executions that wait
on something, and a stop never waits for a line that may not come. The trailing newline
is not part of the value; blank lines are skipped (their line numbers still count).

Outputs are written as they are delivered, one JSON document per line; deliveries are
done at once (``DELIVERED``), and ``flush`` flushes the file. Commits are no-ops: a file
has no consumer group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO

from express.runtime.records import (
    DELIVERED,
    Delivery,
    Headers,
    Partition,
    RebalanceListener,
    Record,
    RecordLike,
)

__all__ = ["LinesSink", "LinesSource"]

_CHUNK = 1000


class LinesSource:
    """Records from a JSON-lines file, or stdin when ``path`` is None or ``-``."""

    def __init__(self, path: str | Path | None = None) -> None:
        self._path = None if path is None or str(path) == "-" else Path(path)
        self.topic = "stdin" if self._path is None else self._path.name
        self._stream: IO[bytes] | None = None
        self._line = 0
        self._eof = False
        self._paused = False
        self._threaded = False

    @property
    def finished(self) -> bool:
        return self._eof

    async def start(self, listener: RebalanceListener) -> None:
        self._stream = sys.stdin.buffer if self._path is None else open(self._path, "rb")  # noqa: SIM115
        self._threaded = not stat.S_ISREG(os.fstat(self._stream.fileno()).st_mode)
        await listener.on_assigned([(self.topic, 0)])

    def _read_chunk(self, limit: int) -> list[Record]:
        assert self._stream is not None
        records: list[Record] = []
        now_ms = int(time.time() * 1000)
        while len(records) < limit:
            line = self._stream.readline()
            if not line:
                self._eof = True
                break
            offset = self._line
            self._line += 1
            line = line.rstrip(b"\r\n")
            if line.strip():
                records.append(Record(self.topic, 0, offset, line, timestamp=now_ms))
        return records

    async def fetch(self, timeout: float, max_records: int) -> Mapping[Partition, Sequence[RecordLike]]:
        if self._eof or self._paused:
            return {}
        limit = min(max_records, _CHUNK)
        records = await self._read_in_thread(limit) if self._threaded else self._read_chunk(limit)
        return {(self.topic, 0): records} if records else {}

    async def _read_in_thread(self, limit: int) -> list[Record]:
        loop = asyncio.get_running_loop()
        result: asyncio.Future[list[Record]] = loop.create_future()

        def settle(records: list[Record] | None, error: BaseException | None) -> None:
            if result.done():
                return
            if error is not None:
                result.set_exception(error)
            else:
                result.set_result(records or [])

        def read() -> None:
            try:
                records, error = self._read_chunk(limit), None
            except Exception as exc:
                records, error = None, exc
            # RuntimeError: the loop closed while this thread waited for input.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, records, error)

        threading.Thread(target=read, name="express-stdin", daemon=True).start()
        return await result

    async def keep_alive(self) -> None:
        return None

    def pause(self, partitions: Iterable[Partition]) -> None:
        self._paused = True

    def resume(self, partitions: Iterable[Partition]) -> None:
        self._paused = False

    async def commit(self, offsets: Mapping[Partition, int]) -> None:
        return None

    async def stop(self) -> None:
        if self._stream is not None and self._path is not None:
            self._stream.close()


class LinesSink:
    """Writes each record's value as one line to a file, or stdout when ``path`` is None or ``-``.

    With ``stream`` given (stderr, say), writes there and never closes it.
    """

    def __init__(self, path: str | Path | None = None, *, stream: IO[bytes] | None = None) -> None:
        self._own = stream is None and path not in (None, "-")
        if stream is not None:
            self._stream = stream
        elif self._own:
            target = Path(path)  # type: ignore[arg-type]
            target.parent.mkdir(parents=True, exist_ok=True)
            self._stream = open(target, "wb")  # noqa: SIM115
        else:
            self._stream = sys.stdout.buffer
        self.written = 0

    async def send(self, value: bytes, key: bytes | None, headers: Headers) -> Delivery:
        return self.send_nowait(value, key, headers)

    def send_nowait(self, value: bytes, key: bytes | None, headers: Headers) -> Delivery:
        self._stream.write(value + b"\n")
        self.written += 1
        return DELIVERED

    async def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        if self._own:
            self._stream.close()
        else:
            self._stream.flush()
