"""Four faults in a row under steady sign-ins, as an operator meets them (issue 17).

Kafka stopped for 15 s, the worker killed with SIGKILL, PostgreSQL restarted, one identity process killed
with SIGKILL — under 20 sign-ins a second through two tenants. Nothing is lost or doubled; each outage is
calm (log lines and CPU near the steady state); a database that is away answers 503 with Retry-After,
never 500; one identity process dying fails at most 1% of sign-ins, none after 2 s. The figures of the
run are written to artifacts/faults.json (docs/operations.md quotes one run).
"""

import asyncio
import contextlib
import json
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from kutamo_contracts.topics import USER_ERASED, USER_SIGNED_IN, Topic
from kutamo_dev import stack as dev_stack
from kutamo_dev.ports import free_port
from tests.e2e.conftest import eventually
from tests.e2e.provisioning import kit
from tests.support.databases import as_identity, as_provisioning, throwaway_database
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess, identity_workers, service_env
from tests.support.tenants import Tenant, create_tenant

OPERATOR_KEY = "op-faults-" + uuid.uuid4().hex
RATE = 20  # sign-ins a second
ARTIFACTS = Path("artifacts")
TICKS = os.sysconf("SC_CLK_TCK")

pytestmark = pytest.mark.timeout(600)


# ---- what an operator would look at: the processes' CPU and their log lines -------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def process_tree(root: int) -> list[int]:
    tree, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def cpu_seconds(root: int) -> float:
    """CPU the live process tree under `root` has used (user + system)."""
    total = 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def alive(pids: list[int]) -> list[str]:
    """The command lines of those of `pids` still running."""
    found = []
    for pid in pids:
        with contextlib.suppress(OSError):
            found.append(f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200])
    return found


def write_figures(figures: dict[str, object]) -> None:
    """The run's figures, for docs/operations.md and for reading a failure."""
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "faults.json").write_text(json.dumps(figures, indent=2))


def cpu_by_process(root: int) -> dict[str, float]:
    """CPU seconds of each live process under `root`, named by pid and command line."""
    found = {}
    for pid in process_tree(root):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            found[f"{pid} {cmdline[-60:]}"] = (int(fields[11]) + int(fields[12])) / TICKS
    return found


def log_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


@dataclass
class Window:
    """Log lines and CPU of each service over a stretch of time."""

    name: str
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    lines: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    by_process: dict[str, dict[str, float]] = field(default_factory=dict)

    def per_second(self) -> dict[str, dict[str, float]]:
        return {
            service: {"log_lines": self.lines[service] / self.seconds, "cpu_cores": self.cpu[service] / self.seconds}
            for service in self.lines
        }


class Observer:
    def __init__(self, services: dict[str, ServiceProcess]) -> None:
        self.services = services

    def _sample(self) -> tuple[dict[str, int], dict[str, float]]:
        lines = {name: log_lines(s.log_path) for name, s in self.services.items()}
        cpu = {name: cpu_seconds(s.pid) for name, s in self.services.items()}
        return lines, cpu

    async def measure(self, name: str, seconds: float) -> Window:
        lines0, cpu0 = self._sample()
        by_process0 = {n: cpu_by_process(s.pid) for n, s in self.services.items()}
        window = Window(name)
        await asyncio.sleep(seconds)
        lines1, cpu1 = self._sample()
        for n, s in self.services.items():
            after = cpu_by_process(s.pid)
            window.by_process[n] = {k: round(v - by_process0[n].get(k, 0.0), 2) for k, v in after.items()}
        window.seconds = time.monotonic() - window.started
        window.lines = {k: lines1[k] - lines0[k] for k in lines0}
        window.cpu = {k: cpu1[k] - cpu0[k] for k in cpu0}
        return window


# ---- steady sign-ins ------------------------------------------------------------------------------------------


@dataclass
class Attempt:
    at: float
    status: int
    code: str | None = None
    retry_after: str | None = None
    event_id: str | None = None
    user_id: str | None = None
    done: float = field(default_factory=time.monotonic)


