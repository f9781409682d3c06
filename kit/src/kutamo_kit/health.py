"""Liveness and readiness as composable checks: each returns {"ok": bool, ...why}, a service lists its own.

`/health/ready` answers 200 when every check passes, else 503 with the checks, so an operator reads the
reason there (e.g. `database: CannotConnectNowError: the database system is starting up`). The same
checks keep a `..._ready` gauge current between scrapes.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
from litestar import Response
from prometheus_client import Gauge

from kutamo_kit.outages import DATABASE, DATABASE_ERRORS, DatabaseOutage, database_unavailable, describe

log = logging.getLogger(__name__)

__all__ = ["Checks", "answer", "database", "kafka", "keep_gauge", "ready", "run"]

_DATABASE_SECONDS = 2.0
_FAILURES: tuple[type[Exception], ...] = (*DATABASE_ERRORS, TimeoutError)
_KAFKA_SECONDS = 1.5

Checks = Callable[[], Awaitable[Mapping[str, Mapping[str, Any]]]]


async def database(pool: asyncpg.Pool, outage: DatabaseOutage = DATABASE) -> dict[str, Any]:
    """PostgreSQL answers a query through the pool (which reconnects by itself after a restart)."""
    try:
        await asyncio.wait_for(pool.fetchval("select 1"), _DATABASE_SECONDS)
    except _FAILURES as exc:
        if isinstance(exc, TimeoutError) or database_unavailable(exc):
            outage.failed(exc)
            # The pool's idle connections may be dead too (PostgreSQL restarted): it would hand out one per
            # check, each failing in turn, and the check would report the outage seconds after it ended.
            await pool.expire_connections()  # each is replaced by a fresh one when next acquired
        return {"ok": False, "error": type(exc).__name__, "reason": describe(exc)}
    outage.answered()
    return {"ok": True}


async def kafka(bootstrap_servers: str) -> dict[str, Any]:
    """A broker accepts a connection (a client library's own state can look healthy through an outage)."""
    for address in bootstrap_servers.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host.strip("[]"), int(port)), _KAFKA_SECONDS)
        except (OSError, TimeoutError, ValueError):
            continue
        writer.close()
        return {"ok": True}
    return {"ok": False, "error": "no Kafka broker accepts connections"}


def ready(found: Mapping[str, Mapping[str, Any]]) -> bool:
    return all(check["ok"] for check in found.values())


def answer(found: Mapping[str, Mapping[str, Any]], **extra: Any) -> Response[dict[str, Any]]:
    ok = ready(found)
    body = {"status": "ok" if ok else "unavailable", "checks": found, **extra}
    return Response(body, status_code=200 if ok else 503)


async def run(checks: Checks, gauge: Gauge) -> Mapping[str, Mapping[str, Any]]:
    """Run the checks once and set the ready gauge from them."""
    found = await checks()
    gauge.set(1 if ready(found) else 0)
    return found


async def keep_gauge(checks: Checks, gauge: Gauge, every: float = 5) -> None:
    """Keep the ready gauge current between scrapes (cancel to stop). A check that fails unexpectedly counts
    as not ready and is logged; the loop goes on (it also tells when the database is back: DATABASE)."""
    while True:
        try:
            await run(checks, gauge)
        except Exception as exc:  # a watchdog that stops would report its last state forever
            gauge.set(0)
            log.warning("readiness check failed", extra={"error": type(exc).__name__, "reason": describe(exc)})
        await asyncio.sleep(every)
