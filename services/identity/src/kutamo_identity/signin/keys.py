"""Microsoft's signing keys per directory: discovery, a cache by kid, rate-limited refresh.

Following Microsoft's guidance: keys are cached per directory, refreshed when older than a TTL,
refreshed at once on an unknown kid but at most once per `min_refresh` (a flood of random kids never
becomes a flood of requests to Microsoft), and the last known good keys are kept when Microsoft fails.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from kutamo_identity.errors import SignInRefused
from kutamo_identity.seams import Clock
from kutamo_identity.signin.refusals import refuse

log = logging.getLogger(__name__)


class Discovery(msgspec.Struct, frozen=True):
    issuer: str
    jwks_uri: str


class _Directory(msgspec.Struct):
    issuer: str
    keys: dict[str, rsa.RSAPublicKey]
    fetched_at: datetime
    attempted_at: datetime


class SigningKeys:
    def __init__(
        self,
        http: httpx.AsyncClient,
        login_base_url: str,
        clock: Clock,
        *,
        ttl: timedelta = timedelta(hours=6),
        min_refresh: timedelta = timedelta(minutes=5),
        on_refresh: Callable[[bool], None] = lambda ok: None,
    ) -> None:
        self._http = http
        self._base = login_base_url.rstrip("/")
        self._clock = clock
        self._ttl = ttl
        self._min_refresh = min_refresh
        self._on_refresh = on_refresh
        self._dirs: dict[str, _Directory] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def lookup(self, tid: str, kid: str) -> tuple[rsa.RSAPublicKey | None, str]:
        """The public key for kid in this directory (None when Microsoft does not publish it), and the
        directory's exact v2 issuer from its discovery document."""
        current = self._dirs.get(tid)
        # The hot path: a known kid of a fresh directory needs neither the lock nor the network.
        if current is None or kid not in current.keys or self._clock() - current.fetched_at >= self._ttl:
            current = await self._directory(tid, want_kid=kid)
        return current.keys.get(kid), current.issuer

    async def refresh_all(self) -> None:
        """Refresh every directory seen so far whose keys are older than the TTL (the background job)."""
        for tid in list(self._dirs):
            try:
                await self._directory(tid, want_kid=None)
            except SignInRefused:
                continue  # logged in _refresh; the last known good keys stay

    async def keep_fresh(self, interval_seconds: float) -> None:
        """Run refresh_all forever, every interval (cancel to stop)."""
        while True:
            await asyncio.sleep(interval_seconds)
            await self.refresh_all()

    async def _directory(self, tid: str, want_kid: str | None) -> _Directory:
        async with self._locks.setdefault(tid, asyncio.Lock()):
            now = self._clock()
            current = self._dirs.get(tid)
            if current is None or self._needs_refresh(current, want_kid, now):
                current = await self._refresh(tid, current, now)
            return current

    def _needs_refresh(self, current: _Directory, want_kid: str | None, now: datetime) -> bool:
        if now - current.attempted_at < self._min_refresh:
            return False
        stale = now - current.fetched_at >= self._ttl
        return stale or (want_kid is not None and want_kid not in current.keys)

    async def _refresh(self, tid: str, current: _Directory | None, now: datetime) -> _Directory:
        if current is not None:
            current.attempted_at = now
        try:
            discovery = await self._fetch_discovery(tid)
            keys = await self._fetch_keys(discovery.jwks_uri)
        except (httpx.HTTPError, msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
            log.warning("signing key refresh failed", extra={"tid": tid, "error": type(exc).__name__})
            self._on_refresh(False)
            if current is not None:
                return current  # last known good
            raise refuse("microsoft_unavailable") from exc
        fresh = _Directory(issuer=discovery.issuer, keys=keys, fetched_at=now, attempted_at=now)
        self._dirs[tid] = fresh
        log.info("signing keys refreshed", extra={"tid": tid, "keys": len(keys)})
        self._on_refresh(True)
        return fresh

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
