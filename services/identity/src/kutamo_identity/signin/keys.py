"""Microsoft's signing keys per directory: discovery, a cache by kid, rate-limited refresh.

Following Microsoft's guidance: keys are cached per directory, refreshed when older than a TTL,
refreshed at once on an unknown kid but at most once per `min_refresh` (a flood of random kids never
becomes a flood of requests to Microsoft), and the last known good keys are kept when Microsoft fails.
Resource bounds (issue 13): a directory whose fetch failed waits `min_refresh`, doubling per further
failure up to `max_backoff`, whether or not it ever had keys (a negative cache); fetches across all
directories are limited per second; the cache holds at most `max_directories`, least recently used
out first; and only directories being fetched right now have a lock-like entry.
"""

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from kutamo_identity.errors import SignInRefused
from kutamo_identity.signin.refusals import refuse
from kutamo_kit.seams import Clock

log = logging.getLogger(__name__)


class Discovery(msgspec.Struct, frozen=True):
    issuer: str
    jwks_uri: str


class _Keys(msgspec.Struct, frozen=True):
    """A directory's last known good keys."""

    issuer: str
    keys: dict[str, rsa.RSAPublicKey]
    fetched_at: datetime


class _Directory(msgspec.Struct):
    known: _Keys | None
    not_before: datetime
    """No fetch for this directory before this time: `min_refresh` after any attempt, more after failures."""
    failures: int = 0


class FetchBudget:
    """A token bucket on the clock seam: at most `per_second` fetches a second, in bursts of as many."""

    def __init__(self, per_second: float, now: datetime) -> None:
        self._rate = per_second
        self._tokens = per_second
        self._updated = now

    def _refill(self, now: datetime) -> None:
        elapsed = max(0.0, (now - self._updated).total_seconds())
        self._tokens = min(self._rate, self._tokens + elapsed * self._rate)
        self._updated = now

    def take(self, now: datetime) -> bool:
        self._refill(now)
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def seconds_until_next(self, now: datetime) -> float:
        self._refill(now)
        return max(0.0, (1 - self._tokens) / self._rate)


