"""Verification of Kutamo session tokens with the identity service's published keys.

As the identity service checks Microsoft's tokens: ES256 only, the key by `kid`, audience `kutamo`,
the issuer exactly the identity service's (its PUBLIC_BASE_URL), and expiry/not-before/issued-at with
the same small clock skew (CLOCK_SKEW_SECONDS, 120 s by default).
"""

import asyncio
import time
from typing import Any

import httpx
import jwt

from kutamo_provisioning.errors import ApiError

_MIN_REFRESH_SECONDS = 30.0


class SessionVerifier:
    def __init__(self, http: httpx.AsyncClient, identity_base_url: str, issuer: str, skew_seconds: int) -> None:
        self._http = http
        self._jwks_url = identity_base_url.rstrip("/") + "/.well-known/jwks.json"
        self._issuer = issuer
        self._skew = skew_seconds
        self._keys: dict[str, Any] = {}
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    async def verify(self, authorization: str | None) -> dict[str, Any]:
        """Claims of a valid `Bearer <session token>`; ApiError 401 otherwise."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise ApiError(401, "session_required", "Send a Kutamo session token as 'Authorization: Bearer <token>'.")
        token = authorization[7:].strip()
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = await self._key(str(kid))
            if key is None:
                raise ApiError(401, "session_invalid", "The session token is not signed by Kutamo; sign in again.")
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["ES256"],
                audience="kutamo",
                issuer=self._issuer,
                leeway=self._skew,
                options={"require": ["iss", "aud", "sub", "exp", "iat", "tenant_id"]},
            )
        except jwt.ExpiredSignatureError:
            raise ApiError(401, "session_expired", "The session has expired; sign in again.") from None
        except jwt.PyJWTError:
            raise ApiError(401, "session_invalid", "The session token is not valid; sign in again.") from None
        return claims

    async def _key(self, kid: str) -> Any | None:
        async with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched > _MIN_REFRESH_SECONDS:
                self._fetched = time.monotonic()
                try:
                    response = await self._http.get(self._jwks_url)
                    response.raise_for_status()
                    jwks = jwt.PyJWKSet.from_dict(response.json())
                    self._keys = {k.key_id: k.key for k in jwks.keys if k.key_id}
                except (httpx.HTTPError, jwt.PyJWTError, ValueError):
                    raise ApiError(
                        503, "identity_unavailable", "Session keys cannot be fetched; try again shortly."
                    ) from None
            return self._keys.get(kid)
