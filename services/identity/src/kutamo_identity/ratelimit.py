"""Per-client rate limits on the public endpoints: a token bucket per client address, in memory.

Each process keeps its own buckets, so N instances behind a load balancer let a client through up to
N times the limit; a shared limit (at the load balancer or in a store) is the deployment's choice.
The client is the connection's peer address, or the address uvicorn takes from `X-Forwarded-For`
when the peer is one of FORWARDED_ALLOW_IPS (127.0.0.1 by default): behind a proxy, set that, or
every client is the proxy. At most `max_clients` buckets are kept; the least recently seen goes first.
"""

import math
from collections import OrderedDict
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from kutamo_identity.errors import TooManyRequests
from kutamo_kit.seams import Clock


class _Bucket(msgspec.Struct):
    tokens: float
    updated: float


class ClientRateLimiter:
    def __init__(self, per_minute: int, clock: Clock, *, max_clients: int = 100_000) -> None:
        self._capacity = float(per_minute)
        self._per_second = per_minute / 60
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, client: str) -> int | None:
        """None when the client may go ahead; otherwise the whole seconds until it may (Retry-After)."""
        now = self._clock().timestamp()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = _Bucket(tokens=self._capacity, updated=now)
            while len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
            bucket.tokens = min(self._capacity, bucket.tokens + max(0.0, now - bucket.updated) * self._per_second)
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return max(1, math.ceil(round((1 - bucket.tokens) / self._per_second, 6)))

    @property
    def clients(self) -> int:
        return len(self._buckets)


async def rate_limit(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """The public routes' limit: 429 `rate_limited` with Retry-After once a client exceeds it. A controller's
    `before_request` (it runs before the body is read, as a guard does, without the copy of the route handler
    Litestar makes for every guard call: ~15 us a sign-in). A coroutine, though it never waits: Litestar runs
    a plain function in a thread, per request."""
    limiter: ClientRateLimiter = connection.app.state.rate_limiter
    client = connection.client.host if connection.client else "unknown"
    wait = limiter.take(client)
    if wait is not None:
        raise TooManyRequests(wait)


async def rate_limited(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The same limit as a guard, for a single route of a controller that has others."""
    await rate_limit(connection)
