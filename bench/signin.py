"""Server CPU per sign-in, as issue 14 measures it, against the floor of the path in the same run.

Servers run side by side, each identity server on a database of its own: the floor (`bench/_floor.py`:
verify the same Microsoft token, sign an ES256 session, on identity's HTTP stack) on one process and on
BENCH_PROCESSES processes (default: the machine's cores), identity with one process and with BENCH_PROCESSES.
After a warm-up of each, rounds are interleaved (floors, identity x1, identity xN, then again): per round and server,

- `GET /v1/login/{code}` at saturation: the nonces of the round's sign-ins; identity CPU per request and
  the transactions that wrote anything in the cluster meanwhile (there must be none);
- `POST /v1/sign-ins` of returning users at saturation (BENCH_CONCURRENCY clients): CPU per sign-in of the
  identity process tree (relay included, wherever it runs under identity), of PostgreSQL (every backend)
  and of the Kafka broker, from /proc, over the window from the first request until the outbox is empty
  again; sign-ins per second, p50/p99;
- the same at half the round's saturation rate (open loop: latency from the scheduled send time);
- RSS of each identity process.

Tokens are minted by the Microsoft emulator before the clock starts. The table gives medians over rounds.
Round sizes: BENCH_WARMUP, BENCH_ROUND, BENCH_HALF, BENCH_ROUNDS. Other engineers' tests share the two
cores, so ratios within one run are the figures to compare, not absolute ones across runs.
"""

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

import asyncpg
import httpx

from bench import _load as load
from kutamo_dev import postgres
from kutamo_dev.ports import free_port
from kutamo_dev.services import service_env
from kutamo_dev.stack import Stack

USERS = 50


def _command(module: str, factory: str, port: int, processes: int, server: str | None = None) -> list[str]:
    """How a server is started: as identity starts itself, or (BENCH_SERVER=granian) under granian, to compare."""
    if (server or os.environ.get("BENCH_SERVER")) != "granian":
        return [sys.executable, "-m", module]
    granian = os.path.join(os.path.dirname(sys.executable), "granian")
    return [granian, "--interface", "asgi", "--factory", "--loop", "uvloop", "--host", "127.0.0.1", "--port",
            str(port), "--workers", str(processes), "--no-ws", "--log-level", "warning",
            f"{module}:{factory}"]  # fmt: skip