class Load:
    """RATE sign-ins a second, each the frontend's whole flow: login page, Microsoft, POST /v1/sign-ins."""

    def __init__(self, http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator,
                 people: list[tuple[Tenant, str]]) -> None:  # fmt: skip
        self.http, self.identity, self.microsoft, self.people = http, identity, microsoft, people
        self.attempts: list[Attempt] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False

    async def _one(self, tenant: Tenant, oid: str) -> None:
        started = time.monotonic()
        try:
            page = await self.http.get(f"{self.identity.url}/v1/login/{tenant.login_code}")
            if page.status_code != 200:
                self._record(started, page)
                return
            nonce = page.json()["nonce"]
            tokens = await self.microsoft.tokens(tenant.directory_id, oid, tenant.application_id, nonce=nonce)
            answer = await self.http.post(
                f"{self.identity.url}/v1/sign-ins",
                json={"login_code": tenant.login_code, "id_token": tokens["id_token"],
                      "access_token": tokens["access_token"], "nonce": nonce},
            )  # fmt: skip
            self._record(started, answer)
        except httpx.TransportError:
            self.attempts.append(Attempt(started, 0, "connection_failed"))

    def _record(self, started: float, answer: httpx.Response) -> None:
        body = answer.json() if answer.headers.get("content-type", "").endswith("json") else {}
        self.attempts.append(
            Attempt(started, answer.status_code, body.get("code"), answer.headers.get("retry-after"),
                    body.get("event_id"), body.get("user_id"))
        )  # fmt: skip

    async def run(self) -> None:
        self._running = True
        tick = time.monotonic()
        while self._running:
            tenant, oid = random.choice(self.people)
            task = asyncio.create_task(self._one(tenant, oid))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            tick += 1 / RATE
            await asyncio.sleep(max(0.0, tick - time.monotonic()))

    async def stop(self) -> None:
        self._running = False
        await asyncio.gather(*self._tasks)

    def between(self, start: float, end: float) -> list[Attempt]:
        """The sign-ins started in [start, end)."""
        return [a for a in self.attempts if start <= a.at < end]

    def answered_between(self, start: float, end: float) -> list[Attempt]:
        """The sign-ins whose answer came in [start, end)."""
        return [a for a in self.attempts if start <= a.done < end]


# ---- the pipeline under test: its own database, identity as two processes, a worker ----------------------


@dataclass
class Pipeline:
    identity: ServiceProcess
    worker: ServiceProcess
    database_url: str
    env: dict[str, str]
    logs: Path

    def restart_worker(self) -> None:
        self.worker = ServiceProcess("kutamo_provisioning", self.worker.env, self.worker.log_path)
        self.worker.start()


async def _from_the_end(bootstrap: str, group: str, topics: list[Topic]) -> None:
    """Commit the group's offsets at the topics' ends: the worker reads only what this test signs in."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        await consumer.commit({tp: await consumer.position(tp) for tp in partitions})
    finally:
        await consumer.stop()


@pytest.fixture
async def pipeline(stack: dev_stack.Stack, emulator_url: str, logs_dir: Path) -> AsyncIterator[Pipeline]:
    logs = logs_dir / "faults"
    logs.mkdir(exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    group = f"kutamo-faults-{uuid.uuid4().hex[:8]}"
    bootstrap = stack.kafka.bootstrap_servers
    lifecycle = await kit.create_topic(bootstrap)
    await _from_the_end(bootstrap, group, [USER_SIGNED_IN, USER_ERASED])
    async with throwaway_database(stack.postgres.url, "kutamo_faults") as url:
        worker_port = free_port()
        identity_env = service_env({
            "DATABASE_URL": as_identity(url), "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "TOKEN_SEALING_KEY": stack.sealing_key, "AZURE_LOGIN_BASE_URL": emulator_url,
            "KUTAMO_OPERATOR_KEY": OPERATOR_KEY, "RATE_LIMIT_PER_MINUTE": "1000000", "WEB_CONCURRENCY": "2",
            "PROVISIONING_CONSUMER_GROUP": group, "PROVISIONING_BASE_URL": f"http://127.0.0.1:{worker_port}",
        })  # fmt: skip
        identity_env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{identity_env['PORT']}"
        identity = ServiceProcess("kutamo_identity", identity_env, logs / "identity.log")
        identity.start()
        worker_env = service_env({
            "DATABASE_URL": as_provisioning(url), "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "TOKEN_SEALING_KEY": stack.sealing_key, "GRAPH_BASE_URL": emulator_url, "IDENTITY_BASE_URL": identity.url,
            "KAFKA_CONSUMER_GROUP": group, "KAFKA_LIFECYCLE_TOPIC": lifecycle, "PORT": str(worker_port),
            "KUTAMO_OPERATOR_KEY": OPERATOR_KEY,
        })  # fmt: skip
        worker = ServiceProcess("kutamo_provisioning", worker_env, logs / "worker.log")
        worker.start()
        running = Pipeline(identity, worker, url, identity_env, logs)
        try:
            yield running
        finally:
            running.worker.stop()
            running.identity.stop()


# ---- the test -----------------------------------------------------------------------------------------------


async def _count(url: str, sql: str) -> int | None:
    try:
        conn = await asyncpg.connect(url)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        value: int = await conn.fetchval(sql)
        return value
    finally:
        await conn.close()


async def seconds_until(probe: Callable[[], Awaitable[bool]], within: float, what: str) -> float:
    """How long until probe holds (polled every 100 ms); fails after `within` seconds."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if await probe():
            return round(time.monotonic() - started, 1)
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {within}s")


