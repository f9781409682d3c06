"""A lean HTTP/1.1 load generator and /proc CPU accounting for the sign-in benchmark.

httpx costs more CPU per request than the server path being measured, and the load generator shares the
two cores with it; this client sends pre-encoded requests on keep-alive connections and parses only the
status line and Content-Length.
"""

import asyncio
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def post(host: str, path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body


def get(host: str, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nhost: {host}\r\n\r\n".encode()


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"content-length:")
        length = int(lower[at + 15 : lower.find(b"\r\n", at)]) if at >= 0 else 0
        body = await self._reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        self._writer.close()


@dataclass
class Outcome:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    def record(self, status: int, latency: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies.append(latency)

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if 200 <= s < 300)

    def summary(self) -> dict[str, object]:
        ordered = sorted(self.latencies) or [0.0]
        return {
            "requests": len(self.latencies) + self.errors,
            "ok": self.ok,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.ok / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
        }


async def closed_loop(port: int, requests: Sequence[bytes], concurrency: int) -> Outcome:
    """Saturation: `concurrency` clients, each sending its next request as soon as the last is answered."""
    outcome = Outcome()
    connections = [await Connection.open(port) for _ in range(concurrency)]
    pending = iter(requests)

    async def client(conn: Connection) -> None:
        for request in pending:
            sent = time.perf_counter()
            try:
                status, _ = await conn.send(request)
            except (OSError, asyncio.IncompleteReadError):
                outcome.errors += 1
                conn = await Connection.open(port)
                continue
            outcome.record(status, time.perf_counter() - sent)

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in connections))
    outcome.seconds = time.perf_counter() - started
    for conn in connections:
        conn.close()
    return outcome


async def open_loop(port: int, requests: Sequence[bytes], rate: float, connections: int = 64) -> Outcome:
    """A fixed arrival rate; latency counts from the scheduled send time, so queueing in the client counts too."""
    outcome = Outcome()
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await Connection.open(port))
    started = time.perf_counter()

    async def one(request: bytes, due: float) -> None:
        conn = await idle.get()
        try:
            status, _ = await conn.send(request)
        except (OSError, asyncio.IncompleteReadError):
            outcome.errors += 1
            idle.put_nowait(await Connection.open(port))
            return
        outcome.record(status, time.perf_counter() - due)
        idle.put_nowait(conn)

    tasks = []
    for i, request in enumerate(requests):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(request, due)))
    await asyncio.gather(*tasks)
    outcome.seconds = time.perf_counter() - started
    while not idle.empty():
        idle.get_nowait().close()
    return outcome


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(parent pid, utime + stime in ticks, rss pages) of a live process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[21])


def tree(root: int) -> list[int]:
    """The root and all its descendants."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            parents.setdefault(stat[0], []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def cpu_seconds(root: int) -> float:
    """CPU (user + system) of a process tree so far, in seconds."""
    return sum(s[1] for p in tree(root) if (s := _stat(p)) is not None) / _TICKS


def cpu_seconds_by_role(root: int) -> dict[str, float]:
    """CPU of a process tree so far, in seconds: outbox relay processes (named relay-*) and the rest."""
    found = {"relay": 0.0, "server": 0.0}
    for pid in tree(root):
        try:
            name = Path(f"/proc/{pid}/comm").read_text()
        except OSError:
            continue
        if (stat := _stat(pid)) is not None:
            found["relay" if name.startswith("relay-") else "server"] += stat[1] / _TICKS
    return found


def rss_mb(root: int) -> list[float]:
    """Resident memory of each process of a tree, in MB."""
    return [round(s[2] * _PAGE / 1e6, 1) for p in tree(root) if (s := _stat(p)) is not None]