def _setting(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


class Server:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int) -> None:
        self.name, self.port = name, port
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)

    async def ready(self, path: str) -> None:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                try:
                    if (await http.get(f"http://127.0.0.1:{self.port}{path}")).status_code < 500:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not become ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Bench:
    def __init__(self, stack: Stack) -> None:
        assert stack.emulator is not None
        assert stack.postgres.pid
        assert stack.kafka.pid
        self.stack, self.emulator = stack, stack.emulator.url
        self.tid, self.app, self.code = str(uuid.uuid4()), str(uuid.uuid4()), "bench" + uuid.uuid4().hex[:8]
        self.oids = [str(uuid.uuid4()) for _ in range(USERS)]
        self.concurrency = _setting("BENCH_CONCURRENCY", 32)
        self.run = uuid.uuid4().hex[:8]
        self.profiled: list[str] = []

    def database_url(self, server: str) -> str:
        """Each identity server has a database of its own: one relay leads per database, and it must be the
        relay of the server being measured (a shared database let the first server's relay publish for both)."""
        return self.stack.postgres.url.rsplit("/", 1)[0] + f"/kutamo_bench_{self.run}_{server}"

    def identity_env(self, server: str, port: int, processes: int) -> dict[str, str]:
        env = service_env(self.stack, "identity", port)
        env.update(
            DATABASE_URL=postgres.as_role(self.database_url(server), postgres.IDENTITY_ROLE),
            LOG_LEVEL="INFO",
            RATE_LIMIT_PER_MINUTE="1000000",  # one client address: the limit would measure itself
            WEB_CONCURRENCY=str(processes),
        )
        env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
        return env

    async def floor(self, processes: int) -> "Server":
        """The floor app on `processes` processes (as identity runs them), started and ready."""
        port = free_port()
        name = "floor" if processes == 1 else f"floor_x{processes}"
        server = Server(name, _command("bench._floor", "from_env", port, 1), {
            **os.environ, "PORT": str(port), "EMULATOR_URL": self.emulator, "TID": self.tid,
            "APPLICATION_ID": self.app, "FLOOR_PROCESSES": str(processes),
        }, port)  # fmt: skip
        await server.ready("/schema")
        return server

    async def mint(self, nonces: list[str]) -> list[bytes]:
        """Sign-in requests with fresh tokens from the emulator (minted 8 at a time, before the clock)."""
        host = f"127.0.0.1:{self.emulator.rsplit(':', 1)[1]}"
        port = int(self.emulator.rsplit(":", 1)[1])
        requests = [
            load.post(host, "/_emulator/tokens", json.dumps(
                {"tid": self.tid, "oid": self.oids[i % USERS], "client_id": self.app, "nonce": n}
            ).encode())
            for i, n in enumerate(nonces)
        ]  # fmt: skip
        bodies: list[bytes] = []
        connections = [await load.Connection.open(port) for _ in range(8)]
        pending = iter(enumerate(requests))
        minted: dict[int, bytes] = {}

        async def client(conn: load.Connection) -> None:
            for i, request in pending:
                _, body = await conn.send(request)
                tokens = json.loads(body)
                minted[i] = json.dumps({
                    "login_code": self.code, "id_token": tokens["id_token"], "access_token": tokens["access_token"],
                    "nonce": nonces[i],
                }).encode()  # fmt: skip

        await asyncio.gather(*(client(c) for c in connections))
        for conn in connections:
            conn.close()
        bodies = [minted[i] for i in range(len(requests))]
        return [load.post("127.0.0.1", "/v1/sign-ins", b) for b in bodies]

    async def nonces(self, server: Server, count: int) -> tuple[list[str], dict[str, Any]]:
        """`count` login configurations at saturation: their nonces, and the CPU and writes they cost."""
        request = load.get("127.0.0.1", f"/v1/login/{self.code}")
        writes_before = await self.writes()
        cpu = self.cpu(server)
        found: list[str] = []
        connections = [await load.Connection.open(server.port) for _ in range(self.concurrency)]
        remaining = [count]
        started = time.perf_counter()

        async def client(conn: load.Connection) -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                status, body = await conn.send(request)
                if status == 200:
                    found.append(json.loads(body)["nonce"])

        await asyncio.gather(*(client(c) for c in connections))
        seconds = time.perf_counter() - started
        for conn in connections:
            conn.close()
        used = self.cpu_delta(server, cpu)
        return found, {
            "requests": count, "per_second": round(count / seconds, 1),
            "identity_cpu_ms": round(used["identity"] * 1000 / count, 3),
            "postgres_cpu_ms": round(used["postgres"] * 1000 / count, 3),
            "write_transactions": (await self.writes()) - writes_before,
        }  # fmt: skip

    async def writes(self) -> int:
        """The next transaction id of the cluster: it advances only when some transaction writes."""
        conn = await asyncpg.connect(self.stack.postgres.url)
        try:
            return int(await conn.fetchval("select pg_snapshot_xmax(pg_current_snapshot())::text"))
        finally:
            await conn.close()

    def cpu(self, server: Server) -> dict[str, float]:
        assert self.stack.postgres.pid
        assert self.stack.kafka.pid
        identity = load.cpu_seconds_by_role(server.proc.pid)
        return {
            "identity": identity["server"] + identity["relay"],
            "identity_relay": identity["relay"],
            "postgres": load.cpu_seconds(self.stack.postgres.pid),
            "kafka": load.cpu_seconds(self.stack.kafka.pid),
            "bench": load.cpu_seconds(os.getpid()),
        }

    def cpu_delta(self, server: Server, before: dict[str, float]) -> dict[str, float]:
        after = self.cpu(server)
        return {k: after[k] - before[k] for k in before}

    def profiler(self, server: Server) -> subprocess.Popen[bytes] | None:
        """py-spy on the server's processes during a saturation phase, when BENCH_PROFILE names a file."""
        if not (target := os.environ.get("BENCH_PROFILE")) or server.name.startswith("floor"):
            return None
        out = f"{target}.{server.name}.{len(self.profiled)}.txt"
        self.profiled.append(out)
        return subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "--pid", str(server.proc.pid),
             "--subprocesses", "--nonblocking", "--rate", "200", "--format", "raw", "--output", out],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    async def drained(self, conn: asyncpg.Connection) -> None:
        deadline = time.monotonic() + 30
        while await conn.fetchval("select exists (select 1 from identity.outbox)"):
            if time.monotonic() > deadline:
                raise RuntimeError("the outbox did not drain")
            await asyncio.sleep(0.05)

    async def sign_ins(self, server: Server, requests: list[bytes], rate: float | None) -> dict[str, Any]:
        conn = None if server.name.startswith("floor") else await asyncpg.connect(self.database_url(server.name))
        try:
            before = self.cpu(server)
            profiler = self.profiler(server) if rate is None else None
            if rate is None:
                outcome = await load.closed_loop(server.port, requests, self.concurrency)
            else:
                outcome = await load.open_loop(server.port, requests, rate)
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(30)
            if conn is not None:
                await self.drained(conn)
            used = self.cpu_delta(server, before)
        finally:
            if conn is not None:
                await conn.close()
        if outcome.ok < len(requests) * 0.99:
            raise RuntimeError(f"{server.name}: sign-ins failed: {outcome.summary()}")
        ok = outcome.ok
        result: dict[str, Any] = outcome.summary()
        result.update({f"{k}_cpu_ms": round(v * 1000 / ok, 3) for k, v in used.items()})
        result["rss_mb"] = load.rss_mb(server.proc.pid)
        return result


