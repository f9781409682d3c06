"""Options every Kafka client of ours is made with, and the reconnect backoff aiokafka lacks.

aiokafka 0.14 has `retry_backoff_ms` (a fixed pause between retries of a request) but none of the
Java client's `reconnect.backoff.ms` / `reconnect.backoff.max.ms`: while a broker is down, every
metadata refresh, fetch and produce retry dials it again at once. `backoff_reconnects` adds that
backoff to one client: after a failed connection to a node, further attempts to that node wait
0.1 s, then twice as long each time (with jitter), at most `RECONNECT_BACKOFF_MAX_S` (the caller
waits it out, then the node is dialled); a connection that succeeds resets it. It wraps the client's
`_get_conn`, aiokafka's one place that dials a node (a private method: tests/unit/kit/
test_kafka_connectivity.py fails loudly when aiokafka changes it).
"""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["RECONNECT_BACKOFF_MAX_S", "RECONNECT_BACKOFF_S", "RETRY_BACKOFF_MS", "backoff_reconnects", "options"]

RETRY_BACKOFF_MS = 250
RECONNECT_BACKOFF_S = 0.1
RECONNECT_BACKOFF_MAX_S = 10.0


def options() -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient alike."""
    return {"retry_backoff_ms": RETRY_BACKOFF_MS}


def backoff_reconnects(client: Any, first: float = RECONNECT_BACKOFF_S, cap: float = RECONNECT_BACKOFF_MAX_S) -> None:
    """Give an aiokafka producer, consumer or admin client an exponential, capped reconnect backoff."""
    inner = client.client if hasattr(client, "client") else client._client  # producer / consumer, admin
    dial: Callable[..., Awaitable[Any]] = inner._get_conn
    failures: dict[tuple[Any, Any], tuple[int, float]] = {}

    async def get_conn(node_id: Any, *, group: Any = 0, no_hint: bool = False) -> Any:
        key = (node_id, group)
        failed = failures.get(key)
        if failed is not None and (wait := failed[1] - time.monotonic()) > 0:
            # The caller waits out the backoff instead of hearing "no connection" at once: some of
            # aiokafka's loops (the producer's sender) retry a failed dial without pausing and would
            # spin a core for the whole outage (tests/e2e/operations/test_faults.py caught it).
            await asyncio.sleep(wait)
        conn = await dial(node_id, group=group, no_hint=no_hint)
        if conn is None:
            count = failed[0] + 1 if failed is not None else 1
            delay = min(cap, first * 2 ** (count - 1)) * random.uniform(0.8, 1.2)  # noqa: S311 - jitter
            failures[key] = (count, time.monotonic() + delay)
        else:
            failures.pop(key, None)
        return conn

    inner._get_conn = get_conn