class SigningKeys:
    def __init__(
        self,
        http: httpx.AsyncClient,
        login_base_url: str,
        clock: Clock,
        *,
        ttl: timedelta = timedelta(hours=6),
        min_refresh: timedelta = timedelta(minutes=5),
        max_backoff: timedelta = timedelta(hours=1),
        max_fetches_per_second: float = 10,
        max_directories: int = 10_000,
        on_refresh: Callable[[bool], None] = lambda ok: None,
    ) -> None:
        self._http = http
        self._base = login_base_url.rstrip("/")
        self._clock = clock
        self._ttl = ttl
        self._min_refresh = min_refresh
        self._max_backoff = max(min_refresh, max_backoff)
        self._budget = FetchBudget(max_fetches_per_second, clock())
        self._max_directories = max_directories
        self._on_refresh = on_refresh
        self._dirs: OrderedDict[str, _Directory] = OrderedDict()
        self._in_flight: dict[str, asyncio.Event] = {}

    @property
    def cached_directories(self) -> int:
        return len(self._dirs)

    @property
    def fetches_in_flight(self) -> int:
        return len(self._in_flight)

    async def lookup(self, tid: str, kid: str) -> tuple[rsa.RSAPublicKey | None, str]:
        """The public key for kid in this directory (None when Microsoft does not publish it), and the
        directory's exact v2 issuer from its discovery document."""
        entry = self._dirs.get(tid)
        known = entry.known if entry is not None else None
        # The hot path: a known kid of a fresh directory needs neither a wait nor the network.
        if known is None or kid not in known.keys or self._clock() - known.fetched_at >= self._ttl:
            known = await self._directory(tid, want_kid=kid)
        else:
            self._dirs.move_to_end(tid)
        return known.keys.get(kid), known.issuer

    async def refresh_all(self) -> None:
        """Refresh every cached directory whose keys are older than the TTL (the background job),
        pacing itself to the fetch budget so requests are not starved of it."""
        for tid in list(self._dirs):
            entry = self._dirs.get(tid)
            if entry is None or entry.known is None or not self._due(entry, None, self._clock()):
                continue
            await asyncio.sleep(self._budget.seconds_until_next(self._clock()))
            try:
                await self._directory(tid, want_kid=None)
            except SignInRefused:
                continue  # logged in _refresh; the last known good keys stay

    async def keep_fresh(self, interval_seconds: float) -> None:
        """Run refresh_all forever, every interval (cancel to stop)."""
        while True:
            await asyncio.sleep(interval_seconds)
            await self.refresh_all()

    async def _directory(self, tid: str, want_kid: str | None) -> _Keys:
        # One fetch per directory at a time: later callers wait for it, then look again.
        while (flight := self._in_flight.get(tid)) is not None:
            await flight.wait()
        now = self._clock()
        entry = self._dirs.get(tid)
        if entry is not None:
            self._dirs.move_to_end(tid)
        if (entry is None or self._due(entry, want_kid, now)) and self._budget.take(now):
            flight = self._in_flight[tid] = asyncio.Event()
            try:
                entry = await self._refresh(tid, entry, now)
            finally:
                del self._in_flight[tid]
                flight.set()
        if entry is None or entry.known is None:
            raise refuse("microsoft_unavailable")
        return entry.known

    def _due(self, entry: _Directory, want_kid: str | None, now: datetime) -> bool:
        if now < entry.not_before:
            return False
        if entry.known is None:
            return True
        stale = now - entry.known.fetched_at >= self._ttl
        return stale or (want_kid is not None and want_kid not in entry.known.keys)

    async def _refresh(self, tid: str, entry: _Directory | None, now: datetime) -> _Directory:
        try:
            discovery = await self._fetch_discovery(tid)
            keys = await self._fetch_keys(discovery.jwks_uri)
        except (httpx.HTTPError, msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
            log.warning("signing key refresh failed", extra={"tid": tid, "error": type(exc).__name__})
            self._on_refresh(False)
            failures = (entry.failures if entry is not None else 0) + 1
            backoff = min(self._min_refresh * 2 ** (failures - 1), self._max_backoff)
            known = entry.known if entry is not None else None  # last known good
            return self._store(tid, _Directory(known=known, not_before=now + backoff, failures=failures))
        log.info("signing keys refreshed", extra={"tid": tid, "keys": len(keys)})
        self._on_refresh(True)
        fresh = _Keys(issuer=discovery.issuer, keys=keys, fetched_at=now)
        return self._store(tid, _Directory(known=fresh, not_before=now + self._min_refresh))

    def _store(self, tid: str, entry: _Directory) -> _Directory:
        self._dirs[tid] = entry
        self._dirs.move_to_end(tid)
        while len(self._dirs) > self._max_directories:
            self._dirs.popitem(last=False)
        return entry

    async def _fetch_discovery(self, tid: str) -> Discovery:
        url = f"{self._base}/{tid}/v2.0/.well-known/openid-configuration"
        response = await self._http.get(url)
        response.raise_for_status()
        doc = msgspec.json.decode(response.content, type=Discovery)
        return Discovery(issuer=doc.issuer.replace("{tenantid}", tid), jwks_uri=doc.jwks_uri)

    async def _fetch_keys(self, jwks_uri: str) -> dict[str, Any]:
        response = await self._http.get(jwks_uri)
        response.raise_for_status()
        keys: dict[str, rsa.RSAPublicKey] = {}
        for jwk in msgspec.json.decode(response.content, type=dict[str, list[dict[str, Any]]]).get("keys", []):
            # Key sets may hold keys we cannot use (other types, encryption keys): skip them, never fail.
            if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig" or not jwk.get("kid"):
                continue
            try:
                key = RSAAlgorithm.from_jwk(jwk)
            except (jwt.InvalidKeyError, ValueError, KeyError):
                continue
            if isinstance(key, rsa.RSAPublicKey):
                keys[str(jwk["kid"])] = key
        return keys