def calm(steady: Window, outage: Window, service: str) -> list[str]:
    """What is wrong with a service's logging and CPU during an outage, measured against the steady state."""
    s, o = steady.per_second()[service], outage.per_second()[service]
    wrong = []
    if o["log_lines"] > 3 * s["log_lines"] + 20:
        wrong.append(f"{service} wrote {o['log_lines']:.1f} lines/s during {outage.name} (steady {s['log_lines']:.1f})")
    # CPU: no more than in steady state, with a margin for a reconnect now and then (5% of a core).
    if o["cpu_cores"] > s["cpu_cores"] * 1.25 + 0.05:
        wrong.append(f"{service} used {o['cpu_cores']:.3f} cores during {outage.name} (steady {s['cpu_cores']:.3f})")
    return wrong


@pytest.mark.disrupts_kafka
@pytest.mark.stops_services
@pytest.mark.disrupts_database
async def test_four_faults_in_a_row_lose_nothing_double_nothing_and_stay_calm(
    pipeline: Pipeline, stack: dev_stack.Stack, microsoft: Emulator
) -> None:
    tenants = [create_tenant(pipeline.identity, name=f"Faults {n}") for n in ("North", "South")]
    people = []
    for tenant in tenants:
        for i in range(30):
            person = await microsoft.add_user(tenant.directory_id, name=f"Person {i}", mail=None, title="Staff")
            people.append((tenant, person["oid"]))
    observer = Observer({"identity": pipeline.identity, "worker": pipeline.worker})
    recovery: dict[str, float] = {}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(timeout=15, limits=limits) as http:
        load = Load(http, pipeline.identity, microsoft, people)
        t0 = time.monotonic()
        running = asyncio.create_task(load.run())
        try:
            await asyncio.sleep(5)  # warm: pools filled, every process has served
            steady = await observer.measure("steady state", 10)

            # 1. Kafka stopped for 15 s.
            await asyncio.to_thread(dev_stack.stop_kafka, stack)
            try:
                kafka_down = await observer.measure("the Kafka outage", 15)
            finally:
                await asyncio.to_thread(dev_stack.start_kafka, stack)

            async def outbox_drained() -> bool:
                return await _count(pipeline.database_url, "select count(*) from identity.outbox") == 0

            recovery["kafka"] = await seconds_until(outbox_drained, 90, "the outbox drained after Kafka returned")
            await asyncio.sleep(3)

            # 2. The worker killed outright, then started again (as an orchestrator would).
            old_worker = process_tree(pipeline.worker.pid)[1:]  # its children: the relay and its helpers
            accepted_before_kill = [a.event_id for a in load.attempts if a.status == 201]
            pipeline.worker.kill()
            await asyncio.sleep(2)
            restarted = time.monotonic()
            await asyncio.to_thread(pipeline.restart_worker)
            observer.services["worker"] = pipeline.worker

            async def caught_up() -> bool:
                """Everything accepted before the kill is applied (what the killed worker left is done)."""
                done = await _count(
                    pipeline.database_url,
                    "select count(*) from provisioning.processed_events where event_id = any(array["
                    + ",".join(f"'{e}'::uuid" for e in accepted_before_kill) + "])",
                )  # fmt: skip
                return done == len(accepted_before_kill)

            try:
                await seconds_until(caught_up, 90, "the restarted worker applied what was accepted before the kill")
            except AssertionError:
                conn = await asyncpg.connect(pipeline.database_url)
                try:
                    done = {str(r[0]) for r in await conn.fetch("select event_id from provisioning.processed_events")}
                    published = {str(r[0]) for r in await conn.fetch("select event_id from identity.outbox_published")}
                    waiting = await conn.fetchval("select count(*) from identity.outbox")
                finally:
                    await conn.close()
                missing = [e for e in accepted_before_kill if e not in done]
                raise AssertionError(
                    f"{len(missing)} of {len(accepted_before_kill)} not applied; published: "
                    f"{sum(m in published for m in missing)}; outbox waiting: {waiting}; first: {missing[:3]}"
                ) from None
            recovery["worker"] = round(time.monotonic() - restarted, 1)
            await asyncio.sleep(3)

            # 3. PostgreSQL restarted (a few seconds away).
            pg_from = time.monotonic()
            await asyncio.to_thread(dev_stack.stop_postgres, stack)
            try:
                postgres_down = await observer.measure("the PostgreSQL restart", 5)
            finally:
                await asyncio.to_thread(dev_stack.start_postgres, stack)
            back = time.monotonic()

            async def signing_in_again() -> bool:
                return any(a.status == 201 for a in load.between(back, time.monotonic()))

            recovery["postgres"] = await seconds_until(
                signing_in_again, 60, "sign-ins accepted after PostgreSQL returned"
            )
            await asyncio.sleep(3)
            pg_to = time.monotonic()

            # 4. One identity process killed outright; the supervisor replaces it.
            victim = identity_workers(pipeline.identity.pid)[0]
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()

            async def replaced() -> bool:
                return len(identity_workers(pipeline.identity.pid)) == 2 and victim not in identity_workers(
                    pipeline.identity.pid
                )

            recovery["identity_process"] = await seconds_until(replaced, 30, "the killed identity process replaced")
            await asyncio.sleep(max(0.0, killed_at + 10 - time.monotonic()))
        finally:
            await load.stop()
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)

    accepted = [a for a in load.attempts if a.status == 201]

    # Nothing lost, nothing doubled: every accepted sign-in was provisioned exactly once.
    async def all_processed() -> int | None:
        conn = await asyncpg.connect(pipeline.database_url, server_settings={"search_path": "provisioning"})
        try:
            done = await conn.fetchval("select count(*) from processed_events where event_id = any($1::uuid[])",
                                       [a.event_id for a in accepted])  # fmt: skip
        finally:
            await conn.close()
        return done if done == len(accepted) else None

    await eventually(all_processed, within=120, what="every accepted sign-in provisioned")
    conn = await asyncpg.connect(pipeline.database_url, server_settings={"search_path": "provisioning"})
    try:
        doubled = await conn.fetch("select azure_tid, azure_oid from users group by 1, 2 having count(*) > 1")
        users = await conn.fetchval("select count(*) from users")
    finally:
        await conn.close()
    during = load.answered_between(pg_from, pg_to)
    refused = [a for a in during if a.status != 201]
    window = load.between(killed_at, killed_at + 10)
    failed = [a for a in window if a.status != 201]
    figures = {
        "sign_ins": len(load.attempts),
        "accepted": len(accepted),
        "windows": {w.name: w.per_second() for w in (steady, kafka_down, postgres_down)},
        "cpu_seconds_by_process": {w.name: w.by_process for w in (steady, kafka_down, postgres_down)},
        "postgres_restart": {"sign_ins": len(during), "refused_503": len(refused)},
        "identity_process_killed": {"sign_ins": len(window), "failed": len(failed)},
        "recovery_seconds": recovery,
        "refusals_outside_the_restart": Counter(
            f"{a.status} {a.code}" for a in load.attempts if a.status != 201 and a not in during
        ),
        "timeline": {
            "refusals_outside_the_restart_at": [
                round(a.at - t0, 1) for a in load.attempts if a.status != 201 and a not in during
            ][:40],
            "postgres_stopped_at": round(pg_from - t0, 1),
            "postgres_back_at": round(back - t0, 1),
            "restart_window_ends_at": round(pg_to - t0, 1),
            "identity_process_killed_at": round(killed_at - t0, 1),
        },
    }
    write_figures(figures)

    assert doubled == [], "a person became two users"
    assert users == len({a.user_id for a in accepted}), "every accepted person is exactly one user"
    assert alive(old_worker) == [], "the killed worker's children (its relay) lived on"

    # Calm outages: log lines and CPU near the steady state.
    assert not calm(steady, kafka_down, "identity") + calm(steady, kafka_down, "worker")
    assert not calm(steady, postgres_down, "identity")

    # PostgreSQL restarting: 503 with Retry-After, never 500.
    assert refused, "the restart was never seen by a sign-in: the test proved nothing"
    assert [a for a in refused if a.status != 503 or a.code != "database_unavailable" or not a.retry_after] == []

    # One identity process killed: at most 1% of sign-ins fail, none after 2 s.
    assert len(window) >= RATE * 8
    assert len(failed) <= len(window) * 0.01, failed
    assert [a for a in failed if a.at > killed_at + 2] == []
    assert len(identity_workers(pipeline.identity.pid)) == 2, "the killed identity process was not replaced"