async def _run(stack: Stack) -> dict[str, Any]:
    bench = Bench(stack)
    warmup, per_round = _setting("BENCH_WARMUP", 1000), _setting("BENCH_ROUND", 1500)
    half, rounds = _setting("BENCH_HALF", 500), _setting("BENCH_ROUNDS", 3)
    processes = _setting("BENCH_PROCESSES", os.cpu_count() or 1)
    admin = await asyncpg.connect(stack.postgres.url)
    names = [f"identity_x{count}" for count in sorted({1, processes})]
    for name in names:
        database = bench.database_url(name).rsplit("/", 1)[1]
        await admin.execute(f'create database "{database}"')
        on_it = await asyncpg.connect(bench.database_url(name))
        await on_it.execute(postgres.ROLES_SQL.read_text())  # the service's login role may create its schema
        await on_it.close()
    servers: list[Server] = []
    try:
        async with httpx.AsyncClient() as http:
            for oid in bench.oids:
                await http.post(f"{bench.emulator}/_emulator/users", json={
                    "tid": bench.tid, "oid": oid, "display_name": "Bench", "user_principal_name": f"{oid}@bench.test",
                })  # fmt: skip
        for count in sorted({1, processes}):
            name = f"identity_x{count}"
            port = free_port()
            argv = _command("kutamo_identity.__main__", "worker_app", port, count)
            server = Server(name, argv, bench.identity_env(name, port, count), port)
            servers.append(server)
            await server.ready("/health/ready")
            subprocess.run(  # noqa: ASYNC221 - set-up, before anything is measured
                [sys.executable, "-m", "kutamo_identity", "tenants", "create", "--name", "Bench", "--application-id",
                 bench.app, "--login-code", bench.code, "--directory-id", bench.tid],
                env=bench.identity_env(name, port, 1), check=True, capture_output=True, timeout=60,
            )  # fmt: skip
        floors = [await bench.floor(count) for count in sorted({1, processes})]
        servers[:0] = floors
        floor_requests = (await bench.mint(["n"] * 200)) * ((per_round + half) // 200 + 1)
        for server in servers[len(floors) :]:
            nonces, _ = await bench.nonces(server, warmup)
            await bench.sign_ins(server, await bench.mint(nonces), None)
        for floor in floors:
            await bench.sign_ins(floor, floor_requests[:warmup], None)
        results: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
        for number in range(rounds):
            for server in servers:
                sys.stdout.write(f"   round {number + 1}: {server.name}\n")
                sys.stdout.flush()
                if server in floors:
                    requests, login = floor_requests[: per_round + half], None
                else:
                    nonces, login = await bench.nonces(server, per_round + half)
                    requests = await bench.mint(nonces)
                saturated = await bench.sign_ins(server, requests[:per_round], None)
                halved = await bench.sign_ins(server, requests[per_round:], saturated["per_second"] / 2)
                results[server.name].append({"login_page": login, "saturation": saturated, "half_load": halved})
    finally:
        for server in servers:
            server.stop()
        for name in names:
            await admin.execute(f'drop database if exists "{bench.database_url(name).rsplit("/", 1)[1]}" with (force)')
        await admin.close()
    summary = _ratios({name: _median(rs) for name, rs in results.items()})
    return {
        "server": os.environ.get("BENCH_SERVER", "uvicorn"),
        "settings": {"warmup": warmup, "round": per_round, "half_load": half, "rounds": rounds,
                     "concurrency": bench.concurrency, "processes": processes, "returning_users": USERS},
        "median": summary,
        "rounds": results,
    }  # fmt: skip


def _ratios(summary: dict[str, Any]) -> dict[str, Any]:
    """Each server's CPU per sign-in against the floor's on as many processes."""
    for name, figures in summary.items():
        count = name.rpartition("_x")[2] if "_x" in name else "1"
        floor_cpu = summary["floor" if count == "1" else f"floor_x{count}"]["saturation"]["identity_cpu_ms"]
        figures["ratio_to_floor"] = round(figures["saturation"]["identity_cpu_ms"] / floor_cpu, 2)
    return summary


def _median(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each numeric figure over the rounds (RSS: the largest process, median over rounds)."""
    out: dict[str, Any] = {}
    for part in ("login_page", "saturation", "half_load"):
        values = [r[part] for r in rounds if r[part] is not None]
        if not values:
            continue
        out[part] = {
            key: round(statistics.median(v[key] for v in values), 3)
            for key, first in values[0].items()
            if isinstance(first, int | float)
        }
        if "rss_mb" in values[0]:
            out[part]["rss_mb_largest_process"] = statistics.median(max(v["rss_mb"]) for v in values)
            out[part]["rss_mb_all_processes"] = statistics.median(sum(v["rss_mb"]) for v in values)
    return out


def run(stack: Stack) -> dict[str, Any]:
    return asyncio.run(_run(stack))
